"""``python -m irkit``: the same as the ``irkit`` command."""

from irkit.cli.app import main

main()
