"""The reference interpreter: calls, frames, memory safety, helpers, limits."""

from __future__ import annotations

import pytest

from bpfvm.asm import assemble
from bpfvm.errors import VmFault
from bpfvm.runtime.helpers import HelperCall, HelperRegistry
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import InterpOptions, Interpreter, run_program


def run(text: str, mem: bytes = b"", **kw: int) -> int:
    return run_program(assemble(text), mem, options=InterpOptions(**kw)).retval


def test_bpf_to_bpf_call_preserves_callee_saved_registers() -> None:
    text = """
        r6 = 7
        r1 = 2
        call double
        r0 += r6
        exit
    double:
        r6 = 100          # clobbers the callee's own r6 only
        r0 = r1
        r0 += r1
        exit
    """
    assert run(text) == 11


def test_each_frame_has_its_own_stack_and_may_read_the_callers() -> None:
    text = """
        *(u64 *)(r10 - 8) = 5
        r1 = r10
        r1 += -8
        call f
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        exit
    f:
        *(u64 *)(r10 - 8) = 1000     # callee's own slot: does not touch the caller's
        r0 = *(u64 *)(r1 + 0)        # the caller's slot through a pointer
        exit
    """
    assert run(text) == 10


def test_call_depth_limit_is_eight_frames() -> None:
    text = "call f\nexit\nf: call f\nexit"
    with pytest.raises(VmFault, match="the call stack of 9 frames is too deep"):
        run(text)


def test_stray_accesses_fault_cleanly() -> None:
    with pytest.raises(VmFault) as exc:
        run("r0 = *(u64 *)(r1 + 4)\nexit", b"12345678")  # 4 bytes past the end
    assert exc.value.pc == 0 and "invalid read of 8 bytes" in str(exc.value)
    with pytest.raises(VmFault, match="invalid write"):
        run("*(u8 *)(r10 + 0) = 1\nexit")  # one past the top of the stack
    with pytest.raises(VmFault, match="invalid read"):
        run("r1 = 0x7fffffff0000 ll\nr0 = *(u8 *)(r1 + 0)\nexit")  # arbitrary host address
    with pytest.raises(VmFault, match="invalid write"):
        run("r1 = r10\nr1 += -513\n*(u8 *)(r1 + 0) = 1\nexit")  # below the stack


def test_read_only_region() -> None:
    vm = Interpreter(assemble("*(u8 *)(r1 + 0) = 1\nexit"))
    ro = Region.from_bytes("rodata", b"\0", writable=False)
    with pytest.raises(VmFault, match="read-only rodata"):
        vm.run((ro.addr,), (ro,))


def test_instruction_limit_stops_infinite_loops() -> None:
    with pytest.raises(VmFault, match="instruction limit of 1000 exceeded"):
        run("l: goto l\nexit", max_insns=1000)


def test_helpers_and_missing_helpers() -> None:
    def add3(call: HelperCall, a: int, b: int, c: int, d: int, e: int) -> int:
        return a + b + c

    helpers = HelperRegistry({"bpf_map_lookup_elem": add3})
    prog = assemble("r1 = 1\nr2 = 2\nr3 = 3\ncall 1\nexit")
    assert Interpreter(prog, helpers).run().retval == 6
    with pytest.raises(VmFault, match="invalid func unknown#9999"):
        run("call 9999\nexit")
    with pytest.raises(VmFault, match="bpf_sk_lookup_tcp#84 is not implemented"):
        run("call 84\nexit")


def test_basic_helpers_are_real() -> None:
    first = run("call bpf_ktime_get_ns\nr6 = r0\ncall bpf_ktime_get_ns\nr0 -= r6\nexit")
    assert 0 <= first < 10**9
    assert run("call bpf_get_smp_processor_id\nexit") == 0


def test_stack_arguments_are_refused_by_the_interpreter() -> None:
    with pytest.raises(VmFault, match="stack args are not supported in non-JITed programs"):
        run("*(u64 *)(r11 - 8) = r1\nexit")


def test_may_goto_budget() -> None:
    text = """
        r0 = 0
    loop:
        may_goto done
        r0 += 1
        goto loop
    done:
        exit
    """
    assert run(text, max_insns=100_000_000) == 8 * 1024 * 1024


def test_atomics() -> None:
    text = """
        *(u64 *)(r10 - 8) = 10
        r1 = 5
        r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)   # r1 = 10, mem = 15
        r0 = 15
        r2 = 99
        r0 = cmpxchg_64(r10 - 8, r0, r2)              # equal: mem = 99, r0 = 15
        r3 = 1
        w3 = xchg32_32(r10 - 8, w3)                   # low word 99 -> 1
        r0 += r1
        r0 += r3
        r4 = *(u64 *)(r10 - 8)
        r0 += r4
        exit
    """
    assert run(text) == 15 + 10 + 99 + 1


def test_pseudo_ld_imm64_without_its_map_faults() -> None:
    with pytest.raises(VmFault, match="fd 3 is not pointing to valid bpf_map"):
        run("ld_pseudo r1, 1, 3\nr0 = 0\nexit")
    with pytest.raises(VmFault, match="unresolved pseudo ld_imm64"):
        run("ld_pseudo r1, 3, 7\nr0 = 0\nexit")


def test_jump_out_of_range_faults_when_reached() -> None:
    with pytest.raises(VmFault, match="jump out of range from insn 0 to 11"):
        run("goto +10\nexit")


def test_legacy_packet_loads() -> None:
    prog = assemble(
        """
        r6 = r1
        r0 = *(u16 *)skb[2]        # big-endian
        r7 = r0
        r1 = 4
        r0 = *(u32 *)skb[r1 + 0]
        r0 += r7
        r0 = *(u8 *)skb[100]       # out of bounds: the program ends with r0 = 0
        r0 = 77
        exit
        """
    )
    packet = Region.from_bytes("packet", bytes(range(16)), writable=False)
    assert Interpreter(prog).run(packet=packet).retval == 0
    prog = assemble(
        "r0 = *(u16 *)skb[2]\nr6 = r0\nr1 = 4\nr0 = *(u32 *)skb[r1 - 2]\nr0 += r6\nexit"
    )
    expected = 0x0203 + 0x02030405
    assert Interpreter(prog).run(packet=packet).retval == expected
    with pytest.raises(VmFault, match="needs a socket buffer"):
        Interpreter(prog).run()
