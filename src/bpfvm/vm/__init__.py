"""Execution engines: the reference interpreter (and, later, the JIT)."""
