#!/usr/bin/env python3
"""bpfvm's level-2 verifier logs against the kernel's pinned ones (the cases corpus).

    scripts/verifier_logs.py                 # count, and the first differing line per case
    scripts/verifier_logs.py --only NAME -v  # with both logs around the first difference

Needs no kernel: ``tests/verifier/cases.json`` holds the kernel's whole ``log_level=2`` log
per case; bpfvm's is rendered the same way (``tests/verifier/level2.py``) and compared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.verifier.harness import load_corpus
from tests.verifier.level2 import log_difference


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="case name (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the differing lines")
    args = ap.parse_args(argv)
    items = [i for i in load_corpus("cases", args.only) if "log" in i.kernel]
    equal = 0
    for item in items:
        diff = log_difference(item)
        if diff is None:
            equal += 1
            continue
        line, theirs, ours = diff
        print(f"{item.key}: line {line}")
        if args.verbose:
            print(f"  kernel: {theirs}\n  bpfvm:  {ours}")
    print(f"level-2 logs equal: {equal}/{len(items)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
