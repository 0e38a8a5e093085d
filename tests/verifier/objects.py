"""The object corpus: every program of ``examples/c/*.bpf.o`` and of the shared ebpf-samples.

Each entry is keyed ``FOLDER/FILE.o:PROGRAM`` (``examples/NAME.bpf.o:PROG`` for the examples)
and loaded with :func:`bpfvm.elf.loader.load_object`. Programs whose section name gives no
program type (legacy iproute2, OVS, Suricata and PREVAIL objects) get one chosen per folder
(:func:`chosen_prog_type`), documented in ``tests/verifier/README.md``.

:func:`object_extras` reads what libbpf takes from the object file beyond a
:class:`~bpfvm.program.Program`: the ``.BTF.ext`` records, section sizes and variable offsets
(for DATASEC finalisation) and hidden global functions.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from elftools.elf.elffile import ELFFile

from bpfvm.btf import BtfExt
from bpfvm.elf.btfmaps import kconfig_offset
from bpfvm.elf.loader import BpfObject, load_object
from bpfvm.elf.objfile import read_object
from bpfvm.errors import BpfvmError
from bpfvm.kernel.loader import ObjectExtras
from bpfvm.kernel.syscall import possible_cpus
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType, ProgType

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "c"
SAMPLES = REPO.parent / "shared" / "ebpf-samples"

# Program types for sections whose name says nothing (the object's own loader decided).
_FOLDER_TYPES = {
    "build": ProgType.SOCKET_FILTER,  # PREVAIL's fallback for unknown sections
    "cilium": ProgType.SCHED_CLS,  # iproute2 `tc ... bpf da obj X sec from-*`; tail calls 2/N
    "linux": ProgType.SCHED_CLS,  # tc_l2_redirect, tcbpf1, test_cgrp2_tc: `tc filter ... sec X`
    "ovs": ProgType.SCHED_CLS,  # OVS eBPF datapath: tc ingress/egress and its tail-N programs
    "prototype-kernel": ProgType.SCHED_CLS,  # tc_bench01_redirect: a tc program
    "suricata": ProgType.SOCKET_FILTER,  # AF_PACKET filters / fanout load balancer
}
_FILE_TYPES = {
    "cilium/bpf_xdp.o": ProgType.XDP,  # the XDP objects, loaded by `ip link set ... xdp`
    "linux/lwt_len_hist_kern.o": ProgType.LWT_OUT,  # `ip route ... encap bpf out ...`
}
_SECTION_TYPES = {("ovs", "af_xdp"): ProgType.XDP}


def prog_type_choices() -> dict[str, str]:
    """The program types chosen for sections that name none (recorded with the pins)."""
    out = {f"{folder}/*": t.name.lower() for folder, t in _FOLDER_TYPES.items()}
    out.update({rel: t.name.lower() for rel, t in _FILE_TYPES.items()})
    out["cilium/*xdp*"] = "xdp"
    out.update({f"{f}/*:section {sec}": t.name.lower() for (f, sec), t in _SECTION_TYPES.items()})
    return out


def chosen_prog_type(key: str, program: Program) -> ProgType:
    """The program type a program of entry ``key`` is loaded as."""
    if program.prog_type != ProgType.UNSPEC:
        return program.prog_type
    rel = key.split(":", 1)[0]
    folder = rel.split("/", 1)[0]
    if rel in _FILE_TYPES:
        return _FILE_TYPES[rel]
    if folder == "cilium" and "xdp" in rel:
        return ProgType.XDP
    return _SECTION_TYPES.get((folder, program.section), _FOLDER_TYPES.get(folder, ProgType.UNSPEC))


def object_extras(data: bytes, obj: BpfObject, source: str = "<elf>") -> ObjectExtras:
    """The :class:`ObjectExtras` libbpf would derive from the object file ``data``."""
    elf = read_object(data, source)
    ext = None
    ext_sec = elf.section(".BTF.ext")
    if ext_sec is not None and obj.btf is not None:
        try:
            ext = BtfExt.parse(ext_sec.data, obj.btf)
        except BpfvmError:
            ext = None
    sizes = {s.name: s.size for s in elf.sections if s.name}
    offsets: dict[tuple[str, str], int] = {}
    for sym in elf.symbols:
        if sym.shndx > 0 and sym.type in ("STT_OBJECT", "STT_NOTYPE") and sym.name:
            offsets.setdefault((elf.sections[sym.shndx].name, sym.name), sym.value)
    kconfig = next((m for m in obj.maps if m.section == ".kconfig"), None)
    if kconfig is not None and obj.btf is not None:
        sizes[".kconfig"] = kconfig.value_size
        for sym in elf.symbols:
            off = kconfig_offset(obj.btf, sym.name) if sym.shndx == 0 else None
            if off is not None:
                offsets[(".kconfig", sym.name)] = off
    hidden = set()
    for sym in ELFFile(io.BytesIO(data)).get_section_by_name(".symtab").iter_symbols():
        info, other = sym["st_info"], sym["st_other"]
        hidden_vis = other["visibility"] in ("STV_HIDDEN", "STV_INTERNAL")
        if info["type"] == "STT_FUNC" and info["bind"] != "STB_LOCAL" and hidden_vis:
            hidden.add(sym.name)
    return ObjectExtras(ext, sizes, offsets, frozenset(hidden))


# bpf_load.c user fixups (samples/bpf/map_perf_test_user.c): the inner map of a map-in-map.
_INNER_BY_NAME = {"array_of_lru_hashs": "inner_lru_hash_map"}
_BPF_LOAD_MAP_DEF = 28  # type, key, value, max_entries, flags, inner_map_idx, numa_node


def loader_map_fixups(folder: str, data: bytes, maps: tuple[MapSpec, ...]) -> tuple[MapSpec, ...]:
    """Map definitions as the object's own loader created them (not what the ELF says).

    * samples/bpf's ``bpf_load.c`` and PREVAIL read a 28-byte ``struct bpf_map_def`` whose
      sixth field is ``inner_map_idx`` (bpfvm's loader knows only iproute2's 36-byte
      ``inner_idx``); a map-in-map gets its template and a 4-byte value (an fd).
    * Falco's libscap sets ``max_entries`` of its per-CPU scratch arrays (0 in the ELF) to the
      number of CPUs.
    """
    if folder == "falco":
        return tuple(
            replace(m, max_entries=possible_cpus()) if m.max_entries == 0 else m for m in maps
        )
    if folder not in ("linux", "build"):
        return maps
    elf = read_object(data)
    raw: dict[str, tuple[int, ...]] = {}
    for sec in elf.sections:
        if sec.name == "maps" or sec.name.startswith("maps/"):
            syms = elf.symbols_in(sec.index)
            if syms and len(sec.data) // len(syms) == _BPF_LOAD_MAP_DEF:
                for sym in syms:
                    raw[sym.name] = struct.unpack_from("<7I", sec.data, sym.value)
    out = []
    for m in maps:
        if m.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS) and m.name in raw:
            inner_name = _INNER_BY_NAME.get(m.name)
            idx = raw[m.name][5]
            inner = next((i for i in maps if i.name == inner_name), None) if inner_name else None
            if inner is None and idx < len(maps):
                inner = maps[idx]
            if inner is not None:
                m = replace(m, inner=replace(inner, inner=None), value_size=4)
        out.append(m)
    return tuple(out)


@dataclass(frozen=True)
class ObjectEntry:
    """One program of the object corpus, ready for :func:`bpfvm.kernel.loader.load_program`."""

    key: str
    program: Program
    extras: ObjectExtras


def object_files() -> list[tuple[str, Path]]:
    """(key prefix, path) of every object: the examples, then the samples (sorted)."""
    out = [(f"examples/{p.name}", p) for p in sorted(EXAMPLES.glob("*.bpf.o"))]
    if SAMPLES.is_dir():
        for p in sorted(SAMPLES.rglob("*.o")):
            out.append((str(p.relative_to(SAMPLES)), p))
    return out


def iter_objects(
    broken: dict[str, str] | None = None, only: Callable[[str], bool] | None = None
) -> Iterator[ObjectEntry]:
    """Every linkable program; ``broken`` collects ``key -> why`` for the others; ``only``
    selects objects by key prefix (``examples/NAME.bpf.o``, ``FOLDER/FILE.o``)."""
    for prefix, path in object_files():
        if only is not None and not only(prefix):
            continue
        data = path.read_bytes()
        try:
            obj = load_object(data, str(path))
        except BpfvmError as exc:
            if broken is not None:
                broken[prefix] = str(exc)
            continue
        if broken is not None:
            for name, why in obj.broken.items():
                broken[f"{prefix}:{name}"] = why
        extras = object_extras(data, obj, str(path))
        maps = loader_map_fixups(prefix.split("/", 1)[0], data, obj.maps)
        for prog in obj.programs:
            key = f"{prefix}:{prog.name}"
            ptype = chosen_prog_type(key, prog)
            yield ObjectEntry(key, replace(prog, prog_type=ptype, maps=maps), extras)
