#!/usr/bin/env python3
"""Pin the running kernel's verifier verdicts for the verifier corpora (tests/verifier/).

    scripts/pin_verifier.py                       # re-pin all three corpora
    scripts/pin_verifier.py --corpus cases        # objects | cases | generated | all
    scripts/pin_verifier.py --check               # compare with the pinned files, write nothing
    scripts/pin_verifier.py --check --corpus cases --only 'ptr_*'

Needs root (``bpf()``). ``--check`` exits 1 when a verdict, errno, error line,
processed_insns, insn_count or program type differs (level-2 logs of cases too with
``--check-logs``). See tests/verifier/README.md for the files and what they hold.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bpfvm.kernel import KernelUnavailable, kernel_available
from tests.verifier import pinning
from tests.verifier.cases import load_cases
from tests.verifier.generate import seeds


def _summary(name: str, records: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for rec in records.values():
        counts[rec["status"]] = counts.get(rec["status"], 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return f"{name}: {len(records)} programs ({parts})"


def _check(name: str, old: dict[str, Any], new: dict[str, Any], logs: bool) -> int:
    bad = 0
    for key, rec in new.items():
        if key not in old:
            print(f"{name}: {key}: not pinned")
            bad += 1
            continue
        diffs = pinning.diff_records(old[key], rec, with_log=logs)
        if "digest" in rec and old[key].get("digest") != rec["digest"]:
            diffs.append("digest: the generator now makes another program")
        for d in diffs:
            print(f"{name}: {key}: {d}")
        bad += bool(diffs)
    print(f"{name}: {len(new) - bad}/{len(new)} equal to the pins")
    return bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=("objects", "cases", "generated", "all"), default="all")
    ap.add_argument("--check", action="store_true", help="compare with the pins, write nothing")
    ap.add_argument("--check-logs", action="store_true", help="--check the level-2 logs too")
    ap.add_argument("--only", help="glob over case names / object keys / seeds")
    args = ap.parse_args(argv)
    if not kernel_available():
        print("bpf() is not usable here (needs root): nothing pinned", file=sys.stderr)
        return 2
    only = (lambda k: fnmatch.fnmatch(k, args.only)) if args.only else (lambda k: True)
    bad = 0
    todo = ("objects", "cases", "generated") if args.corpus == "all" else (args.corpus,)
    try:
        for corpus in todo:
            start = time.monotonic()
            if corpus == "objects":
                data, path, field = pinning.pin_objects(), pinning.VERDICTS_FILE, "programs"
                data[field] = {k: v for k, v in data[field].items() if only(k)}
            elif corpus == "cases":
                cases = [c for c in load_cases() if only(c.name)]
                data, path, field = pinning.pin_cases(cases), pinning.CASES_FILE, "cases"
            else:
                chosen = [s for s in seeds() if only(str(s))]
                data = pinning.pin_generated(chosen)
                path, field = pinning.GENERATED_FILE, "results"
            took = time.monotonic() - start
            print(f"{_summary(corpus, data[field])} in {took:.1f}s")
            if args.check or args.check_logs:
                old = pinning.read_pins(path)[field]
                bad += _check(corpus, old, data[field], args.check_logs)
            elif args.only:
                merged = pinning.read_pins(path) if path.exists() else data
                merged[field].update(data[field])
                pinning.write_pins(path, merged)
            else:
                pinning.write_pins(path, data)
    except KernelUnavailable as exc:
        print(f"kernel unavailable: {exc}", file=sys.stderr)
        return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
