"""Each fixup pass: what it rewrites, and that the rewritten program computes the same."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from bpfvm.fixups import FixupError, FixupOptions, LoopInline, link, standalone_aux
from bpfvm.fixups.analysis import frame_stack_depth, to_slots
from bpfvm.fixups.build import (
    alu64_imm,
    call_helper,
    call_rel,
    ja,
    jmp_imm,
    ldx_mem,
    mov64_imm,
    mov64_reg,
    st_mem,
    stx_mem,
)
from bpfvm.fixups.link import MapAddress
from bpfvm.fixups.program import BPF_MAX_LOOPS, BPF_REG_AX, TAIL_CALL_CODE
from bpfvm.hooks.context import build_packet_context
from bpfvm.isa.insn import Insn, ld_imm64
from bpfvm.isa.opcodes import AluOp, InsnClass, JmpOp
from bpfvm.platform.arg_types import RegBase
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.runtime.maps import create_map
from bpfvm.vm.interp import Interpreter
from tests.unit.fixups.facts import aux_with
from tests.unit.fixups.helpers import EXIT, prog, run_fixed, run_raw, xlate

M64 = (1 << 64) - 1
VALUES = [0, 1, 7, -1, -7, 1 << 31, (1 << 31) - 1, -(1 << 31), 1 << 63, (1 << 63) - 1, 0xFFFFFFFF]


@pytest.mark.parametrize(
    ("cls", "op", "signed"),
    list(itertools.product((InsnClass.ALU64, InsnClass.ALU), (AluOp.DIV, AluOp.MOD), (0, 1))),
)
def test_division_guards_keep_the_interpreter_semantics(cls: int, op: int, signed: int) -> None:
    for a, b in itertools.product(VALUES, VALUES):
        insns = [
            ld_imm64(0, a),
            ld_imm64(1, b),
            Insn(cls | op | 0x08, 0, 1, signed),
            EXIT,
        ]
        p = prog(insns)
        x = xlate(p)
        assert len(x.insns) > len(insns)  # guarded
        assert any(i.dst == BPF_REG_AX for i in x.insns) == bool(signed)
        assert run_fixed(x) == run_raw(p), (hex(a), hex(b))


@pytest.mark.parametrize("cls", [InsnClass.ALU64, InsnClass.ALU])
def test_signed_division_by_constant_minus_one(cls: int) -> None:
    for a, op in itertools.product(VALUES, (AluOp.DIV, AluOp.MOD)):
        insns = [ld_imm64(0, a), Insn(cls | op, 0, 0, 1, -1), EXIT]
        p = prog(insns)
        x = xlate(p)
        assert len(x.insns) == 3 and (x.insns[1].code & 0xF0) in (AluOp.NEG, AluOp.MOV)
        assert run_fixed(x) == run_raw(p)


def test_may_goto_becomes_a_counter_below_the_stack() -> None:
    insns = [
        st_mem(8, 10, -8, 0),
        mov64_imm(0, 0),
        Insn(0xE5, 0, 0, 2),  # may_goto +2
        alu64_imm(AluOp.ADD, 0, 1),
        ja(-3),
        EXIT,
    ]
    x = xlate(prog(insns))
    assert x.insns[0] == st_mem(8, 10, -16, BPF_MAX_LOOPS)  # counter init at the start
    assert x.stack_depths == (16,)
    assert [i.code for i in x.insns[3:7]] == [0x79, 0x15, 0x17, 0x7B]
    # with a budget of 3 the loop body runs 3 times, then the jump is taken
    small = replace(x, insns=(st_mem(8, 10, -16, 3), *x.insns[1:]))
    assert run_fixed(small) == 3


def test_may_goto_init_is_skipped_by_a_loop_back_to_the_start() -> None:
    insns = [Insn(0xE5, 0, 0, 1), ja(-2), mov64_imm(0, 5), EXIT]
    x = xlate(prog(insns))
    assert x.insns[0].code == 0x7A  # the counter store
    back = x.insns[5]
    assert back.code == 0x05 and 5 + 1 + back.off == 1  # loops to the may_goto, not the store
    small = replace(x, insns=(st_mem(8, 10, -8, 4), *x.insns[1:]))
    assert run_fixed(small) == 5


def _loop_program(stop: int) -> tuple[list[Insn], tuple[int, int]]:
    main = [
        mov64_reg(6, 1),
        mov64_reg(1, 6),
        Insn(0x18, 2, 4, 0, 0),  # r2 = callback
        mov64_imm(3, 0),
        mov64_imm(4, 0),
        call_helper(181),
        EXIT,
    ]
    cb = [mov64_imm(0, 0), jmp_imm(JmpOp.JNE, 1, stop, 1), mov64_imm(0, 1), EXIT]
    cb_start = sum(i.width for i in main)
    main[2] = Insn(0x18, 2, 4, 0, cb_start - 2 - 1)
    return main + cb, (0, cb_start)


@pytest.mark.parametrize(("nr", "stop"), [(5, 99), (5, 2), (0, 0), (BPF_MAX_LOOPS + 1, 0)])
def test_bpf_loop_inlined_behaves_like_the_helper(nr: int, stop: int) -> None:
    insns, starts = _loop_program(stop)
    p = prog(insns, starts)
    aux = aux_with(p, insns={6: {"loop_inline": LoopInline(True, 1)}})
    x = xlate(p, aux)
    assert not any(i.code == 0x85 and i.src == 0 and i.imm == 181 for i in x.insns)
    assert x.stack_depths[0] == 24
    if nr > BPF_MAX_LOOPS:  # the kernel's inlined loop writes -E2BIG with a 32-bit move
        assert run_fixed(x, (nr,)) == run_raw(p, (nr,)) & 0xFFFFFFFF == (-7) & 0xFFFFFFFF
    else:
        assert run_fixed(x, (nr,)) == run_raw(p, (nr,))


def _skb_prog(insns: list[Insn], ctx_slots: list[int]) -> tuple[object, object]:
    p = prog(insns, prog_type=ProgType.SCHED_CLS)
    aux = aux_with(p, insns={i: {"ptr_type": RegBase.PTR_TO_CTX} for i in ctx_slots})
    return p, aux


def test_ctx_pointers_and_narrow_loads_on_the_runtime_skb() -> None:
    insns = [
        ldx_mem(4, 2, 1, 76),  # data
        ldx_mem(4, 3, 1, 80),  # data_end
        Insn(0x1F, 3, 2),  # r3 -= r2
        ldx_mem(2, 4, 1, 2),  # the high half of len
        ldx_mem(1, 5, 1, 16),  # a byte of protocol
        ldx_mem(1, 0, 1, 0, signed=True),  # (s8) len
        alu64_imm(AluOp.LSH, 4, 16),
        Insn(0x0F, 0, 3),
        Insn(0x0F, 0, 4),
        Insn(0x0F, 0, 5),
        EXIT,
    ]
    p, aux = _skb_prog(insns, [0, 1, 3, 4, 5])
    x = xlate(p, aux)  # type: ignore[arg-type]
    assert x.insns[0] == ldx_mem(8, 2, 1, 192) and x.insns[1] == ldx_mem(8, 3, 1, 200)
    assert x.insns[3:6] == (
        ldx_mem(4, 4, 1, 0),
        Insn(0x74, 4, 0, 0, 16),
        Insn(0x54, 4, 0, 0, 0xFFFF),
    )
    frame = bytes(range(14, 0, -1)) + bytes(200)
    uapi = build_packet_context(ProgType.SCHED_CLS, frame)
    runtime = build_packet_context(ProgType.SCHED_CLS, frame, runtime_ctx=True)
    raw = Interpreter(p.insns).run(uapi.args, uapi.regions).retval  # type: ignore[attr-defined]
    assert run_fixed(x, runtime.args, runtime.regions) == raw
    uapi.close()
    runtime.close()


def test_hard_wired_and_removed_dead_code() -> None:
    insns = [
        mov64_imm(0, 1),
        jmp_imm(JmpOp.JEQ, 0, 1, 2),  # always taken
        mov64_imm(0, 2),
        ja(0),
        Insn(0x05, 0, 0, 0),
        EXIT,
    ]
    p = prog(insns)
    seen = {2: {"seen": False}, 3: {"seen": False}}
    x = xlate(p, aux_with(p, insns=seen))
    assert x.insns == (mov64_imm(0, 1), EXIT)  # jeq -> ja +2 -> removed as ja 0, dead code gone
    unpriv = replace(aux_with(p, insns=seen), privileged=False)
    y = xlate(p, unpriv)
    assert y.insns[2] == ja(-1) and y.insns[3] == ja(-1) and len(y.insns) == len(insns)
    assert run_fixed(x) == run_fixed(y) == run_raw(p) == 1


def test_cmpxchg32_is_zero_extended_and_jit_zext_everywhere() -> None:
    insns = [st_mem(8, 10, -8, 5), mov64_imm(0, 5), mov64_imm(1, 9), mov64_reg(2, 10)]
    insns += [Insn(0xC3, 2, 1, -8, 0xF1), EXIT]  # w0 = cmpxchg32_32(r2 - 8, w0, w1)
    p = prog(insns)
    x = xlate(p)
    assert x.insns[5] == Insn(0xBC, 0, 0)  # w0 = w0 after the 32-bit cmpxchg
    assert run_fixed(x) == run_raw(p) == 5
    jit = xlate(p, options=FixupOptions(engine="jit", jit_needs_zext=True))
    assert len(jit.insns) == len(x.insns)  # only the one 32-bit definition


def test_link_resolves_maps_and_inlined_array_lookup_matches_the_helper() -> None:
    spec = MapSpec("a", MapType.ARRAY, 4, 12, 3)
    m = create_map(spec, 1)
    m.update((1).to_bytes(4, "little"), bytes(range(12)))
    insns = [
        st_mem(4, 10, -4, 1),
        mov64_reg(2, 10),
        alu64_imm(AluOp.ADD, 2, -4),
        Insn(0x18, 1, 1, 0, 0),  # r1 = map[0]
        call_helper(1),
        jmp_imm(JmpOp.JEQ, 0, 0, 1),
        ldx_mem(4, 0, 0, 4),
        EXIT,
    ]
    p = replace(prog(insns), maps=(spec,))
    x = xlate(p, aux_with(p, insns={5: {"map_idx": 0}}))
    assert x.call_table == ()  # the lookup is inline
    linked = link(x, [MapAddress(m.handle.addr)])
    assert linked.linked and linked.insns[3].src == 0 and linked.insns[3].imm64 == m.handle.addr
    vm = Interpreter(linked.insns, maps=[m], call_table=[])
    assert vm.run().retval == int.from_bytes(bytes(range(4, 8)), "little")
    with pytest.raises(FixupError, match="fd 0 is not pointing to valid bpf_map"):
        link(x, [])


def test_tail_call_becomes_the_internal_opcode_with_unprivileged_bounds() -> None:
    spec = MapSpec("jmp", MapType.PROG_ARRAY, 4, 4, 5)
    insns = [Insn(0x18, 2, 1, 0, 0), mov64_imm(3, 1), call_helper(12), mov64_imm(0, 0), EXIT]
    p = replace(prog(insns), maps=(spec,))
    x = xlate(p, aux_with(p, insns={3: {"map_idx": 0}}))
    assert x.insns[2] == Insn(TAIL_CALL_CODE)
    unpriv = replace(aux_with(p, insns={3: {"map_idx": 0}}), privileged=False)
    y = xlate(p, unpriv)
    assert y.insns[2:5] == (
        jmp_imm(JmpOp.JGE, 3, 5, 2),
        Insn(0x54, 3, 0, 0, 7),
        Insn(TAIL_CALL_CODE),
    )
    poisoned = replace(aux_with(p, insns={3: {"map_idx": -2}}), privileged=False)
    with pytest.raises(FixupError, match="tail_call abusing map_ptr"):
        xlate(p, poisoned)


def test_stack_depth_limits() -> None:
    main = [st_mem(8, 10, -512, 0), call_rel(1), EXIT, st_mem(8, 10, -8, 0), mov64_imm(0, 0), EXIT]
    with pytest.raises(FixupError, match=r"combined stack size of 2 calls is 544\. Too large"):
        xlate(prog(main, (0, 3)))
    chain: list[Insn] = []
    for _ in range(8):
        chain += [call_rel(1), EXIT]
    chain += [mov64_imm(0, 0), EXIT]
    with pytest.raises(FixupError, match="the call stack of 8 frames is too deep !"):
        xlate(prog(chain, tuple(range(0, 18, 2))))


def test_standalone_stack_depth_is_an_over_estimate() -> None:
    insns = [
        mov64_reg(2, 10),
        alu64_imm(AluOp.ADD, 2, -16),
        stx_mem(8, 2, 1, -8),  # r10 - 24
        mov64_reg(3, 10),
        EXIT,
    ]
    assert frame_stack_depth(to_slots(insns), 0, len(insns)) == 24
    escaped = [*insns[:4], stx_mem(8, 10, 2, -8), EXIT]  # a stack pointer stored to memory
    assert frame_stack_depth(to_slots(escaped), 0, len(escaped)) == 512
    assert standalone_aux(prog(insns)).subprogs[0].stack_depth == 24


def test_sanitize_turns_a_dead_ld_imm64_into_two_self_loops() -> None:
    insns = [mov64_imm(0, 1), ja(2), ld_imm64(0, 5), EXIT]
    p = prog(insns)
    aux = replace(aux_with(p, insns={2: {"seen": False}, 3: {"seen": False}}), privileged=False)
    x = xlate(p, aux)
    assert x.insns == (mov64_imm(0, 1), ja(2), ja(-1), ja(-1), EXIT)
    assert run_fixed(x) == 1
