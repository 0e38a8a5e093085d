#!/usr/bin/env python3
"""How far bpfvm's verifier agrees with the kernel's pinned verdicts (tests/verifier/).

    scripts/verifier_agreement.py                  # all three corpora
    scripts/verifier_agreement.py --corpus cases --limit 50

Prints, per corpus (objects = examples + ebpf-samples, cases, generated): verdict agreement,
the FALSE ACCEPTS (kernel rejects, bpfvm accepts), false rejects, error-line agreement where
both reject and processed_insns equality where both accept. Needs no kernel: it compares with
the pinned results. Exits 1 when there is a false accept.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.verifier.harness import CORPORA, CorpusItem, compare, load_corpus


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", choices=(*CORPORA, "all"), default="all")
    ap.add_argument("--limit", type=int, default=20, help="mismatches listed per kind")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per program (0: none)")
    ap.add_argument("-v", "--verbose", action="store_true", help="name each program as it runs")
    args = ap.parse_args(argv)
    try:
        verifier = importlib.import_module("bpfvm.verifier")
        verify = verifier.verify
    except (ImportError, AttributeError):
        print("bpfvm.verifier.verify is not there yet: nothing to compare")
        return 0
    false_accepts = 0
    for name in CORPORA if args.corpus == "all" else (args.corpus,):
        start = time.monotonic()

        def show(item: CorpusItem) -> None:
            print(f"  {item.key}", file=sys.stderr, flush=True)

        report = compare(verify, load_corpus(name), name, timeout=args.timeout or None,
                         progress=show if args.verbose else None)  # fmt: skip
        print(report.format(args.limit))
        print(f"  ({time.monotonic() - start:.1f}s)\n")
        false_accepts += len(report.false_accepts)
    return 1 if false_accepts else 0


if __name__ == "__main__":
    sys.exit(main())
