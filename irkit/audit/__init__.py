"""Kubernetes audit events from where clusters keep them: kube-apiserver log files, EKS
CloudWatch Logs. Sources yield parsed events; ``filter`` keeps those about the incident."""
