"""The fixup stage's error: the kernel's words, and the pass that failed."""

from __future__ import annotations

from bpfvm.errors import BpfvmError

EINVAL = 22
ERANGE = 34
EFAULT = 14
E2BIG = 7
ENOTSUPP = 524
EACCES = 13


class FixupError(BpfvmError):
    """A rewrite the kernel refuses (the load fails): ``message`` is the verifier log line."""

    def __init__(self, message: str, errno: int = EINVAL, pass_name: str = "") -> None:
        self.message = message
        self.errno = errno
        self.pass_name = pass_name
        where = f"fixup pass {pass_name}: " if pass_name else ""
        super().__init__(where + message)

    def in_pass(self, name: str) -> FixupError:
        """The same error, naming the pass it escaped from."""
        return FixupError(self.message, self.errno, self.pass_name or name)
