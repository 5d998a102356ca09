"""Durable job queues for ``irkit serve``: the Queue port, SQLite (embedded) and PostgreSQL."""
