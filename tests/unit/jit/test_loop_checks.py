"""Checked accesses inside loops keep their site cache in registers: still exact.

The copy is reloaded after every call, so a Python helper that moves the packet
(``bpf_xdp_adjust_head``) makes the next access through a stale pointer fault as in the
interpreter, and a run after another run's regions sees only its own.
"""

from __future__ import annotations

import pytest

from bpfvm.asm import assemble
from bpfvm.errors import VmFault
from bpfvm.hooks.context import build_packet_context
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import BatchItem, JitEngine

ADJUST_IN_LOOP = """
        r6 = r1
        r7 = 0
        r8 = *(u32 *)(r6 + 0)
loop:   r0 = *(u8 *)(r8 + 0)
        r1 = r6
        r2 = {delta}
        call bpf_xdp_adjust_head
        r7 += 1
        if r7 < 3 goto loop
        exit
"""


def xdp_outcome(engine: Interpreter | JitEngine) -> object:
    ctx = build_packet_context(ProgType.XDP, bytes(range(64)))
    engine.call.packet = ctx.packet_state
    try:
        return engine.run(ctx.args, ctx.regions, ctx.packet).retval
    except VmFault as fault:
        return fault.pc, fault.reason.split(" at ")[0]
    finally:
        ctx.close()


@pytest.mark.parametrize("delta", [1, -1, 40])
def test_packet_moved_by_a_helper_inside_a_loop(delta: int) -> None:
    insns = assemble(ADJUST_IN_LOOP.format(delta=delta))
    assert xdp_outcome(JitEngine(insns)) == xdp_outcome(Interpreter(insns))


SUM = """
        r0 = 0
        r3 = 0
loop:   r4 = r1
        r4 += r3
        r5 = *(u8 *)(r4 + 0)
        r0 += r5
        r3 += 1
        if r3 < r2 goto loop
        exit
"""


def test_loop_sites_start_from_each_runs_regions() -> None:
    engine = JitEngine(assemble(SUM))
    first, second = Region.from_bytes("a", bytes(range(16))), Region.from_bytes("b", bytes(16))
    assert engine.run((first.addr, 16), (first,)).retval == sum(range(16))
    with pytest.raises(VmFault, match="invalid read of 1 bytes"):
        engine.run((first.addr, 16), (second,))  # the cached region is not this run's
    items = [BatchItem((first.addr, 16), (first,)), BatchItem((first.addr, 16), (second,))]
    with pytest.raises(VmFault, match="invalid read of 1 bytes"):
        engine.run_batch(items)
    assert engine.run((second.addr, 16), (second,), repeat=100).retval == 0
