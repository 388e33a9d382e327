"""The ``durablex`` subcommands, grouped by what they do."""
