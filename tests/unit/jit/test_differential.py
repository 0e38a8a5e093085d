"""Interpreter vs JIT on generated programs: ALU (all ops, both widths, edge operands),
forward jumps, loads/stores/atomics on the stack and on a random memory buffer (sometimes out
of bounds, so faults are compared too). Results, the buffer afterwards and fault messages must
be equal."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.errors import VmFault
from bpfvm.isa import ld_imm64
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, AtomicOp, InsnClass, JmpOp, Mode, Size, Source
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import JitEngine

MEM_SIZE = 64
DATA_REGS = st.integers(0, 8)  # r9 holds the buffer, r10 the frame: never data
IMM = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from([0, 1, -1, 2, 7, 31, 32, 63, 64, -(2**31), 2**31 - 1, 0x7FFF, 0x8000]),
)
U64 = st.one_of(
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, 2**63 - 1, 0xFFFFFFFF80000000]),
)
SIZES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
ALU_OPS = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH,
           AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.ARSH]  # fmt: skip
JMP_OPS = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE,
           JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE]  # fmt: skip
RMW = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.FETCH_ADD,
       AtomicOp.FETCH_OR, AtomicOp.FETCH_AND, AtomicOp.FETCH_XOR, AtomicOp.XCHG,
       AtomicOp.CMPXCHG]  # fmt: skip


@st.composite
def alu(draw: st.DrawFn) -> Insn:
    cls = draw(st.sampled_from([InsnClass.ALU, InsnClass.ALU64]))
    kind = draw(st.sampled_from(["op", "op", "op", "mov", "neg", "end"]))
    dst, src = draw(DATA_REGS), draw(DATA_REGS)
    if kind == "neg":
        return Insn(cls | AluOp.NEG, dst)
    if kind == "end":
        width = draw(st.sampled_from([16, 32, 64]))
        if cls == InsnClass.ALU64:
            return Insn(InsnClass.ALU64 | AluOp.END, dst, imm=width)
        return Insn(InsnClass.ALU | AluOp.END | draw(st.sampled_from(list(Source))), dst, imm=width)
    source = draw(st.sampled_from(list(Source)))
    if kind == "mov":
        off = draw(st.sampled_from([0, 0, 8, 16, 32])) if source is Source.X else 0
        return Insn(cls | source | AluOp.MOV, dst, src, off, draw(IMM))
    op = draw(st.sampled_from(ALU_OPS))
    off = draw(st.sampled_from([0, 1])) if op in (AluOp.DIV, AluOp.MOD) else 0
    imm = draw(IMM)
    if source is Source.K and op in (AluOp.DIV, AluOp.MOD) and imm == 0:
        imm = 3  # division by a constant 0 is a verifier error, not an ISA case
    return Insn(cls | source | op, dst, src, off, imm)


@st.composite
def memory(draw: st.DrawFn) -> Insn:
    """An access through r9 (the buffer, sometimes out of bounds) or r10 (in the frame)."""
    stack = draw(st.booleans())
    kind = draw(st.sampled_from(["ldx", "ldsx", "st", "stx", "atomic", "acq", "rel"]))
    size = draw(st.sampled_from(list(SIZES)))
    if kind == "ldsx" and size is Size.DW:
        size = Size.W
    if kind == "atomic":
        size = draw(st.sampled_from([Size.W, Size.DW]))
    n = SIZES[size]
    off = draw(st.integers(-512, -n)) if stack else draw(st.integers(-4, MEM_SIZE + 4 - n))
    base, reg, imm = (10 if stack else 9), draw(DATA_REGS), draw(IMM)
    if kind == "ldx":
        return Insn(InsnClass.LDX | Mode.MEM | size, reg, base, off)
    if kind == "ldsx":
        return Insn(InsnClass.LDX | Mode.MEMSX | size, reg, base, off)
    if kind == "st":
        return Insn(InsnClass.ST | Mode.MEM | size, base, 0, off, imm)
    if kind == "stx":
        return Insn(InsnClass.STX | Mode.MEM | size, base, reg, off)
    if kind == "acq":
        return Insn(InsnClass.STX | Mode.ATOMIC | size, reg, base, off, AtomicOp.LOAD_ACQ)
    if kind == "rel":
        return Insn(InsnClass.STX | Mode.ATOMIC | size, base, reg, off, AtomicOp.STORE_REL)
    return Insn(InsnClass.STX | Mode.ATOMIC | size, base, reg, off, draw(st.sampled_from(RMW)))


@st.composite
def programs(draw: st.DrawFn) -> list[Insn]:
    body: list[Insn | tuple[str, Insn]] = []
    for _ in range(draw(st.integers(1, 40))):
        choice = draw(st.sampled_from(["alu", "alu", "mem", "jmp"]))
        if choice == "alu":
            body.append(draw(alu()))
        elif choice == "mem":
            body.append(draw(memory()))
        else:
            cls = draw(st.sampled_from([InsnClass.JMP, InsnClass.JMP32]))
            source = draw(st.sampled_from(list(Source)))
            op = draw(st.sampled_from(JMP_OPS))
            jcc = Insn(cls | source | op, draw(DATA_REGS), draw(DATA_REGS), 0, draw(IMM))
            body.append(("jmp", jcc))
    exit_at = len(body)
    insns: list[Insn] = []
    for i, item in enumerate(body):
        if isinstance(item, tuple):
            target = draw(st.integers(i + 1, exit_at))
            j = item[1]
            item = Insn(j.code, j.dst, j.src, target - i - 1, j.imm)
        insns.append(item)
    prologue = [ld_imm64(r, draw(U64)) for r in range(9) if r != 1]
    # r1 is the buffer: move it to r9, then give r1 a plain value too
    prologue += [Insn(InsnClass.ALU64 | Source.X | AluOp.MOV, 9, 1), ld_imm64(1, draw(U64))]
    return [*prologue, *insns, Insn(InsnClass.JMP | JmpOp.EXIT)]


def _outcome(engine: Interpreter | JitEngine, data: bytes) -> tuple[object, bytes]:
    region = Region.from_bytes("mem", data)
    try:
        result: object = engine.run((region.addr, len(data)), (region,)).retval
    except VmFault as fault:
        result = fault.reason.replace(hex(region.addr), "BUF") + f" @ {fault.pc}"
        result = _relative(str(result), region)
    return result, region.read()


def _relative(text: str, region: Region) -> str:
    """Fault addresses relative to the buffer (the engines' buffers live at different places)."""
    for word in text.split():
        if word.startswith("0x"):
            text = text.replace(word, f"BUF{int(word, 16) - region.addr:+d}")
    return text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.binary(min_size=MEM_SIZE, max_size=MEM_SIZE))
def test_interpreter_and_jit_agree(insns: list[Insn], data: bytes) -> None:
    expected = _outcome(Interpreter(insns), data)
    assert _outcome(JitEngine(insns), data) == expected
