"""The verifier's two ways of failing.

:class:`VerifierReject` is the verdict "this program is unsafe": it carries the kernel's last
error line (``diagnostic``) and, like the kernel, an errno. :class:`VerifierBug` means one of
bpfvm's own invariants broke (the kernel's ``verifier_bug()``); tests treat it as a failure of
bpfvm, never as a verdict on the program.
"""

from __future__ import annotations

import errno as _errno

from bpfvm.errors import BpfvmError


class VerifierReject(BpfvmError):
    """The program is rejected; ``diagnostic`` is the kernel's message (one line)."""

    def __init__(
        self, diagnostic: str, errno: int = _errno.EACCES, trailer: str = "", newline: bool = True
    ) -> None:
        super().__init__(diagnostic)
        self.diagnostic = diagnostic
        self.errno = errno
        self.trailer = trailer  # log lines the kernel prints after the message
        self.newline = newline  # False: the kernel prints the message without its newline


class VerifierBug(Exception):
    """An internal invariant of the verifier broke (not a verdict on the program)."""


def reject(diagnostic: str, errno: int = _errno.EACCES, newline: bool = True) -> VerifierReject:
    """Build a :class:`VerifierReject` (``raise reject(...)`` reads like the kernel's verbose);
    ``newline=False`` for the few messages the kernel prints without one (the statistics line
    then runs into them)."""
    return VerifierReject(diagnostic, errno, newline=newline)


EINVAL = _errno.EINVAL
EACCES = _errno.EACCES
E2BIG = _errno.E2BIG
EFAULT = _errno.EFAULT
ENOTSUPP = 524
EOPNOTSUPP = _errno.EOPNOTSUPP
