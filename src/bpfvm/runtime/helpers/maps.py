"""Helpers that work on maps: element access, iteration, ring buffers and perf buffers.

A map argument is the address of a map's handle (what ``ld_imm64 src=1`` loaded); the
helper finds the map through :attr:`HelperCall.maps`. Keys and values are copied through the
checked address space, so a bad pointer from an unverified program is a clean fault. Return
values are the kernel helpers' (``-ENOENT``, ``-EEXIST``, ...).
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any

from bpfvm.errors import VmFault
from bpfvm.program.uapi import MapType
from bpfvm.runtime.helpers.registry import MASK64, HelperCall, HelperFn

BPF_MAX_LOOPS = 1 << 23


def neg(err: int) -> int:
    return -err & MASK64


def the_map(call: HelperCall, addr: int, *types: MapType) -> Any:
    m = call.maps.get(addr)
    if m is None:
        raise VmFault(call.pc, f"R1 is not a map pointer ({addr:#x})")
    if types and m.spec.type not in types:
        raise VmFault(call.pc, f"map '{m.spec.name}' of type {m.spec.type.name} can't do this")
    return m


def _key(call: HelperCall, m: Any, addr: int) -> bytes:
    return call.mem.read_bytes(addr, m.spec.key_size, call.pc)


def _result(value: int) -> int:
    return value & MASK64


def _lookup(call: HelperCall, map_addr: int, key: int, *_: int) -> int:
    m = the_map(call, map_addr)
    return int(m.prog_lookup(_key(call, m, key), call.cpu))


def _update(call: HelperCall, map_addr: int, key: int, value: int, flags: int, _: int) -> int:
    m = the_map(call, map_addr)
    data = call.mem.read_bytes(value, m.spec.value_size, call.pc)
    return _result(m.prog_update(_key(call, m, key), data, flags, call.cpu))


def _delete(call: HelperCall, map_addr: int, key: int, *_: int) -> int:
    m = the_map(call, map_addr)
    return _result(m.prog_delete(_key(call, m, key)))


def _push(call: HelperCall, map_addr: int, value: int, flags: int, *_: int) -> int:
    m = the_map(call, map_addr)
    data = call.mem.read_bytes(value, m.spec.value_size, call.pc)
    return _result(m.prog_push(data, flags))


def _pop_or_peek(peek: bool) -> HelperFn:
    def helper(call: HelperCall, map_addr: int, value: int, *_: int) -> int:
        m = the_map(call, map_addr)
        if m.spec.type == MapType.BLOOM_FILTER:  # peek tests membership of *value
            data = call.mem.read_bytes(value, m.spec.value_size, call.pc)
            return _result(m.prog_peek(call.cpu, data))
        got = m.prog_peek(call.cpu) if peek else m.prog_pop(call.cpu)
        if isinstance(got, int):  # empty: the kernel zeroes the value buffer
            call.mem.write_bytes(value, bytes(m.spec.value_size), call.pc)
            return _result(got)
        call.mem.write_bytes(value, got, call.pc)
        return 0

    return helper


def _for_each_map_elem(
    call: HelperCall, map_addr: int, fn: int, ctx: int, flags: int, _: int
) -> int:
    """Calls ``fn(map, key, value, ctx)`` per element until it returns 1; the number of calls."""
    if flags:
        return neg(errno.EINVAL)
    m = the_map(call, map_addr)
    assert call.invoke is not None
    count = 0
    for key_addr, value_addr in m.for_each(call.cpu):
        count += 1
        if call.invoke(fn, (map_addr, key_addr, value_addr, ctx)):
            break
    return count


def _loop(call: HelperCall, nr_loops: int, fn: int, ctx: int, flags: int, _: int) -> int:
    """``bpf_loop``: ``fn(i, ctx)`` for i < nr_loops until it returns 1; the iterations run."""
    if flags:
        return neg(errno.EINVAL)
    nr_loops &= 0xFFFFFFFF
    if nr_loops > BPF_MAX_LOOPS:
        return neg(errno.E2BIG)
    assert call.invoke is not None
    for i in range(nr_loops):
        if call.invoke(fn, (i, ctx)):
            return i + 1
    return nr_loops


# -- ring buffers and perf event arrays -------------------------------------------------------


def _ringbuf_of(call: HelperCall, addr: int) -> Any:
    """The ring buffer whose memory holds the record at ``addr``."""
    for m in call.maps.values():
        if m.spec.type == MapType.RINGBUF:
            for region in m.regions():
                if region.addr <= addr < region.end:
                    return m
    raise VmFault(call.pc, f"{addr:#x} is not a ring buffer record")


def _ringbuf_output(call: HelperCall, rb: int, data: int, size: int, flags: int, _: int) -> int:
    m = the_map(call, rb, MapType.RINGBUF)
    return _result(m.output(call.mem.read_bytes(data, size, call.pc), flags))


def _ringbuf_reserve(call: HelperCall, rb: int, size: int, flags: int, *_: int) -> int:
    return int(the_map(call, rb, MapType.RINGBUF).reserve(size, flags))


def _ringbuf_commit(discard: bool) -> HelperFn:
    def helper(call: HelperCall, data: int, flags: int, *_: int) -> int:
        m = _ringbuf_of(call, data)
        (m.discard if discard else m.submit)(data, flags)
        return 0

    return helper


def _ringbuf_query(call: HelperCall, rb: int, flags: int, *_: int) -> int:
    return _result(the_map(call, rb, MapType.RINGBUF).query(flags))


def _perf_event_output(
    call: HelperCall, ctx: int, m_addr: int, flags: int, data: int, size: int
) -> int:
    m = the_map(call, m_addr, MapType.PERF_EVENT_ARRAY)
    return _result(m.output(flags, call.mem.read_bytes(data, size, call.pc), call.cpu))


MAP_HELPERS: Mapping[str, HelperFn] = {
    "bpf_map_lookup_elem": _lookup,
    "bpf_map_update_elem": _update,
    "bpf_map_delete_elem": _delete,
    "bpf_map_push_elem": _push,
    "bpf_map_pop_elem": _pop_or_peek(peek=False),
    "bpf_map_peek_elem": _pop_or_peek(peek=True),
    "bpf_for_each_map_elem": _for_each_map_elem,
    "bpf_loop": _loop,
    "bpf_ringbuf_output": _ringbuf_output,
    "bpf_ringbuf_reserve": _ringbuf_reserve,
    "bpf_ringbuf_submit": _ringbuf_commit(discard=False),
    "bpf_ringbuf_discard": _ringbuf_commit(discard=True),
    "bpf_ringbuf_query": _ringbuf_query,
    "bpf_perf_event_output": _perf_event_output,
}
