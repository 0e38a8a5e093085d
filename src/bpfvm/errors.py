"""Exception hierarchy shared by every stage.

Every error a user can provoke with bad input is a :class:`BpfvmError` whose ``str()`` is one
line, in the kernel's words where the kernel has them. The CLI prints that line and exits 1;
anything else escaping is a bug in bpfvm.
"""

from __future__ import annotations


class BpfvmError(Exception):
    """Base class of all user-facing errors."""


class EncodingError(BpfvmError):
    """Malformed bytecode: the instruction at ``idx`` cannot be decoded or is invalid."""

    def __init__(self, idx: int, message: str) -> None:
        super().__init__(f"insn {idx}: {message}")
        self.idx = idx
        self.kernel_message = message


class AsmError(BpfvmError):
    """Assembly text that does not parse; carries a 1-based line and column."""

    def __init__(self, line: int, col: int, message: str, source: str = "<asm>") -> None:
        super().__init__(f"{source}:{line}:{col}: {message}")
        self.line = line
        self.col = col
        self.reason = message


class VmFault(BpfvmError):
    """A program misbehaved at run time (stray memory access, bad call, ...)."""

    def __init__(self, pc: int, message: str) -> None:
        super().__init__(f"fault at pc {pc}: {message}")
        self.pc = pc
        self.reason = message


class InputError(BpfvmError):
    """Unusable input to a command (missing file, bad hex, unknown option value)."""
