"""The JIT's per-run setup reused between runs over the same pooled objects: the region table
is kept when the regions and packet state are the very same objects, and a run that moved the
packet (``bpf_xdp_adjust_head``, native or through Python) leaves nothing behind for the next
one; the packet window keeps its backing array while it does not move."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfvm.asm import assemble
from bpfvm.cli.test_run import verify_object
from bpfvm.elf.loader import load_object
from bpfvm.fixups.ctx_layout import XDP_BUFF
from bpfvm.hooks.context import build_packet_context
from bpfvm.hooks.fixed import FixedObject
from bpfvm.hooks.pool import PacketPool
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.ctx_runtime import RuntimeXdpPacket, runtime_ctx_of
from bpfvm.runtime.packet import PacketBuffer, PacketWindow, SkbPacket
from bpfvm.vm.jit.engine import JitEngine

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FRAME = bytes(range(14)) + bytes((5 * i + 1) & 0xFF for i in range(80))

# adjust_head by r2 (from the run's second argument), then r0 = data_end - data
ADJUST = assemble(
    """
    r6 = r1
    call bpf_xdp_adjust_head
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r0 = r3
    r0 -= r2
    exit
    """
)


def _run(vm: JitEngine, pool: PacketPool, delta: int) -> tuple[int, bytes, bytes]:
    with build_packet_context(ProgType.XDP, FRAME, pool=pool) as pc:
        vm.call.packet = pc.packet_state
        try:
            r0 = vm.run([pc.args[0], delta & ((1 << 64) - 1)], pc.regions, pc.packet).retval
            data_out, ctx_out = pc.finish()
        finally:
            vm.call.packet = None
    return r0, data_out, ctx_out


@pytest.mark.parametrize("deltas", [[-14, 0, 14, -14, 0], [14, 14, -8, 0]])
def test_pooled_runs_after_moves_match_fresh_runs(deltas: list[int]) -> None:
    vm, pool = JitEngine(list(ADJUST)), PacketPool()
    for delta in deltas:
        fresh = _run(JitEngine(list(ADJUST)), PacketPool(), delta)
        assert _run(vm, pool, delta) == fresh
    assert pool.reused == len(deltas) - 1


def test_region_table_reused_for_the_same_objects_only() -> None:
    vm, pool = JitEngine(list(ADJUST)), PacketPool()
    _run(vm, pool, 0)
    table = vm._table
    _run(vm, pool, -14)
    assert vm._table is table  # same pooled state, same regions
    assert _run(vm, PacketPool(), 0) == _run(JitEngine(list(ADJUST)), PacketPool(), 0)
    assert vm._table is not table  # another packet state: a table of its own


def test_fixed_object_keeps_its_table_and_results() -> None:
    path = EXAMPLES / "c" / "xdp_firewall.bpf.o"
    obj = load_object(path.read_bytes(), str(path))
    lo = FixedObject(obj, aux=verify_object(obj).get, engine="jit")
    packet = (EXAMPLES / "packets" / "ipv4_tcp.bin").read_bytes()
    first = lo.test_run("xdp_firewall", packet)
    assert isinstance(lo.vm, JitEngine)
    table = lo.vm._table
    again = [lo.test_run("xdp_firewall", packet) for _ in range(3)]
    assert lo.vm._table is table
    assert {(r.retval, r.data_out, r.ctx_out) for r in again} == {
        (first.retval, first.data_out, first.ctx_out)
    }


def test_window_keeps_its_backing_until_it_moves() -> None:
    owner = PacketBuffer(4096)
    window = PacketWindow("packet", 0, True, owner=owner)
    window.retarget(owner, 64, 100)
    buf = window.buf
    window.retarget(owner, 64, 100)
    assert window.buf is buf
    window.retarget(owner, 50, 114)
    assert window.buf is not buf and len(window.buf) == 114
    assert (window.addr, window.size) == (owner.addr + 50, 114)
    window.retarget(owner, 50, 0)
    assert len(window.buf) == 1 and window.size == 0
    other = PacketBuffer(4096)
    window.retarget(other, 50, 0)
    assert window.addr == other.addr + 50
    owner.close()
    other.close()


def test_sync_publishes_both_views() -> None:
    state = RuntimeXdpPacket(FRAME, 4, [], 1, 0)
    state.data_meta -= 8
    state.data -= 8
    state.sync()
    base = state.buffer.addr
    ptrs = runtime_ctx_of(state.ctx, XDP_BUFF)
    assert ptrs["data"] == base + state.data
    assert ptrs["data_end"] == base + state.data_end
    assert ptrs["data_meta"] == base + state.data_meta
    uapi = [int.from_bytes(state.ctx.read(off, 4), "little") for off in (0, 4, 8)]
    assert uapi == [(base + v) & 0xFFFFFFFF for v in (state.data, state.data_end, state.data_meta)]
    assert state.window.addr == base + state.data_meta
    state.close()
    skb = SkbPacket(FRAME, True)
    skb.hash = 0xABCD
    skb.sync()
    assert int.from_bytes(skb.ctx.read(0, 4), "little") == len(FRAME)
    assert int.from_bytes(skb.ctx.read(68, 4), "little") == 0xABCD
    assert (
        int.from_bytes(skb.ctx.read(76, 4), "little") == (skb.buffer.addr + skb.data) & 0xFFFFFFFF
    )
    skb.close()
