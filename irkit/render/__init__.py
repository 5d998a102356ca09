"""Documents from what irkit recorded: data in, text out (the RCA draft, later the drill report).

Nothing here talks to a cluster or a cloud: it reads journals and bundle manifests from disk and
renders them with sandboxed Jinja2 templates.
"""
