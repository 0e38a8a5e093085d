"""Hand-written verifier cases: ``tests/verifier/cases/*.s``.

Each file is kernel-syntax assembly (:func:`bpfvm.asm.assemble`) whose leading ``#`` comment
lines may carry a header, one ``key: value`` per line (values are JSON, or plain text):

* ``prog_type``: a name of :class:`~bpfvm.program.uapi.ProgType` in lower case (``xdp``,
  ``sched_cls``, ``socket_filter``, ``kprobe``, ...); default ``socket_filter``.
* ``attach_type``: the expected attach type (an :class:`AttachType` name in lower case).
* ``license``: default ``GPL``.
* ``sleepable``: true to load with ``BPF_F_SLEEPABLE``.
* ``maps``: a list of map definitions, referenced by index from ``ld_pseudo rX, 1, INDEX``
  (the map) and ``ld_pseudo rX, 2, INDEX, OFFSET`` (an address in its value): ``type``
  (``hash``, ``array``, ``ringbuf``, ``prog_array``, ... as :class:`MapType` in lower case),
  ``key_size``, ``value_size``, ``max_entries``, optional ``flags`` (int), ``initial`` (hex
  of the value of key 0: global data), ``frozen`` (true: ``BPF_F_RDONLY_PROG``, frozen after
  the initial value is written), ``inner`` (the template of a map-in-map), ``spin_lock`` /
  ``timer`` (the offset of a ``struct bpf_spin_lock`` / ``struct bpf_timer`` in the value:
  the map then gets BTF).
* ``funcs``: BTF linkage of each subprogram, in start order (main first): a list of
  ``{"linkage": "static"|"global", "args": ["int", "ptr", ...], "ret": "int"|"void"}``.
  With it the program gets BTF and ``func_info``, and the kernel verifies global functions on
  their own.
* ``intent``: ``accept`` or ``reject``: what the author meant to test (the pinning script
  warns when the kernel disagrees; the kernel's verdict is what is pinned).
* ``description``: one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bpfvm.asm import assemble
from bpfvm.btf import Btf, BtfKind, BtfMember, BtfParam, BtfType, Linkage, encode_btf
from bpfvm.btf.kinds import IntEncoding
from bpfvm.btf.types import BtfInt
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.kernel.loader import ObjectExtras
from bpfvm.program.model import BPF_F_RDONLY_PROG, FuncInfo, MapSpec, Program
from bpfvm.program.uapi import AttachType, MapType, ProgType

CASES_DIR = Path(__file__).resolve().parent / "cases"
_CALL, _PSEUDO_CALL, _PSEUDO_FUNC = 0x85, 1, 4


@dataclass(frozen=True)
class Case:
    name: str
    program: Program
    extras: ObjectExtras
    header: dict[str, Any] = field(default_factory=dict)

    @property
    def intent(self) -> str:
        return str(self.header.get("intent", ""))


def _header(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            if line.strip():
                break
            continue
        key, sep, value = line[1:].strip().partition(":")
        if not sep or not key.strip().isidentifier():
            continue
        value = value.strip()
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


class _BtfBuilder:
    def __init__(self) -> None:
        self.types: list[BtfType] = []

    def add(self, kind: BtfKind, **kw: Any) -> int:
        tid = len(self.types) + 1
        self.types.append(BtfType(tid, kind, **kw))
        return tid

    def int_type(self, size: int) -> int:
        bits = size * 8
        return self.add(BtfKind.INT, name=f"__u{bits}", size=size,
                        int_data=BtfInt(IntEncoding(0), 0, bits))  # fmt: skip

    def btf(self) -> Btf:
        return Btf.parse(encode_btf(self.types))


def _map_spec(d: dict[str, Any], index: int, b: _BtfBuilder) -> MapSpec:
    flags = int(d.get("flags", 0)) | (BPF_F_RDONLY_PROG if d.get("frozen") else 0)
    initial = bytes.fromhex(d["initial"]) if "initial" in d else None
    if d.get("frozen") and initial is None:
        initial = bytes(int(d["value_size"]))
    key_id = value_id = 0
    special = [(k, int(d[k])) for k in ("spin_lock", "timer") if k in d]
    if special:
        u32 = b.int_type(4)
        members = []
        for kind, off in special:
            name = "bpf_spin_lock" if kind == "spin_lock" else "bpf_timer"
            size = 4 if kind == "spin_lock" else 16
            fields = (BtfMember("val", u32, 0),) if kind == "spin_lock" else ()
            if kind == "timer":
                u64 = b.int_type(8)
                fields = (BtfMember("a", u64, 0), BtfMember("b", u64, 64))
            sid = b.add(BtfKind.STRUCT, name=name, size=size, members=fields)
            members.append(BtfMember(kind, sid, off * 8))
        value_id = b.add(BtfKind.STRUCT, name=f"val{index}", size=int(d["value_size"]),
                         members=tuple(members))  # fmt: skip
        key_id = b.int_type(int(d["key_size"])) if int(d["key_size"]) in (1, 2, 4, 8) else 0
    inner = _map_spec(d["inner"], index, b) if "inner" in d else None
    return MapSpec(
        name=d.get("name", f"map{index}"), type=MapType[d["type"].upper()],
        key_size=int(d["key_size"]), value_size=int(d["value_size"]),
        max_entries=int(d["max_entries"]), map_flags=flags, inner=inner, initial=initial,
        btf_key_type_id=key_id, btf_value_type_id=value_id,
        section=".rodata" if d.get("frozen") else (".data" if initial is not None else ""),
    )  # fmt: skip


def func_starts(insns: list[Insn]) -> tuple[int, ...]:
    """Slots where subprograms start: 0 and every bpf-to-bpf call or callback target."""
    starts = {0}
    pc = 0
    for insn in insns:
        if (insn.code == _CALL and insn.src == _PSEUDO_CALL) or (
            insn.code == LD_IMM64_CODE and insn.src == _PSEUDO_FUNC
        ):
            starts.add(pc + insn.imm + 1)
        pc += insn.width
    return tuple(sorted(starts))


def _funcs(funcs: list[dict[str, Any]], starts: tuple[int, ...], b: _BtfBuilder) -> list[int]:
    long_t = b.int_type(8)
    out = []
    for i, f in enumerate(funcs):
        params = []
        for j, arg in enumerate(f.get("args", [])):
            typ = long_t if arg == "int" else b.add(BtfKind.PTR, ref=long_t)
            params.append(BtfParam(f"a{j}", typ))
        ret = 0 if f.get("ret") == "void" else long_t
        proto = b.add(BtfKind.FUNC_PROTO, ref=ret, params=tuple(params))
        linkage = Linkage.GLOBAL if f.get("linkage") == "global" else Linkage.STATIC
        out.append(b.add(BtfKind.FUNC, name=f"f{i}", ref=proto, linkage=linkage))
    if len(out) != len(starts):
        raise ValueError(f"'funcs' lists {len(out)} functions, the program has {len(starts)}")
    return out


def load_case(path: Path) -> Case:
    text = path.read_text()
    header = _header(text)
    insns = assemble(text, path.name)
    ptype = ProgType[str(header.get("prog_type", "socket_filter")).upper()]
    attach = header.get("attach_type")
    b = _BtfBuilder()
    maps = tuple(_map_spec(d, i, b) for i, d in enumerate(header.get("maps", [])))
    starts = func_starts(insns)
    func_info = None
    if "funcs" in header:
        func_info = tuple(zip(starts, _funcs(header["funcs"], starts, b), strict=True))
    btf = b.btf() if b.types else None
    program = Program(
        name=path.stem.replace("-", "_")[:15], insns=tuple(insns), prog_type=ptype,
        expected_attach_type=AttachType[attach.upper()] if attach else None,
        section=path.name, license=str(header.get("license", "GPL")), maps=maps,
        sleepable=bool(header.get("sleepable", False)),
        func_starts=starts, btf=btf,
        func_info=tuple(FuncInfo(slot, tid) for slot, tid in func_info or ()),
    )  # fmt: skip
    return Case(path.stem, program, ObjectExtras(func_info=func_info), header)


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    return [load_case(p) for p in sorted(directory.glob("*.s"))]
