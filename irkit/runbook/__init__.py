"""YAML runbooks: the format (``model``), loading with file:line errors (``loader``),
sandboxed templates (``templating``) and the JSON Schema editors use (``schema``)."""
