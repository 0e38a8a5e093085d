"""Repeated test_run calls on one object (pooled packet states, cached run setup) give what
fresh objects give: nothing of one run leaks into the next."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfvm.cli.test_run import verify_object
from bpfvm.elf.loader import load_object
from bpfvm.errors import BpfvmError
from bpfvm.hooks.context import build_packet_context
from bpfvm.hooks.fixed import FixedObject
from bpfvm.hooks.pool import PacketPool
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.hooks.test_run import TestRunResult as Result
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.maps import BpfMap
from bpfvm.runtime.packet import Redirect

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PACKETS = ["ipv4_tcp.bin", "ipv4_udp.bin", "arp.bin", "ipv6_udp.bin", "ipv4_ttl1.bin",
           "ipv4_tcp.bin", "ipv4_dns.bin", "ipv4_tcp_http.bin", "runt.bin",
           "ipv4_tcp.bin"]  # fmt: skip
XDP_CTX = [None, bytes(12) + (1).to_bytes(4, "little") + bytes(8)]
SKB_CTX = [None, bytes(8) + b"\x07" + bytes(183)]
CASES = [  # (object, program, ctx_in variants)
    ("xdp_firewall.bpf.o", "xdp_firewall", XDP_CTX),
    ("tc_rewrite.bpf.o", "tc_ttl_rewrite", SKB_CTX),
    ("proto_counters.bpf.o", "xdp_proto_counters", XDP_CTX),
]
KINDS = ["interp", "jit", "loaded", "loaded-jit"]


def _make(path: Path, kind: str) -> LoadedObject:
    obj = load_object(path.read_bytes(), str(path))
    if kind.startswith("loaded"):
        return LoadedObject(obj, engine="jit" if kind == "loaded-jit" else "interp")
    return FixedObject(obj, aux=verify_object(obj).get, engine=kind)


def _maps(lo: LoadedObject) -> dict[str, list[tuple[bytes, bytes]]]:
    out: dict[str, list[tuple[bytes, bytes]]] = {}
    for name, m in lo.maps.items():
        try:
            out[name] = sorted((k, repr(v).encode()) for k, v in m.items())
        except BpfvmError:  # maps without iteration (queues, ...)
            continue
    return out


def _items(m: BpfMap) -> list[tuple[bytes, bytes | list[bytes]]]:
    try:
        return list(m.items())
    except BpfvmError:
        return []


def _outcome(r: Result | Exception) -> tuple[object, ...]:
    if isinstance(r, Exception):
        return (type(r).__name__, str(r))
    return (r.retval, r.data_out, r.ctx_out)


def _run(lo: LoadedObject, prog: str, data: bytes, ctx: bytes | None) -> tuple[object, ...]:
    try:
        return _outcome(lo.test_run(prog, data, ctx))
    except Exception as exc:  # a refused input must be refused the same way
        return _outcome(exc)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("objname", "prog", "ctxs"), CASES)
def test_repeated_runs_match_fresh_objects(
    objname: str, prog: str, ctxs: list[bytes | None], kind: str
) -> None:
    path = EXAMPLES / "c" / objname
    reused = _make(path, kind)
    seen = 0
    for i, name in enumerate(PACKETS):
        data = (EXAMPLES / "packets" / name).read_bytes()
        ctx = ctxs[i % len(ctxs)]
        fresh = _make(path, kind)
        for m_name, m in reused.maps.items():  # the fresh object starts from the same maps
            for key, value in _items(m):
                fresh.maps[m_name].update(key, value)
        got, want = _run(reused, prog, data, ctx), _run(fresh, prog, data, ctx)
        assert got == want, (name, ctx)
        assert _maps(reused) == _maps(fresh), name
        seen += not isinstance(got[0], str)
        if i == 4:  # change a map between calls: the next runs must see it
            for m in reused.maps.values():
                for key, value in _items(m)[:1]:
                    if isinstance(value, bytes):
                        m.update(key, b"\x01" * len(value))
    assert seen >= 4
    assert reused.packets.reused > 0


@pytest.mark.parametrize("prog_type", [ProgType.XDP, ProgType.SCHED_CLS, ProgType.SOCKET_FILTER])
@pytest.mark.parametrize("runtime_ctx", [False, True])
def test_pooled_state_is_pristine(prog_type: ProgType, runtime_ctx: bool) -> None:
    """A state handed back dirty (context, packet bytes, geometry) comes out as a fresh one."""
    pool = PacketPool()
    first = (EXAMPLES / "packets" / "ipv4_tcp.bin").read_bytes()
    second = bytes(b ^ 0x5A for b in first[:12]) + first[12:]
    mark = bytes(8) + b"\x07" + bytes(183) if prog_type != ProgType.XDP else None
    dirty = build_packet_context(prog_type, first, mark, runtime_ctx=runtime_ctx, pool=pool)
    state = dirty.state
    state.ctx.write(0, b"\xee" * state.ctx.size)
    state.buffer.write(0, b"\xcc" * state.buffer.size)
    state.redirect = Redirect(3, 0)
    dirty.close()
    with build_packet_context(prog_type, second, runtime_ctx=runtime_ctx, pool=pool) as again:
        assert again.state is state and pool.reused == 1
        with build_packet_context(prog_type, second, runtime_ctx=runtime_ctx) as fresh:
            assert again.finish() == fresh.finish()
            ctx_size, buf_size = fresh.state.ctx.size, fresh.state.buffer.size
            assert (again.state.ctx.size, again.state.buffer.size) == (ctx_size, buf_size)
            a, f = again.state, fresh.state
            ints = {k: v for k, v in vars(f).items() if type(v) is int}
            assert {k: v for k, v in vars(a).items() if type(v) is int} == ints
            assert a.window.addr - a.buffer.addr == f.window.addr - f.buffer.addr
            fields = slice(12, 24) if prog_type == ProgType.XDP else slice(0, 76)
            assert a.ctx.read()[fields] == f.ctx.read()[fields]  # no pointers there
            assert again.state.buffer.read(0, buf_size) == fresh.state.buffer.read(0, buf_size)
            assert again.state.redirect is None
            assert again.state.window.size == fresh.state.window.size
