#!/usr/bin/env python3
"""Pin the expected results of examples/cases.json by running every case on the real kernel.

Each case loads its object afresh with libbpf (tests/kernel/libbpf_oracle.py), so map state
never leaks from one case to the next, applies ``map_set``, runs the program once with
``BPF_PROG_TEST_RUN`` on CPU 0, and records what the kernel reports:

``expect``
    ``retval``; ``data_out`` (hex, or null for programs that take no packet); ``ctx_out`` (hex
    when the case passes a ctx and the program type returns one, else null); ``maps``: the
    contents of every map named in ``map_dump``; ``ringbuf``: the records of every ring buffer
    map of the object, in order. If the kernel refuses the run itself, ``expect`` is
    ``{"errno": N}`` instead.

Case fields (paths are relative to examples/):

``name``, ``object``, ``program``
    a unique name, the ELF object, the program (its C function name).
``data``
    ``"packets/X.bin"``, ``"hex:..."`` or null.
``ctx``
    ``"hex:..."`` or null.
``repeat``
    run count (syscall and raw_tp programs always run once: the kernel requires repeat 0).
``map_set``
    ``"MAP:KEYHEX=VALUEHEX"`` updates applied after load, in order. A per-CPU map gets the
    value on every CPU. Queue and stack maps have no key: ``"MAP:=VALUEHEX"`` pushes.
``map_dump``
    maps to record. Hash and LPM maps: every key present; arrays: every index; per-CPU maps:
    a list with one value per possible CPU; queue/stack maps: ``{"": [values in pop order]}``.
    Global data maps are named ``.bss``, ``.data``, ``.rodata``, ``.rodata.str1.1``.

Usage::

    scripts/pin_examples.py            # rewrite the expect blocks in examples/cases.json
    scripts/pin_examples.py --check    # exit 1 and list differences instead of writing
    scripts/pin_examples.py --only NAME [--only NAME ...] [--debug]

Needs root (bpf()) and libbpf.so.1; exits 2 when the oracle is unavailable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
sys.path.insert(0, str(REPO / "tests" / "kernel"))

from libbpf_oracle import (  # noqa: E402
    BpfObject,
    MapType,
    OracleError,
    OracleUnavailable,
)

Json = Any
UNPINNABLE = {
    MapType.PROG_ARRAY: "program ids",
    MapType.ARRAY_OF_MAPS: "map ids",
    MapType.HASH_OF_MAPS: "map ids",
    MapType.RINGBUF: "ring buffer records (pinned under 'ringbuf')",
}


class CaseError(Exception):
    """A case that cannot be run as written."""


def parse_bytes(spec: str | None, what: str) -> bytes | None:
    """``None``, ``"hex:..."`` or a file path relative to examples/."""
    if spec is None:
        return None
    if spec.startswith("hex:"):
        try:
            return bytes.fromhex(spec[4:])
        except ValueError as exc:
            raise CaseError(f"{what}: bad hex: {exc}") from exc
    path = EXAMPLES / spec
    if not path.is_file():
        raise CaseError(f"{what}: no file {path}")
    return path.read_bytes()


def apply_map_set(obj: BpfObject, entries: list[str]) -> None:
    for entry in entries:
        name, sep, rest = entry.partition(":")
        key_hex, eq, value_hex = rest.partition("=")
        if not sep or not eq:
            raise CaseError(f"map_set {entry!r}: want MAP:KEYHEX=VALUEHEX")
        m = obj.map(name)
        try:
            key, value = bytes.fromhex(key_hex), bytes.fromhex(value_hex)
        except ValueError as exc:
            raise CaseError(f"map_set {entry!r}: bad hex: {exc}") from exc
        if m.type in MapType.VALUELESS_KEY:
            if key:
                raise CaseError(f"map_set {entry!r}: queue/stack maps take no key")
            m.push(value)
        else:
            m.update(key, value)


def dump_map(obj: BpfObject, name: str) -> dict[str, Json]:
    m = obj.map(name)
    if m.type in UNPINNABLE:
        raise CaseError(f"map_dump {name}: its values are {UNPINNABLE[m.type]}, not pinnable")

    def fmt(value: bytes | list[bytes]) -> Json:
        return value.hex() if isinstance(value, bytes) else [v.hex() for v in value]

    if m.type in MapType.VALUELESS_KEY:
        return {"": [v.hex() for v in m.items()[b""]]}  # type: ignore[union-attr]
    if m.type in MapType.ARRAYS:
        out: dict[str, Json] = {}
        for index in range(m.max_entries):
            key = index.to_bytes(4, "little")
            value = m.lookup(key)
            if value is not None:
                out[key.hex()] = fmt(value)
        return out
    return {k.hex(): fmt(v) for k, v in sorted(m.items().items())}


def run_case(case: dict[str, Json], debug: bool = False) -> dict[str, Json]:
    """Run one case on the kernel and return its expect block."""
    obj_path = EXAMPLES / case["object"]
    data = parse_bytes(case.get("data"), "data")
    ctx = parse_bytes(case.get("ctx"), "ctx")
    with BpfObject(obj_path, debug=debug) as obj:
        apply_map_set(obj, case.get("map_set", []))
        try:
            result = obj.test_run(case["program"], data=data, ctx=ctx, repeat=case.get("repeat", 1))
        except OracleError as exc:
            if exc.errno:
                return {"errno": exc.errno}
            raise
        maps = {name: dump_map(obj, name) for name in case.get("map_dump", [])}
        ringbuf = {
            m.name: [r.hex() for r in m.ringbuf_records()]
            for m in obj.maps()
            if m.type == MapType.RINGBUF
        }
    return {
        "retval": result.retval,
        "data_out": result.data_out.hex() if result.data_out is not None else None,
        "ctx_out": result.ctx_out.hex() if result.ctx_out is not None else None,
        "maps": maps,
        "ringbuf": ringbuf,
    }


def diff(path: str, old: Json, new: Json, out: list[str]) -> None:
    """Human-readable differences between two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"  {sub}: missing from cases.json (kernel: {json.dumps(new[key])})")
            elif key not in new:
                out.append(f"  {sub}: pinned {json.dumps(old[key])}, kernel has none")
            else:
                diff(sub, old[key], new[key], out)
    elif old != new:
        out.append(f"  {path}: pinned {json.dumps(old)}, kernel {json.dumps(new)}")


def render(value: Json, indent: int = 0) -> str:
    """JSON with one object member per line and lists of scalars kept on one line."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k)}: {render(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list) and value:
        if all(not isinstance(v, dict | list) for v in value):
            return json.dumps(value)
        items = [pad + render(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=EXAMPLES / "cases.json")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--debug", action="store_true", help="echo libbpf's log")
    args = parser.parse_args(argv)

    cases: list[dict[str, Json]] = json.loads(args.cases.read_text())
    names = [c["name"] for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        print(f"duplicate case names: {sorted(dupes)}", file=sys.stderr)
        return 1
    unknown = set(args.only) - set(names)
    if unknown:
        print(f"no such case: {sorted(unknown)}", file=sys.stderr)
        return 1

    problems: list[str] = []
    for case in cases:
        if args.only and case["name"] not in args.only:
            continue
        try:
            expect = run_case(case, debug=args.debug)
        except OracleUnavailable as exc:
            print(f"kernel oracle unavailable: {exc}", file=sys.stderr)
            return 2
        except (CaseError, OracleError, KeyError, ValueError) as exc:
            problems.append(f"{case['name']}: cannot run: {exc}")
            continue
        if args.check:
            lines: list[str] = []
            diff("expect", case.get("expect"), expect, lines)
            if lines:
                problems.append(f"{case['name']}:\n" + "\n".join(lines))
        else:
            case["expect"] = expect

    if not args.check and not any("cannot run" in p for p in problems):
        args.cases.write_text(render(cases) + "\n")
        print(f"pinned {len(args.only) or len(cases)} case(s) in {args.cases}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check and not problems:
        print(f"{len(args.only) or len(cases)} case(s) match the running kernel")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
