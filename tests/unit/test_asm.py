"""Assembler (kernel/LLVM syntax and the uBPF dialect) and disassembler text."""

from __future__ import annotations

import itertools

import pytest

from bpfvm.asm import assemble, format_insn, listing
from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.errors import AsmError
from bpfvm.isa import OPCODES, Insn, check_fields, encode
from bpfvm.isa.opcodes import AtomicOp

# Every form the issue names, with the bytes llvm-mc-14 / the kernel use for it.
FORMS = [
    ("r0 = *(u32 *)(r1 + 4)", "6110040000000000"),
    ("if w1 s> 16 goto +3", "6601030010000000"),
    ("w0 += w1", "0c10000000000000"),
    ("r1 = 1234605616436508552 ll", "18010000887766550000000044332211"),
    ("call 1", "8500000001000000"),
    ("call pc+5", "8510000005000000"),
    ("lock *(u64 *)(r10 - 8) += r1", "db1af8ff00000000"),
    ("r0 = atomic_fetch_add((u64 *)(r10 - 8), r0)", "db0af8ff01000000"),
    ("r0 = bswap32 r0", "d700000020000000"),
    ("r0 = (s8)r1", "bf10080000000000"),
    ("*(u64 *)(r11 - 8) = r6", "7b6bf8ff00000000"),
    ("r1 = *(u64 *)(r11 + 8)", "79b1080000000000"),
    ("r0 = cmpxchg_64(r1 - 8, r0, r2)", "db21f8fff1000000"),
    ("w2 = xchg32_32(r1 + 0, w2)", "c3210000e1000000"),
    ("r0 = load_acquire((u64 *)(r1 + 0))", "db10000000010000"),
    ("store_release((u32 *)(r1 + 8), w2)", "c321080010010000"),
    ("gotol +70000", "0600000070110100"),
    ("may_goto +2", "e500020000000000"),
    ("r1 s/= r2", "3f21010000000000"),
    ("w1 s%= 3", "9401010003000000"),
    ("r0 = *(u16 *)skb[r1 + 4]", "4810000004000000"),
    ("r0 = *(u8 *)skb[23]", "3000000017000000"),
    ("*(u32 *)(r10 - 4) = 5", "620afcff05000000"),
    ("callx r2", "8d02000000000000"),
    ("call kfunc:7", "8520000007000000"),
    ("exit", "9500000000000000"),
]


@pytest.mark.parametrize(("text", "hexbytes"), FORMS)
def test_form_encodes_and_prints_back(text: str, hexbytes: str) -> None:
    insns = assemble(text)
    assert encode(insns).hex() == hexbytes
    assert format_insn(insns[0]) == text


def test_alternative_spellings() -> None:
    assert assemble("call bpf_map_lookup_elem") == assemble("call 1")
    assert assemble("call map_lookup_elem") == assemble("call 1")
    assert assemble("if w1 s> 0x10 goto +3") == assemble("if w1 s> 16 goto +3")
    assert assemble("r1 = 0x1122334455667788 ll") == assemble("r1 = 1234605616436508552 ll")
    assert assemble("w1 = 0xffffffff") == assemble("w1 = -1")


def test_labels_comments_and_calls() -> None:
    text = """
    # a subprogram call and a loop
    entry:  r1 = 3            // comment
            call sub          ; another comment
            exit
    sub:    r0 = 0
    loop:   r0 += 1
            if r0 < r1 goto loop
            exit
    """
    insns = assemble(text)
    assert insns[1] == Insn(0x85, src=1, imm=1)
    assert insns[5] == Insn(0xAD, 0, 1, -2)


@pytest.mark.parametrize(
    ("text", "line", "col", "reason"),
    [
        ("r0 = 1\n  r0 +== 2\nexit", 2, 3, "unrecognized instruction 'r0 +== 2'"),
        ("goto nowhere\nexit", 1, 6, "unknown label 'nowhere'"),
        ("r0 = 5000000000\nexit", 1, 6, "immediate 5000000000 out of range"),
        ("r12 = 1", 1, 1, "invalid register 'r12'"),
        ("w1 += r2", 1, 7, "register 'r2' has the wrong width here"),
        ("r1 = *(u64 *)(r2 + 40000)", 1, 20, "offset 40000 out of range"),
        ("exit\nx: exit\nx: exit", 3, 1, "duplicate label 'x'"),
        ("r11 = 1", 1, 1, "R11 is invalid"),
    ],
)
def test_errors_carry_line_and_column(text: str, line: int, col: int, reason: str) -> None:
    with pytest.raises(AsmError) as exc:
        assemble(text)
    assert (exc.value.line, exc.value.col) == (line, col)
    assert exc.value.reason.startswith(reason)


def test_ubpf_dialect() -> None:
    text = """
    mov32 %r0, 1
    lddw %r1, 0x1122334455667788
    ldxw %r2, [%r1+4]
    stxdw [%r10-8], %r1
    lock fetch add32 [%r10-8], %r2
    lock cmpxchg [%r10-8], %r1
    movsx1664 %r3, %r2
    jne32 %r0, 1, exit
    call local fn
    ja +0
    exit
    fn:
    call %r2
    exit
    """
    insns = assemble_ubpf(text)
    assert [format_insn(i) for i in insns] == [
        "w0 = 1",
        "r1 = 1234605616436508552 ll",
        "r2 = *(u32 *)(r1 + 4)",
        "*(u64 *)(r10 - 8) = r1",
        "w2 = atomic_fetch_add((u32 *)(r10 - 8), w2)",
        "r0 = cmpxchg_64(r10 - 8, r0, r1)",
        "r3 = (s16)r2",
        "if w0 != 1 goto +2",
        "call pc+2",
        "goto +0",
        "exit",
        "callx r2",
        "exit",
    ]


def _canonical(code: int) -> Insn:
    """The first valid instruction with this opcode over a small grid of field values."""
    for dst, src, imm in itertools.product(
        (1, 0), (2, 0), (0, 16, AtomicOp.XCHG, AtomicOp.LOAD_ACQ)
    ):
        insn = Insn(code, dst, src, 0, imm)
        if check_fields(insn) is None:
            return insn
    raise AssertionError(f"no valid encoding found for opcode {code:#x}")


@pytest.mark.parametrize("code", sorted(OPCODES))
def test_every_opcode_prints_and_reassembles(code: int) -> None:
    """Each opcode of the table has a text form that assembles back to the same bytes."""
    insn = _canonical(code)
    assert assemble(format_insn(insn)) == [insn], format_insn(insn)


def test_listing_looks_like_objdump() -> None:
    text = listing(assemble("r1 = 1 ll\nexit"))
    assert text.splitlines() == [
        "       0:\t18 01 00 00 01 00 00 00 00 00 00 00 00 00 00 00\tr1 = 1 ll",
        "       2:\t95 00 00 00 00 00 00 00\texit",
    ]
