"""ALU and jump semantics against an independent model (C integer arithmetic via ctypes)."""

from __future__ import annotations

import ctypes

from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.isa import ld_imm64
from bpfvm.isa.insn import Insn
from bpfvm.vm.interp import run_program

u64 = st.integers(0, 2**64 - 1)
edge = st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1])
values = st.one_of(u64, edge)


def c_sdiv(a: int, b: int, bits: int) -> tuple[int, int]:
    """C99 truncating division, with the BPF rules for b == 0 and INT_MIN / -1."""
    ctype = ctypes.c_int64 if bits == 64 else ctypes.c_int32
    sa, sb = ctype(a).value, ctype(b).value
    if sb == 0:
        return 0, a & ((1 << bits) - 1)
    if sb == -1:
        return (-sa) & ((1 << bits) - 1), 0
    q = int(sa / sb) if abs(sa) < 2**52 and abs(sb) < 2**52 else _trunc_div(sa, sb)
    return q & ((1 << bits) - 1), (sa - q * sb) & ((1 << bits) - 1)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def run_alu(text: str, a: int, b: int) -> int:
    prog = [ld_imm64(0, a), ld_imm64(1, b), *assemble(text + "\nexit")]
    return run_program(prog).retval


@settings(max_examples=300)
@given(values, values)
def test_signed_division_and_modulo(a: int, b: int) -> None:
    q64, r64 = c_sdiv(a, b, 64)
    assert run_alu("r0 s/= r1", a, b) == q64
    assert run_alu("r0 s%= r1", a, b) == r64
    q32, r32 = c_sdiv(a & 0xFFFFFFFF, b & 0xFFFFFFFF, 32)
    assert run_alu("w0 s/= w1", a, b) == q32
    assert run_alu("w0 s%= w1", a, b) == r32


@settings(max_examples=300)
@given(values, values)
def test_unsigned_division_modulo_and_shifts(a: int, b: int) -> None:
    m32 = 0xFFFFFFFF
    assert run_alu("r0 /= r1", a, b) == (a // b if b else 0)
    assert run_alu("r0 %= r1", a, b) == (a % b if b else a)
    assert run_alu("w0 /= w1", a, b) == ((a & m32) // (b & m32) if b & m32 else 0)
    assert run_alu("w0 %= w1", a, b) == ((a & m32) % (b & m32) if b & m32 else a & m32)
    assert run_alu("r0 <<= r1", a, b) == ctypes.c_uint64(a << (b & 63)).value
    assert run_alu("r0 s>>= r1", a, b) == ctypes.c_uint64(ctypes.c_int64(a).value >> (b & 63)).value
    assert run_alu("w0 s>>= w1", a, b) == ctypes.c_uint32(ctypes.c_int32(a).value >> (b & 31)).value
    assert run_alu("w0 >>= w1", a, b) == (a & m32) >> (b & 31)


@settings(max_examples=300)
@given(values, values)
def test_wraparound_and_zero_extension(a: int, b: int) -> None:
    assert run_alu("r0 += r1", a, b) == ctypes.c_uint64(a + b).value
    assert run_alu("r0 -= r1", a, b) == ctypes.c_uint64(a - b).value
    assert run_alu("r0 *= r1", a, b) == ctypes.c_uint64(a * b).value
    assert run_alu("w0 *= w1", a, b) == ctypes.c_uint32(a * b).value
    assert run_alu("w0 -= w1", a, b) == ctypes.c_uint32(a - b).value
    assert run_alu("w0 = w1", a, b) == b & 0xFFFFFFFF
    assert run_alu("r0 = -r0", a, b) == ctypes.c_uint64(-a).value
    assert run_alu("r0 = (s8)r1", a, b) == ctypes.c_uint64(ctypes.c_int8(b).value).value
    assert run_alu("w0 = (s16)w1", a, b) == ctypes.c_uint32(ctypes.c_int16(b).value).value
    assert run_alu("r0 = (s32)r1", a, b) == ctypes.c_uint64(ctypes.c_int32(b).value).value


@settings(max_examples=200)
@given(values)
def test_byte_swaps(a: int) -> None:
    assert run_alu("r0 = be16 r0", a, 0) == int.from_bytes((a & 0xFFFF).to_bytes(2, "little"))
    assert run_alu("r0 = be64 r0", a, 0) == int.from_bytes(a.to_bytes(8, "little"))
    assert run_alu("r0 = le32 r0", a, 0) == a & 0xFFFFFFFF
    assert run_alu("r0 = bswap32 r0", a, 0) == int.from_bytes(
        (a & 0xFFFFFFFF).to_bytes(4, "little")
    )


@settings(max_examples=300)
@given(values, values)
def test_conditional_jumps(a: int, b: int) -> None:
    sa, sb = ctypes.c_int64(a).value, ctypes.c_int64(b).value
    wa, wb = ctypes.c_int32(a).value, ctypes.c_int32(b).value
    cases = {
        "r0 > r1": a > b, "r0 s< r1": sa < sb, "r0 & r1": bool(a & b),
        "w0 >= w1": (a & 0xFFFFFFFF) >= (b & 0xFFFFFFFF), "w0 s<= w1": wa <= wb,
        "r0 == r1": a == b, "w0 != w1": (a ^ b) & 0xFFFFFFFF != 0,
    }  # fmt: skip
    for cond, expect in cases.items():
        prog = [
            ld_imm64(0, a),
            ld_imm64(1, b),
            *assemble(f"if {cond} goto +2\nr0 = 0\nexit\nr0 = 1\nexit"),
        ]
        assert run_program(prog).retval == int(expect), cond


def test_alu64_immediate_is_sign_extended_before_unsigned_division() -> None:
    # SPEC 6.2: r0 /= -1 divides by 0xffffffffffffffff.
    prog = [ld_imm64(0, 2**64 - 1), Insn(0x37, 0, 0, 0, -1), Insn(0x95)]
    assert run_program(prog).retval == 1
    prog = [ld_imm64(0, 2**63), Insn(0x37, 0, 0, 0, -1), Insn(0x95)]
    assert run_program(prog).retval == 0
