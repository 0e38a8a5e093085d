"""bpfvm's level-2 verifier log against the kernel's pinned one (the cases corpus).

``tests/verifier/cases.json`` holds the kernel's whole ``log_level=2`` log per case, normalised
(:func:`tests.verifier.pinning.normalize_log`) and capped (:func:`~tests.verifier.pinning.cap_log`).
:func:`log_difference` renders bpfvm's log the same way: a log longer than the pinning load's
buffer (``LEVEL2_LOG_SIZE``) keeps its last ``LEVEL2_LOG_SIZE - 1`` bytes, as the kernel's
rotating log does, then it is normalised and capped.
"""

from __future__ import annotations

from tests.verifier.harness import CorpusItem
from tests.verifier.pinning import LEVEL2_LOG_SIZE, cap_log, normalize_log


def rendered_log(item: CorpusItem) -> str:
    """bpfvm's level-2 log of ``item`` as the pinning would have stored it."""
    from bpfvm.verifier import verify

    raw = verify(item.kernel_program(), log_level=2).log.encode()
    if len(raw) >= LEVEL2_LOG_SIZE:  # the kernel's rotating log keeps the tail
        raw = raw[-(LEVEL2_LOG_SIZE - 1) :]
    return cap_log(normalize_log(raw.decode(errors="replace")))


def log_difference(item: CorpusItem) -> tuple[int, str, str] | None:
    """None when bpfvm's level-2 log equals the pinned one, else (line number, kernel's line,
    bpfvm's line) of the first difference (``<end>`` past the last line)."""
    ours, theirs = rendered_log(item), str(item.kernel.get("log", ""))
    if ours == theirs:
        return None
    a, b = theirs.splitlines(), ours.splitlines()
    for n, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return n + 1, x, y
    n = min(len(a), len(b))
    return n + 1, a[n] if n < len(a) else "<end>", b[n] if n < len(b) else "<end>"
