"""Plain domain types shared by the simulator and the real-cluster code: no I/O here."""
