"""The uBPF assembly dialect used by the bpf_conformance suite (``mov32 %r0, 1``).

Mnemonic-based: ``<op>[32] dst, src|imm`` for ALU, ``ldx{b,h,w,dw}``/``ldxs{b,h,w}``,
``st{b,h,w,dw}``/``stx{b,h,w,dw}`` with ``[%rN+off]`` operands, ``lddw``, ``lock [fetch]
add|and|or|xor|xchg|cmpxchg[32]``, ``ja``/``ja32`` and ``j<cond>[32] dst, src|imm, target``,
``call N``, ``call local LABEL``, ``call %rN`` (callx) and ``exit``. A jump target is a label or
``+N``/``-N``; the label ``exit`` means the first ``exit`` instruction.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bpfvm.errors import AsmError
from bpfvm.isa.insn import Insn, ld_imm64
from bpfvm.isa.opcodes import (
    AluOp,
    AtomicOp,
    CallSrc,
    InsnClass,
    JmpOp,
    Mode,
    Size,
    Source,
)
from bpfvm.isa.validate import check_fields

_ALU = {
    "add": AluOp.ADD, "sub": AluOp.SUB, "mul": AluOp.MUL, "div": AluOp.DIV, "or": AluOp.OR,
    "and": AluOp.AND, "lsh": AluOp.LSH, "rsh": AluOp.RSH, "mod": AluOp.MOD, "xor": AluOp.XOR,
    "mov": AluOp.MOV, "arsh": AluOp.ARSH, "sdiv": AluOp.DIV, "smod": AluOp.MOD,
}  # fmt: skip
_JMP = {
    "jeq": JmpOp.JEQ, "jgt": JmpOp.JGT, "jge": JmpOp.JGE, "jset": JmpOp.JSET, "jne": JmpOp.JNE,
    "jsgt": JmpOp.JSGT, "jsge": JmpOp.JSGE, "jlt": JmpOp.JLT, "jle": JmpOp.JLE,
    "jslt": JmpOp.JSLT, "jsle": JmpOp.JSLE,
}  # fmt: skip
_SIZES = {"b": Size.B, "h": Size.H, "w": Size.W, "dw": Size.DW}
_ATOMIC = {"add": AtomicOp.ADD, "or": AtomicOp.OR, "and": AtomicOp.AND, "xor": AtomicOp.XOR}
_MOVSX = {
    "movsx832": (8, False),
    "movsx1632": (16, False),
    "movsx864": (8, True),
    "movsx1664": (16, True),
    "movsx3264": (32, True),
}
_REG = re.compile(r"%r(\d+)$")
_MEM = re.compile(r"\[\s*%r(\d+)\s*(?:([+-])\s*(0x[0-9a-fA-F]+|\d+))?\s*\]$")
_LABEL = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:\s*")


class _Line:
    def __init__(self, lineno: int, col: int, text: str, source: str) -> None:
        self.lineno, self.col, self.text, self.source = lineno, col, text, source

    def error(self, message: str, token: str | None = None) -> AsmError:
        col = self.col + max(self.text.find(token), 0) if token else self.col
        return AsmError(self.lineno, col, message, self.source)

    def reg(self, tok: str) -> int:
        m = _REG.match(tok)
        if not m or int(m[1]) > 10:
            raise self.error(f"expected a register %r0..%r10, got '{tok}'", tok)
        return int(m[1])

    def num(self, tok: str, bits: int = 32) -> int:
        try:
            value = int(tok, 0)
        except ValueError:
            raise self.error(f"expected a number, got '{tok}'", tok) from None
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise self.error(f"immediate {tok} out of range for {bits} bits", tok)
        value &= (1 << bits) - 1
        return value - (1 << bits) if value >> (bits - 1) else value

    def mem(self, tok: str) -> tuple[int, int]:
        m = _MEM.match(tok)
        if not m:
            raise self.error(f"expected a memory operand [%rN+off], got '{tok}'", tok)
        off = int(m[3], 0) if m[3] else 0
        off = -off if m[2] == "-" else off
        if not -(1 << 15) <= off < (1 << 15):
            raise self.error(f"offset {off} out of range", tok)
        return int(m[1]), off


def _operands(rest: str) -> list[str]:
    return [t.strip() for t in rest.split(",")] if rest.strip() else []


def _parse(ln: _Line, mnem: str, ops: list[str]) -> tuple[Insn, str | None]:
    def want(n: int) -> None:
        if len(ops) != n:
            raise ln.error(f"'{mnem}' takes {n} operand(s), got {len(ops)}")

    base, is32 = (mnem[:-2], True) if mnem.endswith("32") and mnem[:-2] in _ALU else (mnem, False)
    if base in _ALU:
        want(2)
        cls = InsnClass.ALU if is32 else InsnClass.ALU64
        off = 1 if base in ("sdiv", "smod") else 0
        dst = ln.reg(ops[0])
        if ops[1].startswith("%"):
            return Insn(cls | _ALU[base] | Source.X, dst, ln.reg(ops[1]), off), None
        return Insn(cls | _ALU[base] | Source.K, dst, 0, off, ln.num(ops[1])), None
    if mnem in ("neg", "neg32"):
        want(1)
        cls = InsnClass.ALU if mnem == "neg32" else InsnClass.ALU64
        return Insn(cls | AluOp.NEG, ln.reg(ops[0])), None
    if mnem in _MOVSX:
        want(2)
        bits, wide = _MOVSX[mnem]
        cls = InsnClass.ALU64 if wide else InsnClass.ALU
        return Insn(cls | AluOp.MOV | Source.X, ln.reg(ops[0]), ln.reg(ops[1]), bits), None
    if m := re.fullmatch(r"(be|le|bswap|swap)(16|32|64)", mnem):
        want(1)
        forms: dict[str, tuple[InsnClass, Source]] = {
            "be": (InsnClass.ALU, Source.X),
            "le": (InsnClass.ALU, Source.K),
        }
        cls, order = forms.get(m[1], (InsnClass.ALU64, Source.K))
        return Insn(cls | AluOp.END | order, ln.reg(ops[0]), imm=int(m[2])), None
    if m := re.fullmatch(r"ldx(s?)(b|h|w|dw)", mnem):
        want(2)
        mode = Mode.MEMSX if m[1] else Mode.MEM
        src, off = ln.mem(ops[1])
        return Insn(InsnClass.LDX | mode | _SIZES[m[2]], ln.reg(ops[0]), src, off), None
    if m := re.fullmatch(r"st(x?)(b|h|w|dw)", mnem):
        want(2)
        dst, off = ln.mem(ops[0])
        size = _SIZES[m[2]]
        if m[1]:
            return Insn(InsnClass.STX | Mode.MEM | size, dst, ln.reg(ops[1]), off), None
        return Insn(InsnClass.ST | Mode.MEM | size, dst, 0, off, ln.num(ops[1])), None
    if mnem == "lddw":
        want(2)
        return ld_imm64(ln.reg(ops[0]), ln.num(ops[1], 64)), None
    if mnem in ("ja", "ja32"):
        want(1)
        if mnem == "ja32":
            return _target(ln, Insn(InsnClass.JMP32 | JmpOp.JA), ops[0], in_imm=True)
        return _target(ln, Insn(InsnClass.JMP | JmpOp.JA), ops[0])
    base, is32 = (mnem[:-2], True) if mnem.endswith("32") else (mnem, False)
    if base in _JMP:
        want(3)
        cls = InsnClass.JMP32 if is32 else InsnClass.JMP
        dst = ln.reg(ops[0])
        if ops[1].startswith("%"):
            insn = Insn(cls | _JMP[base] | Source.X, dst, ln.reg(ops[1]))
        else:
            insn = Insn(cls | _JMP[base] | Source.K, dst, imm=ln.num(ops[1]))
        return _target(ln, insn, ops[2])
    if mnem == "exit":
        want(0)
        return Insn(InsnClass.JMP | JmpOp.EXIT), None
    raise ln.error(f"unknown mnemonic '{mnem}'", mnem)


def _target(ln: _Line, insn: Insn, tok: str, in_imm: bool = False) -> tuple[Insn, str | None]:
    if re.fullmatch(r"[+-]\d+", tok):
        rel = int(tok)
        if in_imm:
            return replace(insn, imm=rel), None
        if not -(1 << 15) <= rel < (1 << 15):
            raise ln.error(f"jump offset {rel} out of range", tok)
        return replace(insn, off=rel), None
    if not re.fullmatch(r"[A-Za-z_.$][\w.$]*", tok):
        raise ln.error(f"expected a jump target, got '{tok}'", tok)
    return insn, tok


def _call(ln: _Line, rest: str) -> tuple[Insn, str | None]:
    code = InsnClass.JMP | JmpOp.CALL
    parts = rest.split()
    if len(parts) == 2 and parts[0] == "local":
        return Insn(code, src=CallSrc.PSEUDO_CALL), parts[1]
    if len(parts) == 1 and parts[0].startswith("%"):
        return Insn(code | Source.X, dst=ln.reg(parts[0])), None
    if len(parts) == 1:
        return Insn(code, imm=ln.num(parts[0])), None
    raise ln.error(f"bad call operand '{rest}'")


def _lock(ln: _Line, rest: str) -> Insn:
    m = re.fullmatch(r"(fetch\s+)?(add|and|or|xor|xchg|cmpxchg)(32)?\s+(.*)", rest)
    if not m:
        raise ln.error(f"bad atomic instruction 'lock {rest}'")
    ops = _operands(m[4])
    if len(ops) != 2:
        raise ln.error("atomic instructions take 2 operands")
    dst, off = ln.mem(ops[0])
    src = ln.reg(ops[1])
    size = Size.W if m[3] else Size.DW
    if m[2] == "xchg":
        imm = int(AtomicOp.XCHG)
    elif m[2] == "cmpxchg":
        imm = int(AtomicOp.CMPXCHG)
    else:
        imm = int(_ATOMIC[m[2]]) | (1 if m[1] else 0)
    return Insn(InsnClass.STX | Mode.ATOMIC | size, dst, src, off, imm)


def assemble_ubpf(text: str, source: str = "<asm>") -> list[Insn]:
    """Assemble uBPF-dialect text into instructions."""
    parsed: list[tuple[Insn, str | None, _Line]] = []
    labels: dict[str, int] = {}
    pc = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        col = 0
        while m := _LABEL.match(line, col):
            labels.setdefault(m[1], pc)
            col = m.end()
        body = line[col:].strip()
        if not body:
            continue
        ln = _Line(lineno, line.index(body, col) + 1, body, source)
        mnem, _, rest = body.partition(" ")
        if mnem == "call":
            insn, label = _call(ln, rest.strip())
        elif mnem == "lock":
            insn, label = _lock(ln, rest.strip()), None
        else:
            insn, label = _parse(ln, mnem, _operands(rest))
        if insn.code == InsnClass.JMP | JmpOp.EXIT:
            labels.setdefault("exit", pc)
        parsed.append((insn, label, ln))
        pc += insn.width
    out: list[Insn] = []
    pc = 0
    for insn, label, ln in parsed:
        if label is not None:
            if label not in labels:
                raise ln.error(f"unknown label '{label}'", label)
            rel = labels[label] - pc - 1
            in_imm = insn.code in (InsnClass.JMP | JmpOp.CALL, InsnClass.JMP32 | JmpOp.JA)
            insn = replace(insn, imm=rel) if in_imm else replace(insn, off=rel)
        msg = check_fields(insn)
        if msg is not None:
            raise ln.error(msg)
        out.append(insn)
        pc += insn.width
    return out
