"""Pinned kernel cases: each expected text is what the Linux 6.18.44 verifier log printed for
the same instruction sequence (socket filter, ``log_level=2``), ids and ``P`` marks aside."""

from __future__ import annotations

import pytest

from bpfvm.isa.opcodes import AluOp, JmpOp
from bpfvm.verifier.scalar import (
    Scalar,
    branch_taken,
    flip_jmp,
    fork_scalar,
    format_scalar,
    negate_jmp,
    refine_cond,
    scalar_alu,
    scalar_end,
    scalar_movsx,
)
from bpfvm.verifier.tnum import Tnum

UNKNOWN = Scalar.unknown()
K = Scalar.const


def alu(op: AluOp, dst: Scalar, src: int | Scalar, alu32: bool = False) -> Scalar:
    return scalar_alu(op, dst, K(src) if isinstance(src, int) else src, alu32)


def text(s: Scalar) -> str:
    return format_scalar(s)


def test_alu32_on_masked_value_and_unsigned_compare() -> None:
    r1 = alu(AluOp.AND, UNKNOWN, 255)  # r1 &= 255
    assert text(r1) == "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))"
    r1 = alu(AluOp.ADD, r1, 3, alu32=True)  # w1 += 3
    assert text(r1) == (
        "scalar(smin=umin=smin32=umin32=3,smax=umax=smax32=umax32=258,var_off=(0x0; 0x1ff))"
    )
    assert branch_taken(JmpOp.JGT, r1, K(100), False) == -1
    taken, _ = refine_cond(JmpOp.JGT, r1, K(100), False)
    fall, _ = refine_cond(JmpOp.JGT, r1, K(100), False, negate=True)
    assert text(fall) == (
        "scalar(smin=umin=smin32=umin32=3,smax=umax=smax32=umax32=100,var_off=(0x0; 0x7f))"
    )
    assert text(taken) == (
        "scalar(smin=umin=smin32=umin32=101,smax=umax=smax32=umax32=258,var_off=(0x0; 0x1ff))"
    )


def test_constants_print_signed_and_in_hex_when_large() -> None:
    assert text(K(-1)) == "-1"
    assert text(K(42)) == "42"
    assert text(K(-40000)) == "0xffffffffffff63c0"
    assert text(Scalar.const32(-8)) == "0xfffffff8"
    assert text(K(0x1000000FF)) == "0x1000000ff"
    assert text(UNKNOWN) == "scalar()"
    assert format_scalar(K(3), precise=True) == "P3"
    assert format_scalar(UNKNOWN, reg_id=2, id_delta=-3) == "scalar(id=2-3)"
    assert format_scalar(alu(AluOp.AND, UNKNOWN, 6), reg_id=1) == (
        "scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=6,var_off=(0x0; 0x6))"
    )


def test_mov32_of_unknown() -> None:
    w9 = scalar_alu(AluOp.MOV, UNKNOWN, UNKNOWN, True)
    assert text(w9) == "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    assert scalar_alu(AluOp.MOV, UNKNOWN, K(-8), True) == Scalar.const32(-8)


def test_or_then_and_collapses_to_a_single_value() -> None:
    r2 = alu(AluOp.OR, UNKNOWN, 3584)
    assert text(r2) == (
        "scalar(smin=0x8000000000000e00,umin=umin32=3584,smin32=0x80000e00,"
        "var_off=(0xe00; 0xfffffffffffff1ff))"
    )
    r2 = alu(AluOp.AND, r2, 3840)
    assert text(r2) == (
        "scalar(smin=umin=smin32=umin32=3584,smax=umax=smax32=umax32=3840,var_off=(0xe00; 0x100))"
    )
    fall, _ = refine_cond(JmpOp.JEQ, r2, K(0xE00), False, negate=True)
    assert text(fall) == "3840"  # tnum_step: the u64 range and the tnum meet in one value


def test_and_on_minus_one_or_zero_forks() -> None:
    r1 = alu(AluOp.ARSH, UNKNOWN, 63)
    assert text(r1) == "scalar(smin=smin32=-1,smax=smax32=0)"
    forked = fork_scalar(AluOp.AND, r1, K(5))
    assert forked == (K(-1), K(0))
    assert text(alu(AluOp.AND, forked[0], 5)) == "5"
    assert fork_scalar(AluOp.AND, r1, UNKNOWN) is None
    assert fork_scalar(AluOp.XOR, r1, K(5)) is None
    w1 = alu(AluOp.ARSH, UNKNOWN, 31, alu32=True)
    this, pushed = fork_scalar(AluOp.OR, w1, K(2)) or (UNKNOWN, UNKNOWN)
    assert this.var_off.subreg() == Tnum.const(0xFFFFFFFF) and pushed.u32_max == 0


def test_s32_range_crossing_the_sign_boundary() -> None:
    w3 = scalar_alu(AluOp.MOV, UNKNOWN, UNKNOWN, True)
    lt3, w3 = (
        refine_cond(JmpOp.JLT, w3, K(3), True)[0],
        refine_cond(JmpOp.JLT, w3, K(3), True, negate=True)[0],
    )
    assert text(lt3) == "scalar(smin=smin32=0,smax=umax=smax32=umax32=2,var_off=(0x0; 0x3))"
    assert text(w3) == "scalar(smin=umin=umin32=3,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    sgt1 = refine_cond(JmpOp.JSGT, w3, K(1), True)[0]
    w3 = refine_cond(JmpOp.JSGT, w3, K(1), True, negate=True)[0]
    assert text(sgt1) == (
        "scalar(smin=umin=smin32=umin32=3,smax=umax=umax32=0x7fffffff,var_off=(0x0; 0x7fffffff))"
    )
    assert text(w3) == (
        "scalar(smin=umin=umin32=0x80000000,smax=umax=0xffffffff,smax32=-1,"
        "var_off=(0x80000000; 0x7fffffff))"
    )
    assert text(alu(AluOp.MUL, w3, 3)) == (
        "scalar(smin=umin=0x180000000,smax=umax=0x2fffffffd,var_off=(0x0; 0x3ffffffff))"
    )


def test_jmp32_signed_against_minus_one() -> None:
    r7, r5 = UNKNOWN, K(-1)
    _, fall7 = refine_cond(JmpOp.JSGT, r5, r7, True, negate=True)
    _, taken7 = refine_cond(JmpOp.JSGT, r5, r7, True)
    assert text(fall7) == "scalar(smin32=-1)"
    assert text(taken7) == (
        "scalar(smin=0x8000000080000000,smax=0x7ffffffffffffffe,umin=umin32=0x80000000,"
        "umax=0xfffffffffffffffe,smax32=-2,umax32=0xfffffffe,"
        "var_off=(0x80000000; 0xffffffff7fffffff))"
    )


def test_jset_both_ways() -> None:
    r0 = refine_cond(JmpOp.JGT, UNKNOWN, K(0x10000), False, negate=True)[0]
    assert text(r0) == (
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=0x10000,var_off=(0x0; 0x1ffff))"
    )
    assert text(refine_cond(JmpOp.JSET, K(-1), r0, True, negate=True)[1]) == "0"
    big = refine_cond(JmpOp.JGT, UNKNOWN, K(0x10000), False)[0]
    assert text(refine_cond(JmpOp.JSET, K(-1), big, True, negate=True)[1]) == (
        "scalar(smax=0x7fffffff00000000,umax=0xffffffff00000000,smin32=0,smax32=umax32=0,"
        "var_off=(0x0; 0xffffffff00000000))"
    )
    r1 = alu(AluOp.SUB, alu(AluOp.AND, UNKNOWN, 0xFFF), 2048)
    assert text(r1) == "scalar(smin=smin32=-2048,smax=smax32=2047)"
    assert text(refine_cond(JmpOp.JSET, r1, K(0x10), True, negate=True)[0]) == (
        "scalar(smax=0x7fffffffffffffef,umax=0xffffffffffffffef,smax32=0x7fffffef,"
        "umax32=0xffffffef,var_off=(0x0; 0xffffffffffffffef))"
    )
    assert text(refine_cond(JmpOp.JSET, r1, K(0x10), True)[0]) == (
        "scalar(smin=smin32=-2048,smax=smax32=2047,umin=umin32=16,"
        "var_off=(0x10; 0xffffffffffffffef))"
    )
    assert branch_taken(JmpOp.JSET, K(0x10), r1, False) == -1
    assert branch_taken(JmpOp.JSET, alu(AluOp.OR, UNKNOWN, 0x10), K(0x30), False) == 1
    assert branch_taken(JmpOp.JSET, alu(AluOp.AND, UNKNOWN, 0xF), K(0x30), True) == 0


def test_arsh_and_32bit_ops_on_64bit_bounds() -> None:
    r1 = alu(AluOp.SUB, alu(AluOp.AND, UNKNOWN, 0xFFF), 2048)
    r2 = alu(AluOp.ARSH, r1, 4)
    assert text(r2) == "scalar(smin=smin32=-128,smax=smax32=127)"
    w3 = scalar_alu(AluOp.MOV, UNKNOWN, r2, True)
    assert text(w3) == (
        "scalar(smin=0,smax=umax=0xffffffff,smin32=-128,smax32=127,var_off=(0x0; 0xffffffff))"
    )
    assert text(alu(AluOp.ARSH, w3, 2, alu32=True)) == (
        "scalar(smin=0,smax=umax=0xffffffff,smin32=-32,smax32=31,var_off=(0x0; 0xffffffff))"
    )
    r4 = alu(AluOp.AND, K(0x1000000FF), UNKNOWN)
    r4 = alu(AluOp.OR, r4, K(0x100000000))
    assert text(r4) == (
        "scalar(smin=umin=0x100000000,smax=umax=0x1000000ff,smin32=0,smax32=umax32=255,"
        "var_off=(0x100000000; 0xff))"
    )
    assert text(alu(AluOp.ADD, r4, 16, alu32=True)) == (
        "scalar(smin=umin=smin32=umin32=16,smax=umax=smax32=umax32=271,var_off=(0x0; 0x1ff))"
    )
    r8 = alu(AluOp.LSH, r1, 32)
    assert text(r8) == (
        "scalar(smin=0xfffff80000000000,smax=0x7ff00000000,umax=0xffffffff00000000,"
        "smin32=0,smax32=umax32=0,var_off=(0x0; 0xffffffff00000000))"
    )
    assert text(alu(AluOp.ARSH, r8, 32)) == "scalar(smin=smin32=-2048,smax=smax32=2047)"


def test_untracked_operations_give_unknown() -> None:
    r3 = alu(AluOp.AND, UNKNOWN, 255)
    assert alu(AluOp.DIV, r3, 3) == UNKNOWN
    assert alu(AluOp.MOD, r3, 7, alu32=True) == UNKNOWN  # no zero extension either
    assert alu(AluOp.LSH, r3, r3) == UNKNOWN
    assert alu(AluOp.LSH, r3, K(0x100000003), alu32=True) == UNKNOWN  # 64-bit umax >= 32
    assert text(alu(AluOp.MUL, alu(AluOp.AND, UNKNOWN, 6), alu(AluOp.AND, UNKNOWN, 6))) == (
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=36,var_off=(0x0; 0x3c))"
    )


def test_sign_extension() -> None:
    r1 = alu(AluOp.SUB, alu(AluOp.AND, UNKNOWN, 0xFFF), 2048)
    assert text(scalar_movsx(r1, 1, True)) == (
        "scalar(smin=0,smax=umax=0xffffffff,smin32=-128,smax32=127,var_off=(0x0; 0xffffffff))"
    )
    assert text(scalar_movsx(r1, 2, False)) == "scalar(smin=smin32=-32768,smax=smax32=32767)"
    assert text(scalar_movsx(K(0x80), 1, False)) == "-128"
    assert text(scalar_movsx(K(0x80), 1, True)) == "0xffffff80"


def test_byte_swaps() -> None:
    r2 = alu(AluOp.AND, UNKNOWN, 255)
    assert text(scalar_end(r2, 16, alu64=False, to_be=True)) == (
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=0xff00,var_off=(0x0; 0xff00))"
    )
    r0 = refine_cond(JmpOp.JGT, UNKNOWN, K(0x10000), False, negate=True)[0]
    assert text(scalar_end(r0, 32, alu64=False, to_be=True)) == (
        "scalar(smin=0,smax=umax=umax32=0xffff0100,smax32=0x7fff0100,var_off=(0x0; 0xffff0100))"
    )
    assert scalar_end(K(2), 32, alu64=True, to_be=False) == K(0x2000000)
    assert scalar_end(K(0x1234), 64, alu64=False, to_be=False) == K(0x1234)
    with pytest.raises(ValueError):
        scalar_alu(AluOp.END, r2, r2, False)


def test_register_compared_with_itself() -> None:
    assert branch_taken(JmpOp.JLE, UNKNOWN, UNKNOWN, True) == -1
    fall, same = refine_cond(JmpOp.JLE, UNKNOWN, UNKNOWN, True, negate=True, same_reg=True)
    assert fall == same
    assert text(fall) == (
        "scalar(smin=0x8000000000000001,smax=0x7ffffffffffffffe,umin=umin32=1,"
        "umax=0xfffffffffffffffe,umax32=0xfffffffe)"
    )


def test_opcode_helpers() -> None:
    assert flip_jmp(JmpOp.JLT) == JmpOp.JGT and flip_jmp(JmpOp.JSGE) == JmpOp.JSLE
    assert negate_jmp(JmpOp.JLT) == JmpOp.JGE and negate_jmp(JmpOp.JEQ) == JmpOp.JNE
    with pytest.raises(ValueError):
        negate_jmp(JmpOp.JSET)


def test_bounds_violation_and_constants() -> None:
    bad = Scalar(Tnum.const(5), 5, 5, 6, 5, 5, 5, 5, 5)
    assert bad.bounds_violation() == "range bounds violation"
    assert K(-1).bounds_violation() is None
    assert K(-1).is_const() and K(-1).const_value == 2**64 - 1
    assert K(0x100000005).is_reg_const(True) and K(0x100000005).reg_const_value(True) == 5
    assert bad.with_unbounded().var_off == Tnum.const(5)
