"""Contract tests: API-server semantics of ``irkit.sim``, proven through the official client."""
