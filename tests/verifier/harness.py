"""Measuring a verifier against the kernel's pinned verdicts.

    from tests.verifier.harness import compare, load_corpus
    report = compare(bpfvm.verifier.verify, load_corpus("cases"))
    assert not report.false_accepts, report.format()

:func:`load_corpus` gives the programs of one corpus (``objects``: examples and ebpf-samples,
``cases``: the hand-written ``cases/*.s``, ``generated``: the seeded random programs) with the
kernel's record for each. :func:`compare` runs ``verify_fn(program)`` on each and counts:

* **verdict agreement**: accepted/rejected equal to the kernel's, over every program the
  kernel judged (``unavailable`` ones are left out);
* **false accepts**: the kernel rejects, ``verify_fn`` accepts (the dangerous kind), listed
  with the kernel's error line; false rejects are listed too;
* **error-line agreement** where both reject (the whole line, exactly);
* **processed_insns equality** where both accept.

``verify_fn`` returns anything with ``accepted``, ``error`` and ``processed_insns`` attributes
(``bpfvm.verifier.VerifierResult``); an exception it raises is counted as a crash (and as a
disagreement), never propagated; so is a run longer than ``timeout`` seconds (``SIGALRM``,
main thread only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from bpfvm.btf import Btf, BtfKind
from bpfvm.kernel.loader import ObjectExtras, func_info_records
from bpfvm.program.model import FuncInfo, Program

VerifyFn = Callable[[Any], Any]


@dataclass(frozen=True)
class CorpusItem:
    key: str
    program: Program
    kernel: dict[str, Any]  # the pinned record (status, errno, error, processed_insns, ...)
    extras: ObjectExtras | None = None  # what the kernel load got beyond the Program

    def _pairs(self) -> list[tuple[int, int]] | None:
        btf, extras = self.program.btf, self.extras
        if btf is None or extras is None:
            return None
        pairs = extras.func_info
        if pairs is None and extras.btf_ext is not None:
            pairs = func_info_records(self.program, extras.btf_ext)
        return None if pairs is None else [(int(a), int(b)) for a, b in pairs]

    def func_info(self) -> list[tuple[int, int, str]] | None:
        """(slot, BTF FUNC id, "static"/"global") per subprogram, as the kernel got them;
        None when the load passed no func_info (all subprograms are then static)."""
        pairs, btf = self._pairs(), self.program.btf
        if pairs is None or btf is None:
            return None
        hidden = self.extras.static_funcs if self.extras is not None else frozenset()
        names = {0: "static", 1: "global"}
        out = []
        for slot, tid in pairs:
            linkage = names.get(int(btf[tid].linkage), "extern")
            out.append((slot, tid, "static" if btf[tid].name in hidden else linkage))
        return out

    def kernel_program(self) -> Program:
        """The program as the kernel got it: ``func_info`` and BTF FUNC linkage from the load
        (:meth:`func_info`; hidden global functions made static as libbpf does), no
        ``func_info`` when the load passed none."""
        pairs, btf = self._pairs(), self.program.btf
        if pairs is None or btf is None:
            return (
                dataclasses.replace(self.program, func_info=())
                if self.program.func_info
                else self.program
            )
        hidden = self.extras.static_funcs if self.extras is not None else frozenset()
        if any(btf[tid].name in hidden and int(btf[tid].linkage) != 0 for _, tid in pairs):
            btf = _static_funcs_btf(btf, hidden)
        infos = tuple(FuncInfo(slot, tid) for slot, tid in pairs)
        if infos == self.program.func_info and btf is self.program.btf:
            return self.program
        return dataclasses.replace(self.program, func_info=infos, btf=btf)


def _static_funcs_btf(btf: Any, hidden: frozenset[str]) -> Any:
    """``btf`` with the FUNCs named in ``hidden`` made static (libbpf's BTF sanitising)."""

    from bpfvm.kernel.loader import _RawBtf

    raw = _RawBtf(btf.data)
    for tid in range(1, len(raw.offsets)):
        kind, _ = raw.kind(tid)
        if kind == BtfKind.FUNC and raw.name(tid) in hidden:
            raw.set_vlen(tid, 0)
    return Btf.parse(bytes(raw.data))


@dataclass(frozen=True)
class Mismatch:
    key: str
    kernel: str  # the kernel's verdict or error line
    ours: str


@dataclass
class Report:
    corpus: str
    total: int = 0  # programs in the corpus
    judged: int = 0  # the kernel gave a verdict (not unavailable)
    verdict_equal: int = 0
    both_reject: int = 0
    error_equal: int = 0
    both_accept: int = 0
    processed_equal: int = 0
    false_accepts: list[Mismatch] = field(default_factory=list)
    false_rejects: list[Mismatch] = field(default_factory=list)
    error_mismatches: list[Mismatch] = field(default_factory=list)
    processed_mismatches: list[Mismatch] = field(default_factory=list)
    crashes: list[Mismatch] = field(default_factory=list)

    @staticmethod
    def _pct(n: int, d: int) -> float:
        return 100.0 * n / d if d else 100.0

    @property
    def verdict_agreement(self) -> float:
        return self._pct(self.verdict_equal, self.judged)

    @property
    def error_agreement(self) -> float:
        return self._pct(self.error_equal, self.both_reject)

    @property
    def processed_agreement(self) -> float:
        return self._pct(self.processed_equal, self.both_accept)

    def format(self, limit: int = 20) -> str:
        lines = [
            f"{self.corpus}: {self.judged} judged by the kernel ({self.total - self.judged} "
            "unavailable)",
            f"  verdict agreement     {self.verdict_agreement:6.2f}% "
            f"({self.verdict_equal}/{self.judged})",
            f"  FALSE ACCEPTS         {len(self.false_accepts)}",
            f"  false rejects         {len(self.false_rejects)}",
            f"  error-line agreement  {self.error_agreement:6.2f}% "
            f"({self.error_equal}/{self.both_reject} both rejecting)",
            f"  processed_insns equal {self.processed_agreement:6.2f}% "
            f"({self.processed_equal}/{self.both_accept} both accepting)",
        ]
        if self.crashes:
            lines.append(f"  crashes               {len(self.crashes)}")
        for title, items in (
            ("false accepts (kernel error | ours)", self.false_accepts),
            ("crashes", self.crashes),
            ("false rejects (kernel | our error)", self.false_rejects),
            ("error lines (kernel | ours)", self.error_mismatches),
            ("processed_insns (kernel | ours)", self.processed_mismatches),
        ):
            if items:
                lines.append(f"  {title}:")
                lines += [f"    {m.key}: {m.kernel} | {m.ours}" for m in items[:limit]]
                if len(items) > limit:
                    lines.append(f"    ... {len(items) - limit} more")
        return "\n".join(lines)


class VerifyTimeout(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    if not seconds:
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise VerifyTimeout(f"no verdict in {seconds:g}s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def compare(
    verify_fn: VerifyFn,
    corpus: Iterable[CorpusItem],
    name: str = "",
    *,
    timeout: float | None = None,
    progress: Callable[[CorpusItem], None] | None = None,
    with_item: bool = False,
) -> Report:
    """Run ``verify_fn`` over ``corpus`` and compare with the kernel (see the module doc).

    ``verify_fn`` gets the :class:`Program` as the kernel got it
    (:meth:`CorpusItem.kernel_program`: func_info and BTF from the load), or the whole
    :class:`CorpusItem` with ``with_item`` (for ``item.func_info()``, ``item.extras``).
    """
    report = Report(name)
    for item in corpus:
        report.total += 1
        k = item.kernel
        if k["status"] == "unavailable":
            continue
        report.judged += 1
        k_accept = k["status"] == "accepted"
        if progress is not None:
            progress(item)
        try:
            with _deadline(timeout):
                ours = verify_fn(item if with_item else item.kernel_program())
            accepted = bool(ours.accepted)
            error, processed = ours.error, int(ours.processed_insns)
        except Exception as exc:  # a crash is a result here
            report.crashes.append(Mismatch(item.key, k["status"], f"{type(exc).__name__}: {exc}"))
            continue
        if accepted == k_accept:
            report.verdict_equal += 1
        elif accepted:
            report.false_accepts.append(Mismatch(item.key, str(k["error"]), "accepted"))
        else:
            report.false_rejects.append(Mismatch(item.key, "accepted", str(error)))
        if not accepted and not k_accept:
            report.both_reject += 1
            if error == k["error"]:
                report.error_equal += 1
            else:
                report.error_mismatches.append(Mismatch(item.key, str(k["error"]), str(error)))
        if accepted and k_accept:
            report.both_accept += 1
            if processed == k["processed_insns"]:
                report.processed_equal += 1
            else:
                report.processed_mismatches.append(
                    Mismatch(item.key, str(k["processed_insns"]), str(processed))
                )
    return report


CORPORA = ("objects", "cases", "generated")


def load_corpus(name: str, only: Sequence[str] | None = None) -> list[CorpusItem]:
    """The programs of corpus ``name`` with their pinned kernel records (``only``: keys)."""
    from tests.verifier import pinning

    wanted = set(only) if only is not None else None
    out = []
    if name == "objects":
        from tests.verifier.objects import iter_objects

        pins = pinning.read_pins(pinning.VERDICTS_FILE)["programs"]
        files = {k.split(":", 1)[0] for k in wanted} if wanted is not None else None
        for entry in iter_objects(only=None if files is None else files.__contains__):
            if entry.key in pins and (wanted is None or entry.key in wanted):
                out.append(CorpusItem(entry.key, entry.program, pins[entry.key], entry.extras))
    elif name == "cases":
        from tests.verifier.cases import load_cases

        pins = pinning.read_pins(pinning.CASES_FILE)["cases"]
        for case in load_cases():
            if case.name in pins and (wanted is None or case.name in wanted):
                out.append(CorpusItem(case.name, case.program, pins[case.name], case.extras))
    elif name == "generated":
        from tests.verifier.generate import generate

        pins = pinning.read_pins(pinning.GENERATED_FILE)["results"]
        for key, rec in pins.items():
            if wanted is None or key in wanted:
                out.append(CorpusItem(key, generate(int(key)).program, rec))
    else:
        raise ValueError(f"unknown corpus {name!r} (one of {', '.join(CORPORA)})")
    return out
