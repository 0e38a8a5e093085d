"""The ``bpfvm`` command line."""
