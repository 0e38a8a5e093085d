"""bpfvm: the Linux eBPF pipeline (load, verify, fix up, run, attach) in userspace."""

__version__ = "0.1.0"
