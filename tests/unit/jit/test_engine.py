"""The JIT engine: the interpreter's results and faults, and what only the JIT does."""

from __future__ import annotations

import re
import time

import pytest

from bpfvm.asm import assemble
from bpfvm.errors import VmFault
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AtomicOp, InsnClass, Mode, Size
from bpfvm.runtime.helpers import HelperCall, HelperRegistry, default_registry
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import BatchItem, JitEngine, JitOptions, jit_run_program


def outcome(engine: Interpreter | JitEngine, mem: bytes = b"", **kw: object) -> object:
    region = Region.from_bytes("mem", mem)
    try:
        return engine.run((region.addr, len(mem)), (region,), **kw).retval  # type: ignore[arg-type]
    except VmFault as fault:  # the buffer and the stacks live at different addresses
        reason = re.sub(r"0x[0-9a-f]{6,}", "ADDR", fault.reason.replace(hex(region.addr), "BUF"))
        return f"pc {fault.pc}: {reason}"


def both(text: str, mem: bytes = b"") -> tuple[object, object]:
    insns = assemble(text)
    return outcome(Interpreter(insns), mem), outcome(JitEngine(insns), mem)


SAME = {
    "callee_saved": "r6 = 7\nr1 = 2\ncall f\nr0 += r6\nexit\nf: r6 = 100\nr0 = r1\nr0 += r1\nexit",
    "caller_stack_through_pointer": """
        *(u64 *)(r10 - 8) = 5
        r1 = r10
        r1 += -8
        call f
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        exit
    f:  *(u64 *)(r10 - 8) = 1000
        r0 = *(u64 *)(r1 + 0)
        exit""",
    "stack_array_indexing": """
        r2 = 0
    l:  r3 = r10
        r3 += -64
        r4 = r2
        r4 <<= 3
        r3 += r4
        *(u64 *)(r3 + 0) = r2
        r2 += 1
        if r2 < 8 goto l
        r0 = *(u64 *)(r10 - 16)
        exit""",
    "depth_limit": "call f\nexit\nf: call f\nexit",
    "read_past_buffer": "r0 = *(u64 *)(r1 + 4)\nexit",
    "write_above_stack": "*(u8 *)(r10 + 0) = 1\nexit",
    "wild_read": "r1 = 0x7fffffff0000 ll\nr0 = *(u8 *)(r1 + 0)\nexit",
    "div_edges": """
        r0 = 0x8000000000000000 ll
        r1 = -1
        r0 s/= r1
        r2 = 7
        r3 = 0
        r2 %= r3
        r0 += r2
        w4 = 0x80000000
        w5 = -1
        w4 s%= w5
        r0 += r4
        r6 = 1
        r7 = 65
        r6 <<= r7
        r0 += r6
        exit""",
    "missing_helper": "call 9999\nexit",
    "unimplemented_helper": "call 84\nexit",
    "map_fd_without_map": "ld_pseudo r1, 1, 3\nr0 = 0\nexit",
    "unresolved_pseudo": "ld_pseudo r1, 3, 7\nr0 = 0\nexit",
    "jump_out_of_range": "goto +10\nexit",
    "fell_off_the_end": "r0 = 1",
    "atomics": """
        *(u64 *)(r10 - 8) = 10
        r1 = 5
        r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
        r0 = 15
        r2 = 99
        r0 = cmpxchg_64(r10 - 8, r0, r2)
        r3 = 1
        w3 = xchg32_32(r10 - 8, w3)
        r0 += r1
        r0 += r3
        r4 = *(u64 *)(r10 - 8)
        r0 += r4
        exit""",
    "unaligned_atomic_on_buffer": """
        r2 = 3
        lock *(u32 *)(r1 + 1) += r2
        r2 = atomic_fetch_or((u64 *)(r1 + 3), r2)
        r0 = *(u64 *)(r1 + 0)
        r0 += r2
        exit""",
    "ld_abs_without_packet": "r6 = r1\nr0 = *(u8 *)skb[0]\nexit",
}


@pytest.mark.parametrize("name", sorted(SAME))
def test_same_result_or_fault_as_the_interpreter(name: str) -> None:
    interp, jit = both(SAME[name], bytes(range(16)))
    assert jit == interp


def test_read_only_regions_and_cmpxchg_on_them() -> None:
    ro = Region.from_bytes("rodata", b"\x05" + bytes(7), writable=False)
    for text in ("*(u8 *)(r1 + 0) = 1\nexit", "lock *(u64 *)(r1 + 0) += r1\nexit"):
        with pytest.raises(VmFault, match=r"write of . bytes into read-only rodata"):
            JitEngine(assemble(text)).run((ro.addr,), (ro,))
    # cmpxchg writes only when the comparison holds: a mismatch on read-only memory is fine
    cmpx = "r2 = 9\nr0 = {}\nr0 = cmpxchg_64(r1 + 0, r0, r2)\nexit"
    assert JitEngine(assemble(cmpx.format(4))).run((ro.addr,), (ro,)).retval == 5
    with pytest.raises(VmFault, match="read-only rodata"):
        JitEngine(assemble(cmpx.format(5))).run((ro.addr,), (ro,))


def test_stack_arguments_run_on_the_jit() -> None:
    """SPEC.md 2.4: six and seven arguments, slots written afresh before each call."""
    text = """
        r1 = 1
        r2 = 2
        r3 = 3
        r4 = 4
        r5 = 5
        *(u64 *)(r11 - 8) = 6
        call sum6
        r6 = r0
        r1 = 1
        r2 = 2
        r3 = 3
        r4 = 4
        r5 = 5
        r7 = 100
        *(u64 *)(r11 - 8) = r7
        *(u64 *)(r11 - 16) = 7
        call sum7
        r0 += r6
        exit
    sum6:
        r0 = *(u64 *)(r11 + 8)
        r0 += r1
        r0 += r2
        r0 += r3
        r0 += r4
        r0 += r5
        exit
    sum7:
        r0 = *(u64 *)(r11 + 8)
        r6 = *(u64 *)(r11 + 16)
        r0 += r6
        r6 = r0
        r1 += r2
        r1 += r3
        r1 += r4
        r1 += r5
        r0 = r1
        r0 += r6
        exit
    """
    assert jit_run_program(assemble(text)).retval == 21 + 122
    with pytest.raises(VmFault, match="invalid stack argument access"):
        jit_run_program(assemble("r0 = *(u64 *)(r11 + 64)\nexit"))


def test_loop_budget_stops_runaway_loops() -> None:
    with pytest.raises(VmFault, match="loop budget of 1000 back-edges exceeded"):
        jit_run_program(assemble("l: goto l\nexit"), options=JitOptions(max_loops=1000))


def test_may_goto_budget() -> None:
    text = "r0 = 0\nl: may_goto done\nr0 += 1\ngoto l\ndone: exit"
    assert jit_run_program(assemble(text)).retval == 8 * 1024 * 1024


def test_legacy_packet_loads() -> None:
    packet = Region.from_bytes("packet", bytes(range(16)), writable=False)
    prog = assemble("r6 = r1\nr0 = *(u16 *)skb[2]\nr7 = r0\nr0 = *(u8 *)skb[100]\nexit")
    assert JitEngine(prog).run(packet=packet).retval == 0
    prog = assemble(
        "r0 = *(u16 *)skb[2]\nr6 = r0\nr1 = 4\nr0 = *(u32 *)skb[r1 - 2]\nr0 += r6\nexit"
    )
    assert JitEngine(prog).run(packet=packet).retval == 0x0203 + 0x02030405


def test_python_helpers_exceptions_and_replacements() -> None:
    def add3(call: HelperCall, a: int, b: int, c: int, d: int, e: int) -> int:
        return a + b + c + call.pc

    def boom(call: HelperCall, *_: int) -> int:
        raise ZeroDivisionError("helper bug")

    helpers = HelperRegistry({"bpf_map_lookup_elem": add3, "bpf_ktime_get_ns": boom})
    prog = assemble("r1 = 1\nr2 = 2\nr3 = 3\ncall 1\nexit")
    assert JitEngine(prog, helpers).run().retval == 6 + 3  # a user's helper, never inlined
    engine = JitEngine(assemble("call bpf_ktime_get_ns\nexit"), helpers)
    with pytest.raises(ZeroDivisionError, match="helper bug"):
        engine.run()
    with pytest.raises(ZeroDivisionError):  # the engine stays usable
        engine.run()


def test_inline_helpers() -> None:
    before = time.monotonic_ns()
    now = jit_run_program(assemble("call bpf_ktime_get_ns\nexit")).retval
    assert before <= now <= time.monotonic_ns()
    engine = JitEngine(assemble("call bpf_get_smp_processor_id\nexit"))
    engine.call.cpu = 3
    assert engine.run().retval == 3
    rnd = JitEngine(assemble("call bpf_get_prandom_u32\nr6 = r0\ncall 7\nr0 ^= r6\nexit"))
    assert 0 < rnd.run().retval < 2**32


LOOP = """
        r6 = 0
        *(u64 *)(r10 - 8) = r6
        r1 = {n}
        ld_pseudo r2, 4, 9          # slot 3: a reference to the callback at slot 13
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_loop
        r1 = *(u64 *)(r10 - 8)
        r0 <<= 32
        r0 += r1
        exit
        r3 = *(u64 *)(r2 + 0)       # slot 13: cb(i, ctx): *ctx += i; stop after i == 6
        r3 += r1
        *(u64 *)(r2 + 0) = r3
        r0 = 0
        if r1 != 6 goto out
        r0 = 1
    out:
        exit
"""


@pytest.mark.parametrize("n", [0, 5, 100, 1 << 24])
def test_bpf_loop_inline_and_through_python(n: int) -> None:
    """bpf_loop inline (a native loop) and through a Python helper (which invokes the
    callback natively) agree with the interpreter."""
    insns = assemble(LOOP.format(n=n))
    expected = Interpreter(insns).run().retval
    stock = default_registry().get(181)
    assert stock is not None

    def wrapped(call: HelperCall, *args: int) -> int:  # not bpfvm's own: never inlined
        assert stock is not None
        return stock(call, *args)

    assert JitEngine(insns).run().retval == expected
    assert JitEngine(insns, HelperRegistry({"bpf_loop": wrapped})).run().retval == expected


def test_tail_calls_stop_after_33() -> None:
    counter = "r2 = *(u64 *)(r1 + 0)\nr2 += 1\n*(u64 *)(r1 + 0) = r2\nr2 = 0\nr3 = 0\ncall 12\n"
    insns = assemble(counter + "r0 = *(u64 *)(r1 + 0)\nexit")
    interp = Interpreter.for_programs([insns])
    interp.tail_call_target = lambda m, i: 0
    jit = JitEngine.for_programs([insns])
    jit.tail_call_target = lambda m, i: 0
    assert outcome(jit, bytes(8)) == outcome(interp, bytes(8)) == 34


def test_repeat_and_batch() -> None:
    insns = assemble("r0 = *(u32 *)(r1 + 0)\nr0 += 1\n*(u32 *)(r1 + 0) = r0\nexit")
    engine = JitEngine(insns)
    mem = Region.from_bytes("mem", bytes(4))
    assert engine.run((mem.addr,), (mem,), repeat=1000).retval == 1000
    regions = [Region.from_bytes(f"m{i}", bytes([i, 0, 0, 0])) for i in range(10)]
    results = engine.run_batch([BatchItem((r.addr,), (r,)) for r in regions])
    assert [r.retval for r in results] == list(range(1, 11))
    with pytest.raises(VmFault, match="invalid read of 4 bytes"):
        engine.run_batch([BatchItem((regions[0].addr,), (regions[0],)), BatchItem((0,), ())])
    # each item sees only its own regions, even where the previous item's access was cached
    first, second = regions[0], regions[1]
    with pytest.raises(VmFault, match="invalid read of 4 bytes"):
        engine.run_batch([BatchItem((first.addr,), (first,)), BatchItem((first.addr,), (second,))])


def test_unchecked_mode_for_verified_programs() -> None:
    insns = assemble("r0 = *(u32 *)(r1 + 0)\nr0 += 1\nexit")
    fast = JitEngine(insns, options=JitOptions(checked=False, max_loops=None, opt_level=3))
    mem = Region.from_bytes("mem", (41).to_bytes(4, "little"))
    assert fast.run((mem.addr,), (mem,)).retval == 42


def test_unknown_registers_and_atomic_opcodes_fault() -> None:
    bad_atomic = Insn(InsnClass.STX | Mode.ATOMIC | Size.H, 10, 1, -8, AtomicOp.ADD)
    with pytest.raises(VmFault, match="invalid atomic opcode 00"):
        JitEngine([bad_atomic, Insn(0x95)]).run()
    with pytest.raises(VmFault, match="R12 is invalid"):
        JitEngine([Insn(0xB7, 12, 0, 0, 1), Insn(0x95)]).run()


def test_compiled_code_is_cached_and_shared() -> None:
    insns = assemble("r0 = 42\nexit")
    first, second = JitEngine(insns), JitEngine(insns)
    assert first.compiled is second.compiled
    assert first.run().retval == second.run().retval == 42
    assert "bpf_prog_0" in first.assembly(0) and "define" in first.ir
