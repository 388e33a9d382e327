"""``python -m durablex``: the ``durablex`` command."""

from durablex.cli.main import main

main()
