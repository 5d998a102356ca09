"""``irkit serve``: the webhook receiver that turns Alertmanager and Falco alerts into runbook runs."""
