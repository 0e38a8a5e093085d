"""The fixup passes, one per module, in the kernel's order (``bpf_check``, SPEC 1.1)."""
