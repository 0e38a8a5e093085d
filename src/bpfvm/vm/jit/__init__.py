"""The JIT: eBPF programs lowered to LLVM IR (:mod:`.lower`, pure Python) and compiled to
native code (:mod:`.engine`, the only module binding LLVM). Import :mod:`.engine` for
:class:`~bpfvm.vm.jit.engine.JitEngine`; importing this package does not load LLVM."""
