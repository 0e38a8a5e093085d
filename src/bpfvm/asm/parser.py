"""Assembly text -> instructions, in the LLVM / kernel-selftest syntax.

Each statement is matched against one pattern per instruction form; operands are parsed
into an :class:`~bpfvm.isa.Insn` and finally checked with the ISA validator, so the assembler
accepts exactly what the decoder accepts. Two passes: the first parses and records labels,
the second resolves label references (jumps and ``call LABEL``, a bpf-to-bpf call) to slot
offsets. Comments start with ``#``, ``//`` or ``;``; several statements may share a line
separated by nothing but a label (``loop: r0 += 1``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bpfvm.asm.syntax import (
    ALU_OPS,
    ATOMIC_FETCH_OPS,
    ATOMIC_LOCK_OPS,
    JMP_OPS,
    SIGNED_ALU_OPS,
)
from bpfvm.errors import AsmError
from bpfvm.isa.helper_ids import HELPER_IDS
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

_SIZES = {"8": Size.B, "16": Size.H, "32": Size.W, "64": Size.DW}
_NUM = r"[+-]?\s*(?:0x[0-9a-fA-F]+|\d+)"
_REG = r"[rw]\d+"
_ADDR = r"(?P<base>r\d+)\s*(?:(?P<sign>[+-])\s*(?P<off>0x[0-9a-fA-F]+|\d+))?"
_PMEM = rf"\(\s*(?P<su>[us])(?P<bits>8|16|32|64)\s*\*\s*\)\s*\(\s*{_ADDR}\s*\)"  # (u32 *)(r1 + 4)
_MEM = rf"\*{_PMEM}"  # *(u32 *)(r1 + 4)
_TARGET = r"(?P<target>[+-]\s*\d+|[A-Za-z_.$][\w.$]*)"
_LABEL = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\s*:")
_COMMENT = re.compile(r"(#|//|;).*$")

_ALU_BY_TEXT = {text: op for op, text in ALU_OPS.items()}
_JMP_BY_TEXT = {text: op for op, text in JMP_OPS.items()}
_LOCK_BY_TEXT = {text: op for op, text in ATOMIC_LOCK_OPS.items()}
_FETCH_BY_TEXT = {text: op for op, text in ATOMIC_FETCH_OPS.items()}


@dataclass(frozen=True, slots=True)
class _Stmt:
    insn: Insn
    line: int
    col: int
    label: str | None = None  # symbolic jump/call target
    label_col: int = 0


class _Ctx:
    """Per-statement parsing context: positions for error messages."""

    def __init__(self, text: str, line: int, col: int, source: str) -> None:
        self.text, self.line, self.col, self.source = text, line, col, source

    def error(self, message: str, token: str | None = None) -> AsmError:
        col = self.col
        if token is not None and (pos := self.text.find(token)) >= 0:
            col += pos
        return AsmError(self.line, col, message, self.source)

    def reg(self, token: str, wide: bool | None = None) -> int:
        n = int(token[1:])
        if n > 11:
            raise self.error(f"invalid register '{token}'", token)
        if wide is not None and (token[0] == "r") != wide:
            raise self.error(f"register '{token}' has the wrong width here", token)
        return n

    def num(self, token: str, lo: int, hi: int, what: str = "immediate") -> int:
        value = int(token.replace(" ", ""), 0)
        if not lo <= value <= hi:
            raise self.error(f"{what} {token.strip()} out of range [{lo}, {hi}]", token.strip())
        return value

    def imm32(self, token: str) -> int:
        value = self.num(token, -(1 << 31), (1 << 32) - 1)
        return value - (1 << 32) if value >= (1 << 31) else value

    def off16(self, token: str) -> int:
        return self.num(token, -(1 << 15), (1 << 15) - 1, "offset")

    def mem_off(self, m: re.Match[str]) -> int:
        if m["off"] is None:
            return 0
        return self.off16(("-" if m["sign"] == "-" else "") + m["off"])


_Handler = Callable[[re.Match[str], _Ctx], "Insn | tuple[Insn, str]"]
_PATTERNS: list[tuple[re.Pattern[str], _Handler]] = []


def _form(pattern: str) -> Callable[[_Handler], _Handler]:
    def register(fn: _Handler) -> _Handler:
        _PATTERNS.append((re.compile(pattern + r"\s*$"), fn))
        return fn

    return register


def _wide(token: str) -> bool:
    return token[0] == "r"


def _jump_target(m: re.Match[str]) -> tuple[int, str | None]:
    t = m["target"].replace(" ", "")
    if t[0] in "+-":
        return int(t), None
    return 0, t


@_form(r"exit")
def _exit(m: re.Match[str], c: _Ctx) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.EXIT)


@_form(r"call\s+(?P<arg>\S+)")
def _call(m: re.Match[str], c: _Ctx) -> Insn | tuple[Insn, str]:
    arg = m["arg"]
    code = InsnClass.JMP | JmpOp.CALL
    if pc := re.fullmatch(r"pc([+-]\d+)", arg):
        return Insn(code, src=CallSrc.PSEUDO_CALL, imm=c.imm32(pc[1]))
    if kf := re.fullmatch(r"kfunc:(\d+)(?:@(-?\d+))?", arg):
        off = c.off16(kf[2]) if kf[2] else 0
        return Insn(code, src=CallSrc.KFUNC_CALL, off=off, imm=c.imm32(kf[1]))
    if re.fullmatch(_NUM, arg):
        return Insn(code, imm=c.imm32(arg))
    helper = HELPER_IDS.get(arg, HELPER_IDS.get("bpf_" + arg))
    if helper is not None:
        return Insn(code, imm=helper)
    return Insn(code, src=CallSrc.PSEUDO_CALL), arg


@_form(r"callx\s+(?P<dst>r\d+)")
def _callx(m: re.Match[str], c: _Ctx) -> Insn:
    return Insn(InsnClass.JMP | JmpOp.CALL | Source.X, dst=c.reg(m["dst"]))


@_form(rf"(?P<op>goto|gotol|may_goto)\s+{_TARGET}")
def _goto(m: re.Match[str], c: _Ctx) -> Insn | tuple[Insn, str]:
    off, label = _jump_target(m)
    if m["op"] == "gotol":
        insn = Insn(InsnClass.JMP32 | JmpOp.JA, imm=off)
    else:
        jop = JmpOp.JA if m["op"] == "goto" else JmpOp.JCOND
        insn = Insn(InsnClass.JMP | jop, off=c.off16(str(off)))
    return (insn, label) if label else insn


@_form(
    rf"if\s+(?P<dst>{_REG})\s*(?P<op>s?[<>]=?|==|!=|&)\s*(?P<rhs>{_REG}|{_NUM})"
    rf"\s+goto\s+{_TARGET}"
)
def _jcc(m: re.Match[str], c: _Ctx) -> Insn | tuple[Insn, str]:
    wide = _wide(m["dst"])
    cls = InsnClass.JMP if wide else InsnClass.JMP32
    op = _JMP_BY_TEXT.get(m["op"])
    if op is None:
        raise c.error(f"unknown comparison '{m['op']}'", m["op"])
    dst = c.reg(m["dst"])
    off, label = _jump_target(m)
    off = c.off16(str(off))
    rhs = m["rhs"]
    if rhs[0] in "rw":
        insn = Insn(cls | op | Source.X, dst, c.reg(rhs, wide), off)
    else:
        insn = Insn(cls | op | Source.K, dst, 0, off, c.imm32(rhs))
    return (insn, label) if label else insn


@_form(rf"lock\s+{_MEM}\s*(?P<op>[-+|&^]=)\s*(?P<src>{_REG})")
def _lock(m: re.Match[str], c: _Ctx) -> Insn:
    size = _SIZES[m["bits"]]
    op = _LOCK_BY_TEXT.get(m["op"])
    if op is None or size not in (Size.W, Size.DW):
        raise c.error("unsupported atomic operation")
    return _atomic(c, m, size, c.reg(m["base"]), c.reg(m["src"]), op)


def _atomic(c: _Ctx, m: re.Match[str], size: Size, dst: int, src: int, imm: int) -> Insn:
    """A ``STX | ATOMIC`` instruction; the memory offset comes from the match."""
    return Insn(InsnClass.STX | Mode.ATOMIC | size, dst, src, c.mem_off(m), imm)


def _atomic_size(c: _Ctx, bits: str, wide: bool) -> Size:
    size = _SIZES[bits]
    if (size is Size.DW) != wide:
        raise c.error(f"u{bits} does not match the register width")
    return size


@_form(
    rf"(?P<dst>{_REG})\s*=\s*atomic_fetch_(?P<op>add|or|and|xor)\(\s*\(\s*u(?P<bits>32|64)"
    rf"\s*\*\s*\)\s*\(\s*{_ADDR}\s*\)\s*,\s*(?P<src>{_REG})\s*\)"
)
def _fetch(m: re.Match[str], c: _Ctx) -> Insn:
    wide = _wide(m["src"])
    if m["dst"] != m["src"]:
        raise c.error("atomic_fetch result must be its source register", m["dst"])
    size = _atomic_size(c, m["bits"], wide)
    return _atomic(c, m, size, c.reg(m["base"]), c.reg(m["src"], wide), _FETCH_BY_TEXT[m["op"]])


@_form(
    rf"(?P<dst>{_REG})\s*=\s*(?P<op>xchg_64|xchg32_32|cmpxchg_64|cmpxchg32_32)\(\s*{_ADDR}"
    rf"\s*,\s*(?:(?P<r0>{_REG})\s*,\s*)?(?P<src>{_REG})\s*\)"
)
def _xchg(m: re.Match[str], c: _Ctx) -> Insn:
    wide = m["op"].endswith("_64")
    size = Size.DW if wide else Size.W
    is_cmp = m["op"].startswith("cmp")
    if is_cmp != (m["r0"] is not None):
        raise c.error(f"wrong operands for {m['op']}", m["op"])
    result = c.reg(m["dst"], wide)
    if (is_cmp and (result != 0 or c.reg(m["r0"], wide) != 0)) or (
        not is_cmp and result != c.reg(m["src"], wide)
    ):
        raise c.error(f"wrong result register for {m['op']}", m["dst"])
    imm = AtomicOp.CMPXCHG if is_cmp else AtomicOp.XCHG
    return _atomic(c, m, size, c.reg(m["base"]), c.reg(m["src"], wide), imm)


@_form(rf"(?P<dst>{_REG})\s*=\s*load_acquire\(\s*{_PMEM}\s*\)")
def _load_acq(m: re.Match[str], c: _Ctx) -> Insn:
    size = _SIZES[m["bits"]]
    return _atomic(c, m, size, c.reg(m["dst"]), c.reg(m["base"]), AtomicOp.LOAD_ACQ)


@_form(rf"store_release\(\s*{_PMEM}\s*,\s*(?P<src>{_REG})\s*\)")
def _store_rel(m: re.Match[str], c: _Ctx) -> Insn:
    size = _SIZES[m["bits"]]
    return _atomic(c, m, size, c.reg(m["base"]), c.reg(m["src"]), AtomicOp.STORE_REL)


@_form(
    r"r0\s*=\s*\*\(\s*u(?P<bits>8|16|32)\s*\*\s*\)\s*skb\[\s*(?:(?P<idx>r\d+)\s*"
    rf"(?:(?P<sign>[+-])\s*(?P<imm>{_NUM}))?|(?P<abs>{_NUM}))\s*\]"
)
def _ld_skb(m: re.Match[str], c: _Ctx) -> Insn:
    size = _SIZES[m["bits"]]
    if m["abs"] is not None:
        return Insn(InsnClass.LD | Mode.ABS | size, imm=c.imm32(m["abs"]))
    imm = c.imm32(("-" if m["sign"] == "-" else "") + m["imm"]) if m["imm"] else 0
    return Insn(InsnClass.LD | Mode.IND | size, src=c.reg(m["idx"]), imm=imm)


@_form(rf"(?P<dst>{_REG})\s*=\s*{_MEM}")
def _ldx(m: re.Match[str], c: _Ctx) -> Insn:
    size = _SIZES[m["bits"]]
    mode = Mode.MEMSX if m["su"] == "s" else Mode.MEM
    return Insn(InsnClass.LDX | mode | size, c.reg(m["dst"]), c.reg(m["base"]), c.mem_off(m))


@_form(rf"{_MEM}\s*=\s*(?P<rhs>{_REG}|{_NUM})")
def _store(m: re.Match[str], c: _Ctx) -> Insn:
    size = _SIZES[m["bits"]]
    rhs = m["rhs"]
    if m["su"] != "u":
        raise c.error("stores take an unsigned size", m["su"])
    if rhs[0] in "rw":
        return Insn(InsnClass.STX | Mode.MEM | size, c.reg(m["base"]), c.reg(rhs), c.mem_off(m))
    return Insn(InsnClass.ST | Mode.MEM | size, c.reg(m["base"]), 0, c.mem_off(m), c.imm32(rhs))


@_form(rf"(?P<dst>r\d+)\s*=\s*(?P<imm>{_NUM})\s+ll")
def _lddw(m: re.Match[str], c: _Ctx) -> Insn:
    return ld_imm64(c.reg(m["dst"]), c.num(m["imm"], -(1 << 63), (1 << 64) - 1))


@_form(
    rf"ld_pseudo\s+(?P<dst>r\d+)\s*,\s*(?P<src>\d+)\s*,\s*(?P<imm>{_NUM})"
    rf"(?:\s*,\s*(?P<hi>{_NUM}))?"
)
def _ld_pseudo(m: re.Match[str], c: _Ctx) -> Insn:
    hi = c.imm32(m["hi"]) if m["hi"] else 0
    insn = ld_imm64(c.reg(m["dst"]), 0, src=c.num(m["src"], 0, 15, "pseudo source"))
    return replace(insn, imm=c.imm32(m["imm"]), imm_hi=hi)


@_form(rf"(?P<dst>{_REG})\s*=\s*-\s*(?P<src>{_REG})")
def _neg(m: re.Match[str], c: _Ctx) -> Insn:
    wide = _wide(m["dst"])
    if m["dst"] != m["src"]:
        raise c.error("negation must use the same register", m["src"])
    return Insn((InsnClass.ALU64 if wide else InsnClass.ALU) | AluOp.NEG, c.reg(m["dst"]))


@_form(r"(?P<dst>r\d+)\s*=\s*(?P<op>le|be|bswap)(?P<bits>16|32|64)\s+(?P<src>r\d+)")
def _end(m: re.Match[str], c: _Ctx) -> Insn:
    if m["dst"] != m["src"]:
        raise c.error("byte swap must use the same register", m["src"])
    cls, src = {
        "le": (InsnClass.ALU, Source.K),
        "be": (InsnClass.ALU, Source.X),
        "bswap": (InsnClass.ALU64, Source.K),
    }[m["op"]]
    return Insn(cls | AluOp.END | src, c.reg(m["dst"]), imm=int(m["bits"]))


@_form(
    r"(?P<dst>r\d+)\s*=\s*addr_space_cast\(\s*(?P<src>r\d+)\s*,\s*(?P<to>\d+)\s*,"
    r"\s*(?P<frm>\d+)\s*\)"
)
def _addr_space_cast(m: re.Match[str], c: _Ctx) -> Insn:
    imm = (int(m["to"]) << 16) | int(m["frm"])
    code = InsnClass.ALU64 | AluOp.MOV | Source.X
    return Insn(code, c.reg(m["dst"]), c.reg(m["src"]), 1, imm)


@_form(rf"(?P<dst>{_REG})\s*=\s*(?:\(\s*s(?P<sx>8|16|32)\s*\)\s*)?(?P<rhs>{_REG}|{_NUM})")
def _mov(m: re.Match[str], c: _Ctx) -> Insn:
    wide = _wide(m["dst"])
    code = (InsnClass.ALU64 if wide else InsnClass.ALU) | AluOp.MOV
    rhs = m["rhs"]
    if rhs[0] in "rw":
        off = int(m["sx"]) if m["sx"] else 0
        return Insn(code | Source.X, c.reg(m["dst"]), c.reg(rhs, wide), off)
    if m["sx"]:
        raise c.error("sign extension needs a register operand", rhs)
    return Insn(code | Source.K, c.reg(m["dst"]), imm=c.imm32(rhs))


@_form(rf"(?P<dst>{_REG})\s*(?P<op>s?(?:>>|/|%)=|<<=|[-+*|&^]=)\s*(?P<rhs>{_REG}|{_NUM})")
def _alu(m: re.Match[str], c: _Ctx) -> Insn:
    wide = _wide(m["dst"])
    cls = InsnClass.ALU64 if wide else InsnClass.ALU
    text = m["op"]
    signed_ops = {t: op for op, t in SIGNED_ALU_OPS.items()}
    off = 1 if text in signed_ops else 0
    op = signed_ops.get(text) or _ALU_BY_TEXT.get(text)
    if op is None:
        raise c.error(f"unknown operator '{text}'", text)
    rhs = m["rhs"]
    if rhs[0] in "rw":
        return Insn(cls | op | Source.X, c.reg(m["dst"]), c.reg(rhs, wide), off)
    return Insn(cls | op | Source.K, c.reg(m["dst"]), 0, off, c.imm32(rhs))


def parse_statement(text: str, c: _Ctx) -> tuple[Insn, str | None]:
    for pattern, handler in _PATTERNS:
        m = pattern.match(text)
        if m:
            out = handler(m, c)
            return out if isinstance(out, tuple) else (out, None)
    raise c.error(f"unrecognized instruction '{text}'")


def assemble(text: str, source: str = "<asm>") -> list[Insn]:
    """Assemble kernel/LLVM-syntax text into instructions."""
    stmts: list[_Stmt] = []
    labels: dict[str, int] = {}
    pc = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).rstrip()
        col = 0
        while (lm := _LABEL.match(line, col)) and not line[lm.end() :].startswith("="):
            name = lm[1]
            if name in labels:
                raise AsmError(lineno, lm.start(1) + 1, f"duplicate label '{name}'", source)
            labels[name] = pc
            col = lm.end()
        body = line[col:]
        if not body.strip():
            continue
        start = col + len(body) - len(body.lstrip())
        ctx = _Ctx(body.strip(), lineno, start + 1, source)
        insn, label = parse_statement(body.strip(), ctx)
        label_col = start + 1 + max(body.strip().rfind(label), 0) if label else 0
        stmts.append(_Stmt(insn, lineno, start + 1, label, label_col))
        pc += insn.width
    return _resolve(stmts, labels, source)


def _resolve(stmts: list[_Stmt], labels: dict[str, int], source: str) -> list[Insn]:
    out: list[Insn] = []
    pc = 0
    for st in stmts:
        insn = st.insn
        if st.label is not None:
            if st.label not in labels:
                raise AsmError(st.line, st.label_col, f"unknown label '{st.label}'", source)
            rel = labels[st.label] - pc - 1
            if insn.code in (InsnClass.JMP | JmpOp.CALL, InsnClass.JMP32 | JmpOp.JA):
                insn = replace(insn, imm=rel)
            else:
                if not -(1 << 15) <= rel < (1 << 15):
                    raise AsmError(
                        st.line,
                        st.label_col,
                        f"jump to '{st.label}' does not fit in 16 bits",
                        source,
                    )
                insn = replace(insn, off=rel)
        msg = check_fields(insn)
        if msg is not None:
            raise AsmError(st.line, st.col, msg, source)
        out.append(insn)
        pc += insn.width
    return out
