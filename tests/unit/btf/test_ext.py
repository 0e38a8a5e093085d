"""``.BTF.ext``: func info, line info and CO-RE records of clang-built objects."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.btf import BtfExt, BtfKind, CoreReloKind
from bpfvm.errors import InputError

from .conftest import DATA, Obj, load_obj

K = CoreReloKind
# (section, insn slot, local type, access string, kind) of core_task.o, from the C source
CORE_TASK_RELOS = [
    ("raw_tracepoint/sys_enter", 2, "task_struct", "0:4", K.FIELD_BYTE_OFFSET),  # real_parent
    ("raw_tracepoint/sys_enter", 9, "task_struct", "0:1", K.FIELD_BYTE_OFFSET),  # ->tgid
    ("raw_tracepoint/sys_enter", 16, "task_struct", "0:0", K.FIELD_BYTE_OFFSET),  # pid
    ("raw_tracepoint/sys_enter", 24, "task_struct", "0:3:3", K.FIELD_BYTE_OFFSET),  # comm[3]
    ("raw_tracepoint/sys_enter", 32, "task_struct", "0:3", K.FIELD_BYTE_OFFSET),  # &comm
    ("raw_tracepoint/sys_enter", 37, "task_struct", "0:3", K.FIELD_BYTE_SIZE),
    ("raw_tracepoint/sys_exit", 1, "task_struct___old", "0:0", K.FIELD_EXISTS),
    ("raw_tracepoint/sys_exit", 5, "task_struct___new", "0:0", K.FIELD_EXISTS),
    ("raw_tracepoint/sys_exit", 7, "task_struct___new", "0:0", K.FIELD_BYTE_OFFSET),
    ("raw_tracepoint/sys_exit", 17, "does_not_exist", "0", K.TYPE_EXISTS),
    ("raw_tracepoint/sys_exit", 20, "task_struct", "0", K.TYPE_EXISTS),
    ("raw_tracepoint/sys_exit", 23, "task_struct", "0", K.TYPE_SIZE),
    ("raw_tracepoint/sys_exit", 25, "task_struct", "0", K.TYPE_ID_TARGET),
    ("raw_tracepoint/sys_exit", 28, "task_struct", "0", K.TYPE_ID_LOCAL),
    ("fentry/do_nanosleep", 1, "task_struct", "0:2", K.FIELD_BYTE_OFFSET),  # flags
    ("fentry/do_nanosleep", 2, "task_struct", "0:0", K.FIELD_BYTE_OFFSET),  # pid
    ("fentry/do_exit", 0, "task_struct___bogus", "0:0", K.FIELD_BYTE_OFFSET),
    ("fentry/do_exit", 9, "task_struct___signed", "0:0", K.FIELD_BYTE_OFFSET),
]


def test_core_relos(core_task: Obj) -> None:
    got = [
        (sec, r.insn_off // 8, core_task.btf[r.type_id].name, r.access_str, r.kind)
        for sec, relos in core_task.ext.core_relos.items()
        for r in relos
    ]
    assert got == CORE_TASK_RELOS
    for relos in core_task.ext.core_relos.values():
        assert all(r.insn_off % 8 == 0 for r in relos)  # byte offsets in an object file


def test_func_info(core_task: Obj, core_net: Obj) -> None:
    btf = core_task.btf
    names = {
        sec: [(f.insn_off, btf[f.type_id].name) for f in infos]
        for sec, infos in core_task.ext.func_info.items()
    }
    assert names == {
        "raw_tracepoint/sys_enter": [(0, "read_task")],
        "raw_tracepoint/sys_exit": [(0, "exists")],
        "fentry/do_nanosleep": [(0, "direct")],
        "fentry/do_exit": [(0, "poisoned")],
    }
    for infos in core_task.ext.func_info.values():
        assert all(btf.kind(f.type_id) == BtfKind.FUNC for f in infos)
    # two programs in one section: offsets are bytes from the section start
    skb = [
        (f.insn_off, core_net.btf[f.type_id].name)
        for f in core_net.ext.func_info["tp_btf/kfree_skb"]
    ]
    assert skb == [(0, "skb_fields"), (105 * 8, "enums")]
    assert core_task.ext.func_info_rec_size == 8
    assert core_task.ext.line_info_rec_size == 16
    assert core_task.ext.core_relo_rec_size == 16


def test_line_info_matches_source(core_task: Obj) -> None:
    source = (DATA / "core_task.c").read_text().splitlines()
    infos = core_task.ext.line_info["raw_tracepoint/sys_enter"]
    assert infos[0].insn_off == 0
    assert infos[0].file_name.endswith("core_task.c")
    for info in infos:
        if info.line:
            assert info.line_text == source[info.line - 1]
            assert 0 <= info.col <= len(info.line_text) + 1
    ppid = next(i for i in infos if "real_parent" in i.line_text)
    assert ppid.line == source.index("\tint ppid = BPF_CORE_READ(t, real_parent, tgid);") + 1
    assert ppid.col == 13


def _ext_blob(
    func: dict[int, list[tuple[int, ...]]],
    line: dict[int, list[tuple[int, ...]]],
    core: dict[int, list[tuple[int, ...]]],
    sizes: tuple[int, int, int],
) -> bytes:
    """Re-encode records (keyed by section name offset), padding records to ``sizes``."""
    subs = []
    for recs, size in zip((func, line, core), sizes, strict=True):
        out = struct.pack("<I", size)
        for name_off, items in recs.items():
            out += struct.pack("<II", name_off, len(items))
            for item in items:
                rec = struct.pack(f"<{len(item)}I", *item)
                out += rec + b"\0" * (size - len(rec))
        subs.append(out)
    offs, pos = [], 0
    for sub in subs:
        offs += [pos, len(sub)]
        pos += len(sub)
    return struct.pack("<HBBI6I", 0xEB9F, 1, 0, 32, *offs) + b"".join(subs)


def _records(obj: Obj) -> tuple[dict[int, list[tuple[int, ...]]], ...]:
    """The raw records of obj's .BTF.ext, keyed by section name offset."""
    hdr = struct.unpack_from("<HBBI6I", obj.raw_ext)
    body = obj.raw_ext[hdr[3] :]
    out = []
    for off, length, fields in ((hdr[4], hdr[5], 2), (hdr[6], hdr[7], 4), (hdr[8], hdr[9], 4)):
        (size,) = struct.unpack_from("<I", body, off)
        recs: dict[int, list[tuple[int, ...]]] = {}
        pos = off + 4
        while pos < off + length:
            name_off, count = struct.unpack_from("<II", body, pos)
            items = [
                struct.unpack_from(f"<{fields}I", body, pos + 8 + i * size) for i in range(count)
            ]
            recs[name_off] = items
            pos += 8 + count * size
        out.append(recs)
    return tuple(out)


def test_larger_records_are_accepted(core_task: Obj) -> None:
    func, line, core = _records(core_task)
    assert _ext_blob(func, line, core, (8, 16, 16)) == core_task.raw_ext
    wide = BtfExt.parse(_ext_blob(func, line, core, (12, 24, 20)), core_task.btf)
    assert wide.func_info == core_task.ext.func_info
    assert wide.line_info == core_task.ext.line_info
    assert wide.core_relos == core_task.ext.core_relos
    assert (wide.func_info_rec_size, wide.line_info_rec_size, wide.core_relo_rec_size) == (
        12,
        24,
        20,
    )


def test_header_without_core_relos(core_task: Obj) -> None:
    raw = bytearray(core_task.raw_ext)
    # shrink the header to 24 bytes (no core_relo fields): drop 8 bytes, fix offsets
    short = struct.pack("<HBBI4I", 0xEB9F, 1, 0, 24, *struct.unpack_from("<4I", raw, 8))
    ext = BtfExt.parse(short + bytes(raw[32:]), core_task.btf)
    assert ext.core_relos == {}
    assert ext.func_info == core_task.ext.func_info


def _patched(raw: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(raw)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


@pytest.mark.parametrize(
    ("offset", "fmt", "values", "match"),
    [
        (0, "<H", (0x1234,), "Invalid magic"),
        (2, "<B", (2,), "Unsupported version"),
        (3, "<B", (1,), "Unsupported flags"),
        (4, "<I", (8,), "Invalid hdr_len"),
        (4, "<I", (1 << 20,), "Invalid hdr_len"),
        (8, "<I", (2,), "func_info section is not aligned"),
        (12, "<I", (1 << 20,), "beyond the end"),
        (32, "<I", (4,), "func_info section has invalid record size 4"),
        (32, "<I", (10,), "invalid record size 10"),
        (40, "<I", (0,), "incorrect num_records 0"),
        (40, "<I", (1000,), "incorrect num_records 1000"),
        (36, "<I", (1 << 23,), "invalid func_info section name offset"),
        (48, "<I", (1 << 20,), "func_info refers to type id"),
    ],
)
def test_malformed(
    core_task: Obj, offset: int, fmt: str, values: tuple[int, ...], match: str
) -> None:
    with pytest.raises(InputError, match=match) as info:
        BtfExt.parse(_patched(core_task.raw_ext, offset, fmt, *values), core_task.btf)
    assert str(info.value).startswith("BTF.ext: ")


def test_truncated(core_net: Obj) -> None:
    for size in range(0, len(core_net.raw_ext) - 1, 5):
        with pytest.raises(InputError):
            BtfExt.parse(core_net.raw_ext[:size], core_net.btf)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutations_parse_or_refuse(data: st.DataObject) -> None:
    obj = load_obj("core_net")
    raw = bytearray(obj.raw_ext)
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        BtfExt.parse(bytes(raw), obj.btf)
    except InputError as exc:
        assert str(exc).startswith("BTF.ext: ")
