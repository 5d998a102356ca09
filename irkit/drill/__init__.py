"""``irkit drill``: a runbook rehearsed against a scenario (simulated or live), and scored."""
