"""``irkit serve``: the webhook receiver that turns alerts into runbook runs."""
