"""The ELF loader on the bundled examples, the ebpf-samples corpus and broken copies of them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.elf.loader import load_object
from bpfvm.elf.sections import classify_section
from bpfvm.errors import InputError
from bpfvm.isa.opcodes import CallSrc, PseudoSrc
from bpfvm.program.uapi import AttachType, MapType, ProgType
from tests.conftest import shared_path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "c"


def _load(name: str):  # type: ignore[no-untyped-def]
    path = EXAMPLES / name
    return load_object(path.read_bytes(), str(path))


@pytest.mark.parametrize(
    ("section", "prog_type", "attach", "target", "legacy"),
    [
        ("xdp", ProgType.XDP, AttachType.XDP, "", False),
        ("xdp.frags", ProgType.XDP, AttachType.XDP, "", False),
        ("tc", ProgType.SCHED_CLS, None, "", False),
        ("tc/ingress", ProgType.SCHED_CLS, AttachType.TCX_INGRESS, "", False),
        ("classifier", ProgType.SCHED_CLS, None, "", False),
        ("socket", ProgType.SOCKET_FILTER, None, "", False),
        ("kprobe/do_sys_open", ProgType.KPROBE, None, "do_sys_open", False),
        ("kprobe.multi/tcp_*", ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, "tcp_*", False),
        ("raw_tp/sys_enter", ProgType.RAW_TRACEPOINT, None, "sys_enter", False),
        ("tp/syscalls/sys_enter_read", ProgType.TRACEPOINT, None, "syscalls/sys_enter_read", False),
        ("fentry/tcp_connect", ProgType.TRACING, AttachType.TRACE_FENTRY, "tcp_connect", False),
        ("fexit/tcp_connect", ProgType.TRACING, AttachType.TRACE_FEXIT, "tcp_connect", False),
        ("fmod_ret/f", ProgType.TRACING, AttachType.MODIFY_RETURN, "f", False),
        ("fsession/f", ProgType.TRACING, AttachType.TRACE_FSESSION, "f", False),
        ("fentry.multi/f*", ProgType.TRACING, AttachType.TRACE_FENTRY_MULTI, "f*", False),
        ("fsession.multi/g", ProgType.TRACING, AttachType.TRACE_FSESSION_MULTI, "g", False),
        ("syscall", ProgType.SYSCALL, None, "", False),
        ("uprobe.s//bin/sh:main", ProgType.KPROBE, None, "/bin/sh:main", False),
        ("cgroup_skb/ingress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_INGRESS, "", False),
        ("socket1", ProgType.SOCKET_FILTER, None, "1", True),
        ("xdp_prog", ProgType.XDP, AttachType.XDP, "_prog", True),
        ("kprobe_sys_write", ProgType.KPROBE, None, "_sys_write", True),
    ],
)
def test_section_names_as_libbpf_maps_them(
    section: str, prog_type: ProgType, attach: AttachType | None, target: str, legacy: bool
) -> None:
    kind = classify_section(section)
    assert kind is not None
    assert (kind.prog_type, kind.expected_attach_type, kind.attach_to, kind.legacy) == (
        prog_type, attach, target, legacy,
    )  # fmt: skip
    assert kind.sleepable == (".s/" in section or section == "syscall")


def test_unknown_section_name() -> None:
    assert classify_section("2/1") is None


def test_btf_maps_global_data_and_calls_are_linked() -> None:
    obj = _load("bpf2bpf_calls.bpf.o")
    assert obj.license == "GPL"
    bucket = obj.maps[obj.map_index("bucket_count")]
    assert (bucket.type, bucket.key_size, bucket.value_size, bucket.max_entries) == (
        MapType.ARRAY, 4, 8, 8,
    )  # fmt: skip
    assert bucket.btf_key_type_id and bucket.btf_value_type_id
    bss = obj.maps[obj.map_index(".bss")]
    assert bss.type == MapType.ARRAY and bss.max_entries == 1 and bss.initial == bytes(24)
    prog = obj.program("xdp_flow_hash")
    assert prog.prog_type == ProgType.XDP and prog.expected_attach_type == AttachType.XDP
    assert len(prog.func_starts) > 1
    starts = set(prog.func_starts)
    pcs = 0
    for insn in prog.insns:
        if insn.code == 0x85 and insn.src == CallSrc.PSEUDO_CALL:
            assert pcs + 1 + insn.imm in starts  # every call lands on an appended subprogram
        if insn.code == 0x18 and insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_VALUE):
            assert 0 <= insn.imm < len(obj.maps)
        pcs += insn.width
    assert prog.line_info and prog.line_info[0].insn_off == 0
    assert prog.line_info[0].file.endswith("bpf2bpf_calls.bpf.c")


def test_prog_array_values_and_rodata() -> None:
    obj = _load("tail_calls.bpf.o")
    jump = next(m for m in obj.maps if m.type == MapType.PROG_ARRAY)
    names = {p.name for p in obj.programs}
    assert jump.init_slots and {name for _, name in jump.init_slots} <= names
    cfg = _load("global_config.bpf.o")
    rodata = next(m for m in cfg.maps if m.name == ".rodata")
    assert rodata.map_flags & 0x80  # BPF_F_RDONLY_PROG
    assert rodata.initial is not None and len(rodata.initial) == rodata.value_size


def test_legacy_maps_section() -> None:
    path = shared_path("ebpf-samples/linux/sockex1_kern.o")
    obj = load_object(path.read_bytes(), str(path))
    assert [m.section for m in obj.maps] == ["maps"]
    assert obj.programs[0].prog_type == ProgType.SOCKET_FILTER


def test_the_corpus_loads() -> None:
    root = shared_path("ebpf-samples")
    broken = {}
    programs = 0
    for path in sorted(root.rglob("*.o")):
        obj = load_object(path.read_bytes(), str(path))
        programs += len(obj.programs)
        broken.update({f"{path.name}:{name}": why for name, why in obj.broken.items()})
    # PREVAIL's negative samples call functions no loader resolves, and 81 of Falco's probes
    # call an undefined memset: like libbpf, those programs can't be linked (the rest can)
    assert programs + len(broken) == 574  # the corpus README counts 574 programs
    unresolved = {key.split(":")[0] for key in broken}
    assert unresolved == {"badrelo.o", "externalfunction.o", "probe.o"}, broken
    assert all("unresolved call to extern function" in why for why in broken.values())
    with pytest.raises(InputError, match="unresolved call to extern function 'memset'"):
        load_object((root / "falco/probe.o").read_bytes(), "probe.o").program("bpf_sys_single")


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def test_broken_objects_get_one_line_errors() -> None:
    data = (EXAMPLES / "xdp_firewall.bpf.o").read_bytes()
    cases = {
        "truncated": data[: len(data) // 3],
        "header only": data[:64],
        "machine x86-64": _patched(data, 18, "<H", 62),
        "32-bit class": _patched(data, 4, "<B", 1),
        "big-endian": _patched(data, 5, "<B", 2),
        "section table out of range": _patched(data, 40, "<Q", len(data) * 4),
    }
    for what, blob in cases.items():
        with pytest.raises(InputError) as info:
            load_object(blob, "fw.o")
        message = str(info.value)
        assert message.startswith("fw.o: ") and "\n" not in message, what


def test_unknown_legacy_map_type() -> None:
    path = shared_path("ebpf-samples/linux/sockex1_kern.o")
    data = path.read_bytes()
    # the legacy maps section starts with the first map's type
    from bpfvm.elf.objfile import read_object

    sec = read_object(data).section("maps")
    assert sec is not None
    import io

    from elftools.elf.elffile import ELFFile

    offset = ELFFile(io.BytesIO(data)).get_section_by_name("maps")["sh_offset"]
    with pytest.raises(InputError, match="unknown map type 99"):
        load_object(_patched(data, offset, "<I", 99), "x.o")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_objects_never_crash(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in EXAMPLES.glob("*.o"))))
    blob = bytearray((EXAMPLES / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    try:
        load_object(bytes(blob), name)
    except InputError as exc:
        assert "\n" not in str(exc)
