"""The response actions, one module each. They take a ``Cluster`` and plain values, return
results, and never import the Kubernetes client, AWS SDK, typer or rich."""
