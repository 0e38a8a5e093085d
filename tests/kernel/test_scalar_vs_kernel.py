"""Differential test: the scalar domain against the running kernel's verifier log (level 2).

Hypothesis writes socket filters that start from unknown values (``call bpf_get_prandom_u32``
results kept in r0, r6-r9) and constants (r1-r5), then run random ALU32/ALU64 operations
(every opcode, K and X forms, MOVSX, NEG, byte swaps), narrow and sign-extending loads of a
value just spilled to the stack, and forward conditional jumps (JMP and JMP32, K and X). The
kernel verifies each program with ``log_level=2``; this file replays the log: it executes every
instruction the log shows with :mod:`bpfvm.verifier.scalar` (following the kernel's path order,
pushing the other side of every undecided branch and of every ``AND``/``OR`` fork, popping at
each ``from A to B``), and compares the text of every scalar register the log prints with
``format_scalar`` of the model's value.

Ids and precision marks belong to the verifier core, so ``id=..`` and the ``P`` prefix are
removed from the kernel's text before comparing; to keep linked registers (whose bounds the
kernel syncs on branches, ``sync_linked_regs``) out of play, every register-to-register move is
followed by ``rS *= 1``, which clears the source's id without changing its value, and a spill
is always filled back into the register that was spilled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.isa import Insn, encode
from bpfvm.isa.opcodes import AluOp, InsnClass, JmpOp
from bpfvm.kernel import ProgType, prog_load
from bpfvm.verifier.scalar import (
    Scalar,
    branch_taken,
    coerce_reg_to_size,
    coerce_reg_to_size_sx,
    fork_scalar,
    format_scalar,
    refine_cond,
    scalar_alu,
    scalar_end,
    scalar_movsx,
    scalar_neg,
)

# --- program generation -------------------------------------------------------------------------

PROLOGUE = [
    "call 7",
    "r6 = r0",
    "call 7",
    "r7 = r0",
    "call 7",
    "r8 = r0",
    "call 7",
    "r9 = r0",
    "call 7",
]
REGS = range(10)
ALU_OPS = ["+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "s/=", "s%="]
JMP_OPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]
NICE = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 0xFFF, 0xFFFF, 0x10000]
NICE += [0x7FFFFFFF, -0x80000000, -1, -2, -8, -128, -256, 0x80000000 - 16, 0x7FFF, -0x8000]
imm32 = st.one_of(
    st.sampled_from(NICE),
    st.sampled_from([0x100, 0x1000, 0xE00, 0xF00, 0x8000, 0x3C0, 0x1, 0xFF00FF]),
    st.sampled_from(NICE).map(lambda v: -v),
    st.integers(-(2**31), 2**31 - 1),
)
imm64 = st.one_of(
    st.integers(0, 2**64 - 1), st.sampled_from([2**32, 2**32 - 1, 2**63, 2**63 - 1, 2**64 - 1])
)
Stmt = tuple[str, ...]  # a group of asm lines; a jump is ("jmp", condition, target index)


@st.composite
def alu(draw: st.DrawFn) -> Stmt:
    p = "r" if draw(st.booleans()) else "w"
    d, s = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
    op = draw(st.sampled_from(ALU_OPS))
    if draw(st.integers(0, 2)) == 0:
        return (f"{p}{d} {op} {p}{s}",)
    if op in ("<<=", ">>=", "s>>="):
        bits = 64 if p == "r" else 32
        k = draw(st.one_of(st.integers(0, bits - 1), st.sampled_from([1, 31, 32, 63])))
        k = min(k, bits - 1)
    elif op in ("/=", "%=", "s/=", "s%="):
        k = draw(imm32.filter(lambda v: v != 0))
    else:
        k = draw(imm32)
    return (f"{p}{d} {op} {k}",)


@st.composite
def mov(draw: st.DrawFn) -> Stmt:
    d, s = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
    kind = draw(st.sampled_from(["r", "w", "sx64", "sx32", "imm", "imm32", "ll"]))
    if kind == "imm":
        return (f"r{d} = {draw(imm32)}",)
    if kind == "imm32":
        return (f"w{d} = {draw(imm32)}",)
    if kind == "ll":
        return (f"r{d} = {draw(imm64)} ll",)
    if kind == "r":
        text = f"r{d} = r{s}"
    elif kind == "w":
        text = f"w{d} = w{s}"
    elif kind == "sx64":
        text = f"r{d} = (s{draw(st.sampled_from([8, 16, 32]))})r{s}"
    else:
        text = f"w{d} = (s{draw(st.sampled_from([8, 16]))})w{s}"
    return (text, f"r{s} *= 1") if s != d else (text,)


@st.composite
def unary(draw: st.DrawFn) -> Stmt:
    d = draw(st.sampled_from(REGS))
    kind = draw(st.sampled_from(["neg", "neg32", "be", "le", "bswap"]))
    if kind == "neg":
        return (f"r{d} = -r{d}",)
    if kind == "neg32":
        return (f"w{d} = -w{d}",)
    return (f"r{d} = {kind}{draw(st.sampled_from([16, 32, 64]))} r{d}",)


@st.composite
def fill(draw: st.DrawFn) -> Stmt:
    r = draw(st.sampled_from(REGS))
    size = draw(st.sampled_from(["u8", "u16", "u32", "u64", "s8", "s16", "s32"]))
    return (f"*(u64 *)(r10 -8) = r{r}", f"r{r} = *({size} *)(r10 -8)")


@st.composite
def jump(draw: st.DrawFn) -> Stmt:
    p = "r" if draw(st.booleans()) else "w"
    d = draw(st.sampled_from(REGS))
    op = draw(st.sampled_from(JMP_OPS))
    rhs = f"{p}{draw(st.sampled_from(REGS))}" if draw(st.booleans()) else str(draw(imm32))
    return ("jmp", f"if {p}{d} {op} {rhs}", str(draw(st.integers(1, 6))))


GAPPY = [0x101, 0x300, 0x1100, 0x8001, 0xF0F, 0x3C0, 0xE00, 0xF00, 0xFF00FF, 0x6000000]


@st.composite
def shaped(draw: st.DrawFn) -> Stmt:
    """Shapes that reach the rarer rules: the [-1, 0] fork of AND/OR, tnums with few members
    (single-value collapse), products of partly known operands (tnum_mul)."""
    d, s = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
    p = "r" if draw(st.booleans()) else "w"
    kind = draw(st.sampled_from(["fork", "sparse", "mul", "signed", "sext"]))
    if kind == "signed":  # a small range around zero, possibly negative
        k = draw(st.integers(1, 20))
        return (f"{p}{d} &= {(1 << k) - 1}", f"{p}{d} -= {draw(st.integers(0, 1 << k))}")
    if kind == "sext":  # the compilers' sign-extension idiom and its 32-bit relatives
        return (f"r{d} <<= 32", f"r{d} s>>= {draw(st.sampled_from([32, 32, 31, 40]))}")
    if kind == "fork":
        shift = f"r{d} s>>= 63" if draw(st.booleans()) else f"w{d} s>>= 31"
        return (shift, f"{p}{d} {draw(st.sampled_from(['&=', '|=']))} {draw(imm32)}")
    outer = draw(st.sampled_from(GAPPY))
    inner = outer & draw(st.integers(0, 2**32 - 1))
    if kind == "sparse":
        op = draw(st.sampled_from(JMP_OPS))
        k = draw(st.sampled_from([inner, outer, inner + 1, outer - 1, outer & -outer]))
        return (f"r{d} &= {outer}", f"r{d} |= {inner}", f"if {p}{d} {op} {k} goto +0")
    rhs = f"{p}{s}" if draw(st.booleans()) else str(draw(imm32))
    return (f"r{d} &= {outer}", f"r{d} |= {inner}", f"{p}{d} *= {rhs}")


statement = st.one_of(alu(), alu(), alu(), mov(), unary(), fill(), shaped(), jump(), jump())


@st.composite
def programs(draw: st.DrawFn) -> list[str]:
    consts = [f"r{r} = {draw(imm32)}" for r in range(1, 6)]
    body: list[Stmt] = draw(st.lists(statement, min_size=4, max_size=24))
    return link(PROLOGUE + consts, body)


def link(head: list[str], body: list[Stmt]) -> list[str]:
    """Flatten statements into asm lines, resolving each jump's target statement (its index
    plus the drawn distance, clamped to the epilogue) into a slot offset."""
    slots = [len(head)]
    for stmt in body:
        size = 1 if stmt[0] == "jmp" else sum(2 if s.endswith(" ll") else 1 for s in stmt)
        slots.append(slots[-1] + size)
    lines = list(head)
    for i, stmt in enumerate(body):
        if stmt[0] != "jmp":
            lines.extend(stmt)
            continue
        target = min(i + int(stmt[2]), len(body))
        lines.append(f"{stmt[1]} goto {slots[target] - slots[i] - 1:+d}")
    return [*lines, "r0 = 0", "exit"]


# --- the model ----------------------------------------------------------------------------------

Regs = dict[int, Scalar]


def _sext32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


@dataclass
class Model:
    """The scalar registers along the path the kernel is walking, plus its branch stack."""

    insns: dict[int, Insn]
    regs: Regs = field(default_factory=dict)
    spill: Scalar | None = None
    pc: int | None = 0
    stack: list[tuple[int, int, Regs, Scalar | None]] = field(default_factory=list)

    def execute(self, pc: int) -> None:
        insn = self.insns[pc]
        cls = insn.code & 7
        self.pc = pc + insn.width
        if cls in (InsnClass.ALU, InsnClass.ALU64):
            self._alu(insn, pc, alu32=cls == InsnClass.ALU)
        elif cls in (InsnClass.JMP, InsnClass.JMP32):
            self._jmp(insn, pc, is32=cls == InsnClass.JMP32)
        elif insn.code == 0x18:
            self.regs[insn.dst] = Scalar.const(insn.imm64)
        elif cls == InsnClass.STX:
            self.spill = self.regs[insn.src]
        elif cls == InsnClass.LDX:
            self._fill(insn)

    def _alu(self, insn: Insn, pc: int, alu32: bool) -> None:
        op, d = AluOp(insn.code & 0xF0), insn.dst
        x = bool(insn.code & 8)
        if op == AluOp.NEG:
            self.regs[d] = scalar_neg(self.regs[d], alu32)
        elif op == AluOp.END:
            self.regs[d] = scalar_end(self.regs[d], insn.imm, alu64=not alu32, to_be=x)
        elif op == AluOp.MOV and x and insn.off:
            self.regs[d] = scalar_movsx(self.regs[insn.src], insn.off // 8, alu32)
        elif op == AluOp.MOV and not x:
            imm = insn.imm & 0xFFFFFFFF if alu32 else insn.imm
            self.regs[d] = Scalar.const(imm)
        elif op == AluOp.MOV:
            self.regs[d] = scalar_alu(op, Scalar.unknown(), self.regs[insn.src], alu32)
        else:
            src = self.regs[insn.src] if x else Scalar.const(insn.imm)
            forked = fork_scalar(op, self.regs[d], src)
            if forked is not None:
                self.stack.append((pc, pc, {**self.regs, d: forked[1]}, self.spill))
                self.regs[d] = forked[0]
            self.regs[d] = scalar_alu(op, self.regs[d], src, alu32)

    def _fill(self, insn: Insn) -> None:
        assert self.spill is not None
        size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[insn.code & 0x18]
        if size == 8:
            value = self.spill
        elif insn.code & 0xE0 == 0x80:
            value = coerce_reg_to_size_sx(self.spill, size)
        else:
            value = coerce_reg_to_size(self.spill, size)
        self.regs[insn.dst] = value

    def _jmp(self, insn: Insn, pc: int, is32: bool) -> None:
        op = JmpOp(insn.code & 0xF0)
        if op == JmpOp.CALL:
            for r in range(1, 6):
                self.regs.pop(r, None)
            self.regs[0] = Scalar.unknown()
            return
        if op == JmpOp.EXIT:
            self.pc = None
            return
        x = bool(insn.code & 8)
        d, s = insn.dst, insn.src
        dst = self.regs[d]
        src = self.regs[s] if x else Scalar.const(insn.imm)
        target = pc + 1 + insn.off
        pred = branch_taken(op, dst, src, is32)
        if pred == 1:
            self.pc = target
        if pred != -1:
            return
        same = x and d == s
        taken = refine_cond(op, dst, src, is32, same_reg=same)
        fall = refine_cond(op, dst, src, is32, negate=True, same_reg=same)
        other = {**self.regs, d: _sane(taken[0])}
        self.regs[d] = _sane(fall[0])
        if x:
            other[s] = _sane(taken[1])
            self.regs[s] = _sane(fall[1])
        self.stack.append((pc, target, other, self.spill))

    def pop(self, src: int, dst: int) -> bool:
        """Resume the most recently pushed state; False if it is not ``from src to dst``."""
        if not self.stack:
            return False
        a, b, regs, spill = self.stack.pop()
        self.regs, self.spill, self.pc = dict(regs), spill, b
        return (a, b) == (src, dst)


def _sane(s: Scalar) -> Scalar:
    """``reg_bounds_sanity_check`` outside selftests: forget inconsistent ranges."""
    return s.with_unbounded() if s.bounds_violation() else s


# --- the log ------------------------------------------------------------------------------------

INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) .*?(?:\s+; (.*))?$")
STATE_LINE = re.compile(r"^(\d+): (R\d+=.*)$")
FROM_LINE = re.compile(r"^from (\d+) to (\d+): (.*)$")
SAFE_LINE = re.compile(r"^(?:\d+|from \d+ to \d+): safe$")
ID_ITEM = re.compile(r"id=\d+(?:[+-]\d+)?,?")


def registers(text: str) -> Iterator[tuple[int, str]]:
    """``(regno, value text)`` for each ``Rn=value`` of a printed state (values may contain
    spaces inside parentheses, as in ``var_off=(0x0; 0xff)``)."""
    for item in re.finditer(r"(?:^|\s)R(\d+)=", text):
        start, depth = item.end(), 0
        end = start
        while end < len(text) and (depth or text[end] != " "):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        yield int(item.group(1)), text[start:end]


def kernel_scalar_text(value: str) -> str | None:
    """The kernel's text of a scalar without id and precision, or None for a pointer."""
    value = value.removeprefix("P")
    if value.startswith("scalar("):
        return ID_ITEM.sub("", value)
    return value if re.fullmatch(r"-?\d+|0x[0-9a-f]+", value) else None


@dataclass
class Report:
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)
    invariant_violations: int = 0

    @property
    def agreed(self) -> int:
        return self.compared - len(self.mismatches)


def compare_state(model: Model, text: str, where: str, report: Report) -> None:
    for regno, value in registers(text):
        theirs = kernel_scalar_text(value)
        if theirs is None or regno not in model.regs:
            continue
        ours = format_scalar(model.regs[regno])
        report.compared += 1
        if ours != theirs:
            report.mismatches.append(f"{where} R{regno}: kernel {theirs} model {ours}")


def replay(insns: list[Insn], log: str, report: Report) -> None:
    """Walk the log with the model, comparing every printed scalar register."""
    pcs, pc = {}, 0
    for insn in insns:
        pcs[pc] = insn
        pc += insn.width
    model = Model(pcs)
    for line in log.splitlines():
        if "REG INVARIANTS VIOLATION" in line:
            report.invariant_violations += 1
        if m := FROM_LINE.match(line):
            if not model.pop(int(m[1]), int(m[2])):
                report.mismatches.append(f"branch stack out of step at {line!r}")
                return
            compare_state(model, m[3], line.split(":")[0], report)
        if SAFE_LINE.match(line):
            model.pc = None
        elif m := INSN_LINE.match(line):
            if int(m[1]) != model.pc:
                report.mismatches.append(f"path differs: kernel at {m[1]}, model at {model.pc}")
                return
            model.execute(int(m[1]))
            if m[2]:
                compare_state(model, m[2], f"insn {m[1]}", report)
        elif m := STATE_LINE.match(line):
            compare_state(model, m[2], f"state {m[1]}", report)


def check_program(lines: list[str], report: Report) -> str:
    """Load the program into the kernel and replay its log; returns the log."""
    insns = assemble("\n".join(lines))
    _, result = prog_load(encode(insns), ProgType.SOCKET_FILTER, log_level=2)
    assert result.accepted, result.log[-2000:]
    replay(insns, result.log, report)
    return result.log


# --- tests --------------------------------------------------------------------------------------

MUL = ["r7 |= 6", "r6 *= r7"]
REGRESSIONS = [
    # the AND fork on [-1, 0], the tnum single-value collapse, the s32 sign-boundary deduction
    ["r1 = r0", "r0 *= 1", "r1 s>>= 63", "r1 &= 5", "r2 = r1", "r1 *= 1", "r2 |= 3584"],
    ["r2 = r6", "r2 |= 3584", "r2 &= 3840", "if r2 == 0xe00 goto +0"],
    ["w3 = w6", "if w3 < 3 goto +2", "if w3 s> 1 goto +1", "r4 = r3", "r3 *= 1", "r4 *= 3"],
    # byte swaps, sign extension, JSET both ways, a 32-bit shift of a 64-bit range
    ["r1 = r7", "r7 *= 1", "r1 &= 0x3f00", "r1 = be16 r1", "r2 = r1", "r1 *= 1", "r2 = bswap32 r2"],
    ["r1 = r8", "r8 *= 1", "r1 &= 0x1ff", "r1 = (s8)r1", "w2 = (s16)w1", "r1 *= 1"],
    ["r1 = r9", "r9 *= 1", "if r1 & 0x10 goto +1", "if w1 & 6 goto +0", "w1 <<= 3"],
    ["r1 = r6", "r6 *= 1", "r1 &= 0xff", "r1 -= 300", "w1 s>>= 4", "r1 = -r1", "w1 = -w1"],
    # tnum_mul of two partly known operands (6.18's union-based long multiplication)
    ["r3 = 0x4600000000 ll", "r6 &= r3", "r3 = 0x4000000000 ll", "r6 |= r3"],
    ["r3 = 0x4600000000 ll", "r6 &= r3", "r3 = 0x4000000000 ll", "r6 |= r3", "r7 &= 0xa7", *MUL],
    # a register compared with itself is not special-cased: w0 > w0 narrows w0
    ["if w0 <= w0 goto +0", "r0 s>>= 9"],
]


def test_regressions(kernel: None) -> None:
    report = Report()
    for body in REGRESSIONS:
        consts = [f"r{r} = {r}" for r in range(1, 6)]
        check_program([*PROLOGUE, *consts, *body, "r0 = 0", "exit"], report)
    assert report.compared > 40
    assert not report.mismatches, "\n".join(report.mismatches)


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programs())
def test_scalar_states_match_kernel(kernel: None, lines: list[str]) -> None:
    report = Report()
    check_program(lines, report)
    assert not report.mismatches, "\n".join(["\n".join(lines), *report.mismatches])
