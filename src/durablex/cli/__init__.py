"""The ``durablex`` command line."""
