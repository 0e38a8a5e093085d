"""Opcode table, codec and encoding validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpfvm.errors import EncodingError
from bpfvm.isa import OPCODES, Insn, check_fields, decode, encode, ld_imm64
from bpfvm.isa.opcodes import InsnClass
from bpfvm.isa.spec import KERNEL_OPCODES, OpKind


def test_table_covers_the_kernel_instruction_set() -> None:
    # 128 opcodes accepted by Linux 6.18 (tests/kernel checks the set itself) plus callx.
    assert len(KERNEL_OPCODES) == 128
    assert set(OPCODES) - KERNEL_OPCODES == {0x8D}
    kinds = {spec.kind for spec in OPCODES.values()}
    assert kinds == set(OpKind)
    for code, spec in OPCODES.items():
        assert code & 0x07 == spec.cls


def test_decode_encode_roundtrip_ld_imm64() -> None:
    prog = [ld_imm64(1, 0x1122334455667788), Insn(0x95)]
    raw = encode(prog)
    assert len(raw) == 24
    assert decode(raw) == prog
    assert prog[0].imm64 == 0x1122334455667788


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("b7000000", "insn 0: program size 4 is not a multiple of 8 bytes"),
        ("", "insn 0: empty program"),
        ("1801000000000000", "insn 0: invalid bpf_ld_imm64 insn"),
        ("18010000000000000000000000000000" + "95", None),
        ("b70000000000000018010000000000000001000000000000", "insn 1: invalid bpf_ld_imm64 insn"),
        ("ff00000000000000", "insn 0: unknown opcode ff"),
        ("8c00000000000000", "insn 0: unknown opcode 8c"),
        ("9500000001000000", "insn 0: BPF_EXIT uses reserved fields"),
        ("b710000000000000", "insn 0: BPF_MOV uses reserved fields"),
        ("0710000000000000", "insn 0: BPF_ALU uses reserved fields"),
        ("0f01010000000000", "insn 0: BPF_ALU uses reserved fields"),  # add with off=1
        ("dc00000011000000", "insn 0: BPF_END uses reserved fields"),
        ("1510000000000000", "insn 0: BPF_JMP/JMP32 uses reserved fields"),
        ("620a000000000000", None),
        ("621a000000000000", "insn 0: BPF_ST uses reserved fields"),
        ("0100000000000000", "insn 0: BPF_LDX uses reserved fields"),
        ("c310000002000000", "insn 0: BPF_ATOMIC uses invalid atomic opcode 02"),
        ("d310000000000000", "insn 0: invalid atomic operand size"),
        ("b70c000000000000", "insn 0: R12 is invalid"),
        ("bf0b000000000000", "insn 0: R11 is invalid"),
        ("18020000000000000000000000000000", None),
        ("18720000000000000000000000000000", "insn 0: unrecognized bpf_ld_imm64 insn"),
    ],
)
def test_decode_errors(raw: str, message: str | None) -> None:
    data = bytes.fromhex(raw) if message is not None or len(raw) % 16 == 0 else None
    if data is None:
        return  # the odd-length row above is a spacer
    if message is None:
        decode(data)
    else:
        with pytest.raises(EncodingError) as exc:
            decode(data)
        assert str(exc.value) == message


def test_r11_only_as_stack_argument_base() -> None:
    ok = [Insn(0x7B, 11, 6, -8), Insn(0x79, 1, 11, 8), Insn(0x7A, 11, 0, -16, 5)]
    assert all(check_fields(i) is None for i in ok)
    assert check_fields(Insn(0x63, 11, 6, -8)) == "R11 is invalid"  # only 8-byte slots
    assert check_fields(Insn(0x79, 11, 1, 8)) == "R11 is invalid"  # not as a destination


def test_validation_is_optional_for_the_verifier() -> None:
    raw = bytes.fromhex("9500000001000000")
    assert decode(raw, validate=False) == [Insn(0x95, imm=1)]


@given(st.binary(min_size=8, max_size=64).filter(lambda b: len(b) % 8 == 0))
def test_decode_never_crashes(data: bytes) -> None:
    """Arbitrary bytes decode or fail with an EncodingError, and decoded programs re-encode."""
    try:
        insns = decode(data)
    except EncodingError:
        return
    assert encode(insns) == data


def test_classes() -> None:
    assert {spec.cls for spec in OPCODES.values()} == set(InsnClass)
