"""Lowering of ALU operations and jumps, with SPEC.md section 6's exact semantics.

LLVM's ``udiv``/``sdiv``/``urem``/``srem`` are undefined for a zero divisor and for
``INT_MIN / -1``, and its shifts are poison for amounts >= the width, so the lowering never
emits those cases: the divisor is replaced by 1 when it is 0 (or -1 for signed forms) and the
result selected afterwards (``x / 0 = 0``, ``x % 0 = x``, ``x / -1 = -x``, ``x % -1 = 0``),
and register shift amounts are masked (``& 63`` / ``& 31``). With a constant operand LLVM folds
all of that away. 32-bit forms compute on ``i32`` and zero-extend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llvmlite import ir

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, JmpOp, Source
from bpfvm.isa.spec import OpKind, OpSpec
from bpfvm.vm.jit.lower_calls import lower_call, lower_callx
from bpfvm.vm.jit.lower_mem import lower_atomic, lower_ld_packet, lower_load, lower_store

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer

M32 = 0xFFFFFFFF
MAX_REG = 11


def _regs_ok(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> bool:
    """Register fields beyond r11 are invalid (the interpreter has no such registers)."""
    kind = spec.kind
    used: list[int] = []
    if kind not in (OpKind.JA, OpKind.GOTOL, OpKind.JCOND, OpKind.CALL, OpKind.EXIT,
                    OpKind.LD_ABS, OpKind.LD_IND):  # fmt: skip
        used.append(insn.dst)
    reads_src = kind in (OpKind.LDX, OpKind.LDX_SX, OpKind.STX, OpKind.ATOMIC, OpKind.LD_IND)
    if reads_src or (spec.source is Source.X and kind in (OpKind.ALU, OpKind.MOV, OpKind.JCC)):
        used.append(insn.src)
    for reg in used:
        if reg > MAX_REG:
            fl.fault(pc, f"R{reg} is invalid")
            return False
    return True


def lower_insn(fl: FunctionLowerer, pc: int, insn: Insn) -> None:
    spec = insn.spec
    if spec is None:
        base, _ = fl.layout.bounds(pc)
        fl.fault(pc - base, f"unknown opcode {insn.code:02x}")
        return
    static = fl.layout.static_fault(pc, insn)
    if static is not None:
        fl.fault(*static)
        return
    if not _regs_ok(fl, pc, insn, spec):
        return
    _LOWER[spec.kind](fl, pc, insn, spec)


# -- ALU ------------------------------------------------------------------------------------


def _operands(fl: FunctionLowerer, insn: Insn, spec: OpSpec) -> tuple[ir.Value, ir.Value, int]:
    bits = 64 if spec.is64 else 32
    dst = fl.get(insn.dst)
    if bits == 32:
        dst = fl.b.trunc(dst, fl.t.i32)
    if spec.source is Source.X:
        src = fl.get(insn.src)
        if bits == 32:
            src = fl.b.trunc(src, fl.t.i32)
    else:
        src = fl.const(insn.imm, bits)  # ALU64: the immediate sign-extended
    return dst, src, bits


def _divmod(
    fl: FunctionLowerer, op: AluOp, signed: bool, dst: ir.Value, src: ir.Value, bits: int
) -> ir.Value:
    b = fl.b
    zero = b.icmp_unsigned("==", src, fl.const(0, bits))
    one = fl.const(1, bits)
    if not signed:
        safe = b.select(zero, one, src)
        if op is AluOp.DIV:
            return b.select(zero, fl.const(0, bits), b.udiv(dst, safe))
        return b.select(zero, dst, b.urem(dst, safe))
    minus1 = b.icmp_unsigned("==", src, fl.const(-1, bits))
    safe = b.select(b.or_(zero, minus1), one, src)
    if op is AluOp.DIV:
        q = b.select(minus1, b.neg(dst), b.sdiv(dst, safe))
        return b.select(zero, fl.const(0, bits), q)
    r = b.select(minus1, fl.const(0, bits), b.srem(dst, safe))
    return b.select(zero, dst, r)


_BITWISE: dict[AluOp, str] = {
    AluOp.ADD: "add",
    AluOp.SUB: "sub",
    AluOp.MUL: "mul",
    AluOp.OR: "or_",
    AluOp.AND: "and_",
    AluOp.XOR: "xor",
}
_SHIFTS: dict[AluOp, str] = {AluOp.LSH: "shl", AluOp.RSH: "lshr", AluOp.ARSH: "ashr"}


def _alu(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    assert spec.alu_op is not None
    op = spec.alu_op
    dst, src, bits = _operands(fl, insn, spec)
    b = fl.b
    if op in _BITWISE:
        result = getattr(b, _BITWISE[op])(dst, src)
    elif op in _SHIFTS:
        amount = b.and_(src, fl.const(bits - 1, bits))
        result = getattr(b, _SHIFTS[op])(dst, amount)
    elif op in (AluOp.DIV, AluOp.MOD):
        result = _divmod(fl, op, insn.off == 1, dst, src, bits)
    else:
        fl.fault(pc, f"invalid BPF_ALU opcode {op:x}")
        return
    fl.put(insn.dst, result)


def _mov(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    b, t, wide = fl.b, fl.t, spec.is64
    if spec.source is Source.K:
        fl.put(insn.dst, fl.const(insn.imm, 64 if wide else 32))
        return
    src = fl.get(insn.src)
    if insn.off in (8, 16, 32):
        narrow = b.sext(b.trunc(src, t.ity(insn.off)), t.i64)
        fl.put(insn.dst, narrow if wide else b.zext(b.trunc(narrow, t.i32), t.i64))
        return
    fl.put(insn.dst, src if wide else b.zext(b.trunc(src, t.i32), t.i64))


def _neg(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    value = fl.get(insn.dst)
    if not spec.is64:
        value = fl.b.trunc(value, fl.t.i32)
    fl.put(insn.dst, fl.b.neg(value))


def _end(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    b, t, bits = fl.b, fl.t, insn.imm
    swap = spec.kind is OpKind.BSWAP or spec.source is Source.X
    value = fl.get(insn.dst)
    if bits == 8:
        fl.put(insn.dst, b.and_(value, t.c64(0xFF)))
        return
    if bits not in (16, 32, 64):
        fl.fault(pc, f"invalid byte swap width {bits}")
        return
    ty = t.ity(bits)
    narrow = value if bits == 64 else b.trunc(value, ty)
    if swap:
        bswap = fl.ctx.intrinsic(f"llvm.bswap.i{bits}", ty, [ty])
        narrow = b.call(bswap, [narrow])
    fl.put(insn.dst, narrow)


# -- jumps and exit ---------------------------------------------------------------------------

_PREDICATES: dict[JmpOp, tuple[bool, str]] = {
    JmpOp.JEQ: (False, "=="),
    JmpOp.JNE: (False, "!="),
    JmpOp.JGT: (False, ">"),
    JmpOp.JGE: (False, ">="),
    JmpOp.JLT: (False, "<"),
    JmpOp.JLE: (False, "<="),
    JmpOp.JSGT: (True, ">"),
    JmpOp.JSGE: (True, ">="),
    JmpOp.JSLT: (True, "<"),
    JmpOp.JSLE: (True, "<="),
}


def _jcc(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    assert spec.jmp_op is not None
    b, bits = fl.b, 64 if spec.is64 else 32
    a = fl.get(insn.dst)
    c = fl.get(insn.src) if spec.source is Source.X else fl.const(insn.imm, 64)
    if bits == 32:
        a, c = b.trunc(a, fl.t.i32), b.trunc(c, fl.t.i32)
    if spec.jmp_op is JmpOp.JSET:
        cond = b.icmp_unsigned("!=", b.and_(a, c), fl.const(0, bits))
    else:
        signed, pred = _PREDICATES[spec.jmp_op]
        cond = (b.icmp_signed if signed else b.icmp_unsigned)(pred, a, c)
    target = pc + 1 + insn.off
    b.cbranch(cond, fl.edge(pc, target), fl.block(pc + 1))


def _ja(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    fl.jump(pc, pc + 1 + (insn.imm if spec.kind is OpKind.GOTOL else insn.off))


def _may_goto(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    """Fall through while the frame's budget lasts; jump once it is used up (SPEC.md 1.8)."""
    b, t = fl.b, fl.t
    assert fl.may_goto is not None
    left = b.load(fl.may_goto, typ=t.i64)
    spend = fl.fn.append_basic_block("may_goto_spend")
    b.cbranch(b.icmp_unsigned("==", left, t.c64(0)), fl.edge(pc, pc + 1 + insn.off), spend)
    b.position_at_end(spend)
    b.store(b.sub(left, t.c64(1)), fl.may_goto)
    b.branch(fl.block(pc + 1))


def _exit(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    fl.ret(fl.get(0))


def _ld_imm64(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    fl.ld_imm64(pc, insn)


_LOWER: dict[OpKind, Callable[[FunctionLowerer, int, Insn, OpSpec], None]] = {
    OpKind.ALU: _alu,
    OpKind.NEG: _neg,
    OpKind.MOV: _mov,
    OpKind.END: _end,
    OpKind.BSWAP: _end,
    OpKind.JA: _ja,
    OpKind.GOTOL: _ja,
    OpKind.JCOND: _may_goto,
    OpKind.JCC: _jcc,
    OpKind.CALL: lower_call,
    OpKind.CALLX: lower_callx,
    OpKind.EXIT: _exit,
    OpKind.LD_IMM64: _ld_imm64,
    OpKind.LD_ABS: lower_ld_packet,
    OpKind.LD_IND: lower_ld_packet,
    OpKind.LDX: lower_load,
    OpKind.LDX_SX: lower_load,
    OpKind.ST: lower_store,
    OpKind.STX: lower_store,
    OpKind.ATOMIC: lower_atomic,
}
assert set(_LOWER) == set(OpKind)
