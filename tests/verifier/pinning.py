"""Asking the kernel about the three verifier corpora, and the pinned files that keep its answers.

* ``kernel_verdicts.json``: every program of the object corpus (:mod:`tests.verifier.objects`),
  loaded with ``log_level=1``: status, errno, error line, processed_insns, insn_count, the
  program type used; plus the programs bpfvm's ELF loader could not link (``broken``).
* ``cases.json``: every ``cases/*.s`` (:mod:`tests.verifier.cases`): the same fields from a
  ``log_level=1`` load, and the full ``log_level=2`` log of a second load (normalised:
  kernel addresses and map ids vary between loads; a log over :data:`LOG_CAP` bytes keeps its
  head and tail). ``level2_same`` records that the level-2 load gave the same verdict and
  processed_insns (the log level changes neither).
* ``generated.json``: the results for :func:`tests.verifier.generate.generate` of each seed,
  with the program's digest.

A record's ``status`` is ``accepted``, ``rejected`` or ``unavailable`` (the kernel could not be
asked: see :class:`bpfvm.kernel.loader.KernelVerdict`); unavailable records carry the reason
and count for no corpus.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bpfvm.kernel.loader import KernelVerdict, load_program
from bpfvm.program.uapi import ProgType
from tests.verifier.cases import Case, load_cases
from tests.verifier.generate import generate, seeds
from tests.verifier.objects import iter_objects, prog_type_choices

HERE = Path(__file__).resolve().parent
VERDICTS_FILE = HERE / "kernel_verdicts.json"
CASES_FILE = HERE / "cases.json"
GENERATED_FILE = HERE / "generated.json"
LOG_CAP = 256 << 10
LEVEL2_LOG_SIZE = 16 << 20
COMPARED = ("status", "errno", "error", "processed_insns", "insn_count", "prog_type")

_KADDR = re.compile(r"0xffff[89a-e][0-9a-f]{11}\b")
_MAP_ID = re.compile(r"map\[id:\d+\]")


def normalize_log(log: str) -> str:
    """A log with its per-load details (kernel addresses, map ids) replaced by placeholders."""
    return _MAP_ID.sub("map[id:N]", _KADDR.sub("0xKADDR", log))


def cap_log(log: str) -> str:
    if len(log) <= LOG_CAP:
        return log
    head, tail = log[: LOG_CAP // 4], log[-(3 * LOG_CAP // 4) :]
    head, tail = head[: head.rfind("\n") + 1], tail[tail.find("\n") + 1 :]
    cut = len(log) - len(head) - len(tail)
    return f"{head}[... {cut} bytes of the log cut ...]\n{tail}"


def record(v: KernelVerdict, prog_type: ProgType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prog_type": prog_type.name.lower(),
        "status": v.status,
        "errno": v.errno,
        "error": v.error,
        "processed_insns": v.processed_insns,
        "insn_count": v.insn_count,
    }
    if v.unavailable is not None:
        out["unavailable"] = v.unavailable
    if v.notes:
        out["notes"] = list(v.notes)
    return out


def kernel_info() -> dict[str, Any]:
    return {
        "about": "kernel verifier verdicts pinned by scripts/pin_verifier.py; see README.md",
        "kernel": platform.release(),
        "machine": platform.machine(),
        "log_level": 1,
    }


# --- pinning ---------------------------------------------------------------------------


def pin_objects(progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    broken: dict[str, str] = {}
    programs = {}
    for entry in iter_objects(broken):
        v = load_program(entry.program, extras=entry.extras)
        programs[entry.key] = record(v, entry.program.prog_type)
        if progress:
            progress(entry.key)
    return {
        **kernel_info(),
        "prog_type_choices": prog_type_choices(),
        "programs": programs,
        "broken": dict(sorted(broken.items())),
    }


def pin_case(case: Case) -> dict[str, Any]:
    v1 = load_program(case.program, extras=case.extras)
    v2 = load_program(case.program, extras=case.extras, log_level=2,
                      log_size=LEVEL2_LOG_SIZE, grow_log=False)  # fmt: skip
    rec = record(v1, case.program.prog_type)
    truncated = v2.errno == 28 and v1.errno != 28  # ENOSPC: the level-2 log kept its tail
    rec["level2_same"] = truncated or (
        v2.status == v1.status and v2.processed_insns == v1.processed_insns
    )
    if truncated:
        rec["level2_log_truncated"] = True
    rec["log"] = cap_log(normalize_log(v2.log))
    return rec


def pin_cases(cases: Iterable[Case] | None = None) -> dict[str, Any]:
    out = {c.name: pin_case(c) for c in (load_cases() if cases is None else cases)}
    return {**kernel_info(), "cases": out}


def pin_generated_seed(seed: int) -> dict[str, Any]:
    g = generate(seed)
    rec = record(load_program(g.program), g.program.prog_type)
    rec["digest"] = g.digest
    return rec


def pin_generated(seed_list: Iterable[int] | None = None) -> dict[str, Any]:
    results = {str(s): pin_generated_seed(s) for s in (seed_list or seeds())}
    return {**kernel_info(), "results": results}


# --- pinned files ----------------------------------------------------------------------


def read_pins(path: Path) -> dict[str, Any]:
    with path.open() as f:
        data: dict[str, Any] = json.load(f)
    return data


def write_pins(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


def diff_records(old: dict[str, Any], new: dict[str, Any], with_log: bool = False) -> list[str]:
    """Fields of two records that differ (the compared fields, and the log if asked)."""
    fields = COMPARED + (("log",) if with_log else ())
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in fields if old.get(k) != new.get(k)]
