"""libbpf as the oracle: our BTF reading against libbpf's, and our CO-RE relocated programs
against the instructions libbpf produces for the same object and target BTF (both the
kernel's and the bundled one). Skipped without libbpf.so.1 or ``bpf()``."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from bpfvm.btf import Btf, CandidateCache, apply_core_relo_slots
from bpfvm.btf.target import BUNDLED_BTF
from bpfvm.isa import encode_insn

from .conftest import VMLINUX, Obj, load_obj
from .libbpf_core import Unavailable, relocated_programs

BUNDLED_PATH = Path(__file__).parents[3] / "src" / "bpfvm" / "btf" / "data" / BUNDLED_BTF


def our_programs(obj: Obj, target: Btf) -> dict[str, bytes]:
    """Program name -> relocated bytes, programs cut at their func_info offsets."""
    cache = CandidateCache()
    out = {}
    for sec, infos in obj.ext.func_info.items():
        code = bytearray(obj.sections[sec])
        for idx, relo in enumerate(obj.ext.core_relos.get(sec, [])):
            slot = relo.insn_off // 8
            insn = obj.insn(sec, slot)
            new = apply_core_relo_slots(insn, relo, obj.btf, target, cache=cache, relo_idx=idx)
            patched = b"".join(encode_insn(i) for i in new)
            code[8 * slot : 8 * slot + len(patched)] = patched
        starts = [f.insn_off for f in infos] + [len(code)]
        for info, start, end in zip(infos, starts, starts[1:], strict=False):
            out[obj.btf[info.type_id].name] = bytes(code[start:end])
    return out


@pytest.mark.parametrize("name", ["core_task", "core_net"])
@pytest.mark.parametrize("target_path", [VMLINUX, BUNDLED_PATH], ids=["vmlinux", "bundled"])
def test_core_matches_libbpf(name: str, target_path: Path) -> None:
    if not target_path.exists():
        pytest.skip(f"{target_path} missing")
    obj = load_obj(name)
    try:
        theirs = relocated_programs(obj.path, target_path)
    except Unavailable as exc:
        pytest.skip(str(exc))
    ours = our_programs(obj, Btf.parse(target_path.read_bytes()))
    assert set(ours) == set(theirs)
    for prog, code in ours.items():
        assert code == theirs[prog], prog


def test_vmlinux_reading_matches_libbpf(vmlinux: Btf) -> None:
    try:
        lib = ctypes.CDLL("libbpf.so.1")
    except OSError:
        pytest.skip("no libbpf.so.1")
    lib.btf__parse_raw.restype = ctypes.c_void_p
    lib.btf__parse_raw.argtypes = [ctypes.c_char_p]
    lib.btf__type_cnt.argtypes = [ctypes.c_void_p]
    lib.btf__type_by_id.restype = ctypes.POINTER(ctypes.c_uint32)
    lib.btf__type_by_id.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.btf__name_by_offset.restype = ctypes.c_char_p
    lib.btf__name_by_offset.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.btf__resolve_size.restype = ctypes.c_longlong
    lib.btf__resolve_size.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.btf__free.argtypes = [ctypes.c_void_p]
    handle = lib.btf__parse_raw(str(VMLINUX).encode())
    if not handle:
        pytest.skip("libbpf cannot parse vmlinux BTF")
    try:
        assert lib.btf__type_cnt(handle) == len(vmlinux)
        for tid in range(1, len(vmlinux), 13):
            raw = lib.btf__type_by_id(handle, tid)
            name = lib.btf__name_by_offset(handle, raw[0]).decode()
            t = vmlinux[tid]
            assert (name, raw[1] >> 24 & 0x1F, raw[1] & 0xFFFF) == (t.name, t.kind, t.vlen)
            size = lib.btf__resolve_size(handle, tid)
            if size >= 0:
                assert vmlinux.resolve_size(tid) == size, t
    finally:
        lib.btf__free(handle)
