#!/usr/bin/env python3
"""Generate ``src/bpfvm/btf/data/bpfvm_min.btf``: the target BTF used without a kernel BTF.

The closure of a few root types is copied out of a kernel's BTF (``/sys/kernel/btf/vmlinux`` by
default) with new, dense type ids:

* every type a kept type holds *by value* (members, array elements, typedef and modifier
  chains, function prototypes) is kept whole, so layouts and sizes stay exact;
* a pointer to a struct/union that is neither a root nor held by value by one points to a FWD
  of the same name instead (``struct net_device *dev`` stays typed without pulling in
  ``net_device``);
* ``task_struct`` keeps only the members listed in :data:`PRUNED` (at their real offsets,
  with the real struct size).

    python3 scripts/gen_bundled_btf.py             # write the file
    python3 scripts/gen_bundled_btf.py --check     # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from bpfvm.btf import Btf, BtfKind, BtfType, encode_btf

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "src" / "bpfvm" / "btf" / "data" / "bpfvm_min.btf"
DEFAULT_BTF = Path("/sys/kernel/btf/vmlinux")

ROOTS = [
    ("__sk_buff", BtfKind.STRUCT),
    ("xdp_md", BtfKind.STRUCT),
    ("bpf_raw_tracepoint_args", BtfKind.STRUCT),
    ("pt_regs", BtfKind.STRUCT),
    ("sk_buff", BtfKind.STRUCT),
    ("xdp_buff", BtfKind.STRUCT),
    ("task_struct", BtfKind.STRUCT),
    ("ethhdr", BtfKind.STRUCT),
    ("iphdr", BtfKind.STRUCT),
    ("ipv6hdr", BtfKind.STRUCT),
    ("tcphdr", BtfKind.STRUCT),
    ("udphdr", BtfKind.STRUCT),
    ("xdp_action", BtfKind.ENUM),
    ("sk_action", BtfKind.ENUM),
]
PRUNED = {
    "task_struct": [
        "__state", "flags", "prio", "static_prio", "normal_prio", "policy", "mm",
        "active_mm", "exit_state", "exit_code", "exit_signal", "pid", "tgid",
        "real_parent", "parent", "group_leader", "start_time",
        "start_boottime", "real_cred", "cred", "comm", "nsproxy", "stack",
    ],
}  # fmt: skip
_POINTER_CHAIN = frozenset(
    {BtfKind.TYPEDEF, BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT, BtfKind.TYPE_TAG}
)


class Extractor:
    """Collects the closure of the roots and renumbers it."""

    def __init__(self, src: Btf) -> None:
        self.src = src
        self.order: list[int | tuple[str, bool]] = []  # old id, or a FWD (name, is_union)
        self.new_id: dict[int | tuple[str, bool], int] = {}
        self.roots: set[int] = set()

    def add_roots(self) -> None:
        for name, kind in ROOTS:
            tid = self.src.find(name, kind)
            if tid is None:
                raise SystemExit(f"{name} ({kind.name}) not found in the source BTF")
            self.roots.add(tid)
        self.roots |= self.held_by_value(self.roots)
        for name, kind in ROOTS:
            tid = self.src.find(name, kind)
            assert tid is not None
            self.visit(tid)

    def held_by_value(self, start: set[int]) -> set[int]:
        """Structs/unions the roots contain by value (pointers to them need no FWD)."""
        seen, todo = set(start), list(start)
        while todo:
            t = self.pruned(self.src[todo.pop()])
            if t.kind == BtfKind.PTR:
                continue
            nxt = [t.array.type] if t.kind == BtfKind.ARRAY else self.refs(t)
            for ref in nxt:
                if isinstance(ref, int) and ref and ref not in seen:
                    seen.add(ref)
                    todo.append(ref)
        return {tid for tid in seen if self.src[tid].is_composite}

    def visit(self, key: int | tuple[str, bool]) -> int:
        """New id of ``key``, adding it (and what it holds) on first sight."""
        if key == 0:
            return 0
        found = self.new_id.get(key)
        if found is not None:
            return found
        self.order.append(key)
        self.new_id[key] = len(self.order)
        if isinstance(key, int):
            for ref in self.refs(self.pruned(self.src[key])):
                self.visit(ref)
        return self.new_id[key]

    def pruned(self, t: BtfType) -> BtfType:
        keep = PRUNED.get(t.name) if t.kind == BtfKind.STRUCT else None
        if keep is None:
            return t
        members = tuple(m for m in t.members if m.name in keep)
        missing = set(keep) - {m.name for m in members}
        if missing:
            raise SystemExit(f"{t.name} has no {sorted(missing)} in the source BTF")
        return replace(t, members=members, vlen=len(members))

    def pointee(self, ref: int) -> int | tuple[str, bool]:
        """What a pointer to ``ref`` points to in the output (maybe a FWD)."""
        tid = ref
        while self.src.kind(tid) in _POINTER_CHAIN:
            tid = self.src[tid].ref
        t = self.src[tid]
        if t.is_composite and tid not in self.roots and t.name:
            return (t.name, t.kind == BtfKind.UNION)
        if t.kind == BtfKind.FWD:
            return (t.name, t.kind_flag)
        return ref

    def refs(self, t: BtfType) -> list[int | tuple[str, bool]]:
        if t.kind == BtfKind.PTR:
            return [self.pointee(t.ref)]
        if t.kind == BtfKind.ARRAY:
            return [t.array.type, t.array.index_type]
        if t.kind == BtfKind.FUNC_PROTO:
            return [t.ref, *(p.type for p in t.params)]
        held: list[int | tuple[str, bool]] = [m.type for m in t.members]
        return [*held, t.ref] if t.ref else held

    def build(self) -> list[BtfType]:
        out = []
        for new, key in enumerate(self.order, start=1):
            if isinstance(key, tuple):
                out.append(BtfType(new, BtfKind.FWD, key[0], kind_flag=key[1]))
            else:
                out.append(self.renumber(self.pruned(self.src[key]), new))
        return out

    def map(self, key: int | tuple[str, bool]) -> int:
        return 0 if key == 0 else self.new_id[key]

    def renumber(self, t: BtfType, new: int) -> BtfType:
        if t.kind == BtfKind.PTR:
            return replace(t, id=new, ref=self.map(self.pointee(t.ref)) if t.ref else 0)
        if t.kind == BtfKind.ARRAY:
            arr = t.array
            arr = replace(arr, type=self.map(arr.type), index_type=self.map(arr.index_type))
            return replace(t, id=new, array_data=arr)
        members = tuple(replace(m, type=self.map(m.type)) for m in t.members)
        params = tuple(replace(p, type=self.map(p.type)) for p in t.params)
        return replace(t, id=new, ref=self.map(t.ref), members=members, params=params)


def extract(src: Btf) -> bytes:
    ex = Extractor(src)
    ex.add_roots()
    return encode_btf(ex.build())


def check_layout(src: Btf, out: Btf) -> None:
    """Every kept member sits where it sits in the source."""
    for name, kind in ROOTS:
        old, new = src.find(name, kind), out.find(name, kind)
        assert old is not None and new is not None, name
        assert src.resolve_size(old) == out.resolve_size(new), name
        for m in out[new].members:
            if m.name:
                assert src.member_offset(old, m.name) == out.member_offset(new, m.name), m


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--btf", type=Path, default=DEFAULT_BTF)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    src = Btf.parse(args.btf.read_bytes())
    blob = extract(src)
    check_layout(src, Btf.parse(blob))
    if args.check:
        return 0 if args.output.read_bytes() == blob else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(blob)
    print(f"{args.output}: {len(Btf.parse(blob)) - 1} types, {len(blob)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
