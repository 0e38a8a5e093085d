"""The xlated program as text, in the kernel's syntax (``kernel/bpf/disasm.c``, as
``bpftool prog dump xlated`` prints it).

Each instruction is ``%4d: (%02x) text``; a line-info record is printed as ``; source line``
before the first instruction of its line, and each subprogram of a multi-function program
starts with ``func#N:``. As ``bpf_insn_prepare_dump`` does, the dump shows the form a user can
read: the internal ``CALL_ARGS`` is printed as the bpf-to-bpf call it came from
(``call pc+IMM``, the 32-bit target), ``TAIL_CALL`` as ``call bpf_tail_call#12``, and a map
reference as ``map[id:N]`` (N: the map's index in the object; the kernel shows the map id).
Helper calls show the runtime function and its index in the call table (the kernel shows the
function's name and its offset from ``__bpf_call_base``).
"""

from __future__ import annotations

from bpfvm.asm.syntax import ALU_OPS, ATOMIC_FETCH_OPS, ATOMIC_LOCK_OPS, JMP_OPS, SIGNED_ALU_OPS
from bpfvm.fixups.program import CALL_ARGS_CODE, TAIL_CALL_CODE, XlatedProgram
from bpfvm.isa.helper_ids import HELPER_NAMES
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, AtomicOp, CallSrc, InsnClass, JmpOp, Mode, PseudoSrc, Size

BPF_ADDR_PERCPU = -1  # MOV64_PERCPU_REG: off of a move that makes a per-CPU address
_SIZES = {Size.B: "u8", Size.H: "u16", Size.W: "u32", Size.DW: "u64"}
_SSIZES = {Size.B: "s8", Size.H: "s16", Size.W: "s32", Size.DW: "s64"}


def _r(n: int, wide: bool = True) -> str:
    return f"{'r' if wide else 'w'}{n}"


def _mem(insn: Insn, base: int, signed: bool = False) -> str:
    size = Size(insn.code & 0x18)
    return f"*({(_SSIZES if signed else _SIZES)[size]} *)(r{base} {insn.off:+d})"


def _alu(insn: Insn) -> str:
    cls = insn.code & 0x07
    wide = cls == InsnClass.ALU64
    op = AluOp(insn.code & 0xF0)
    x = bool(insn.code & 0x08)
    d = _r(insn.dst, wide)
    src = _r(insn.src, wide) if x else str(insn.imm)
    if op == AluOp.NEG:
        return f"{d} = -{d}"
    if op == AluOp.END:
        if wide:
            return f"{d} = bswap{insn.imm} {d}"
        return f"{_r(insn.dst)} = {'be' if x else 'le'}{insn.imm} {_r(insn.dst)}"
    if op == AluOp.MOV:
        if x and wide and insn.off == 1:
            return f"{d} = addr_space_cast({_r(insn.src)}, {insn.imm >> 16}, {insn.imm & 0xFFFF})"
        if x and wide and insn.off == BPF_ADDR_PERCPU:  # the kernel's internal per-CPU move
            return f"{d} = &(void __percpu *)({_r(insn.src)})"
        if x and insn.off:
            return f"{d} = (s{insn.off}){src}"
        return f"{d} = {src}"
    ops = SIGNED_ALU_OPS if insn.off == 1 and op in SIGNED_ALU_OPS else ALU_OPS
    return f"{d} {ops[op]} {src}"


def _jmp(insn: Insn, pc: int, prog: XlatedProgram) -> str:
    code = insn.code
    cls = code & 0x07
    op = code & 0xF0
    if code == CALL_ARGS_CODE and prog.call_args_patched:
        return f"call pc{insn.imm:+d}"
    if code == TAIL_CALL_CODE:
        return "call bpf_tail_call#12"
    if op == JmpOp.EXIT:
        return "exit"
    if op == JmpOp.CALL:
        return _call(insn, prog)
    if op == JmpOp.JA:
        return f"gotol pc{insn.imm:+d}" if cls == InsnClass.JMP32 else f"goto pc{insn.off:+d}"
    if op == JmpOp.JCOND:
        return f"may_goto pc{insn.off:+d}"
    wide = cls == InsnClass.JMP
    rhs = _r(insn.src, wide) if code & 0x08 else f"{insn.imm & 0xFFFFFFFF:#x}"
    return f"if {_r(insn.dst, wide)} {JMP_OPS[JmpOp(op)]} {rhs} goto pc{insn.off:+d}"


def _call(insn: Insn, prog: XlatedProgram) -> str:
    if insn.code & 0x08:
        return f"callx r{insn.dst}"
    if insn.src == CallSrc.PSEUDO_CALL:
        return f"call pc{insn.imm:+d}"
    if insn.src == CallSrc.KFUNC_CALL:
        return f"call kernel-function#{insn.imm}"
    if prog.call_table and 0 <= insn.imm < len(prog.call_table):
        return f"call {prog.call_table[insn.imm].name}#{insn.imm}"
    return f"call {HELPER_NAMES.get(insn.imm, 'unknown')}#{insn.imm}"


def _ld_imm64(insn: Insn, prog: XlatedProgram) -> str:
    d = _r(insn.dst)
    if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
        return f"{d} = map[id:{insn.imm}]"
    if insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
        return f"{d} = map[id:{insn.imm}][0]+{insn.imm_hi & 0xFFFFFFFF}"
    if insn.src == PseudoSrc.FUNC:
        return f"{d} = func[pc{insn.imm:+d}]"
    if insn.src == PseudoSrc.BTF_ID:
        return f"{d} = btf_id[{insn.imm}]"
    return f"{d} = {insn.imm64:#x}"


def _atomic(insn: Insn) -> str:
    wide = (insn.code & 0x18) == Size.DW
    sfx = "64" if wide else ""
    ptr = f"({_SIZES[Size(insn.code & 0x18)]} *)(r{insn.dst} {insn.off:+d})"
    s = _r(insn.src, wide)
    op = insn.imm
    if op in ATOMIC_LOCK_OPS:
        return f"lock {_mem(insn, insn.dst)} {ATOMIC_LOCK_OPS[op]} r{insn.src}"
    if op in ATOMIC_FETCH_OPS:
        return f"{s} = atomic{sfx}_fetch_{ATOMIC_FETCH_OPS[op]}({ptr}, {s})"
    if op == AtomicOp.XCHG:
        return f"{s} = atomic{sfx}_xchg({ptr}, {s})"
    if op == AtomicOp.CMPXCHG:
        return f"{_r(0, wide)} = atomic{sfx}_cmpxchg({ptr}, {_r(0, wide)}, {s})"
    if op == AtomicOp.LOAD_ACQ:
        src_ptr = f"({_SIZES[Size(insn.code & 0x18)]} *)(r{insn.src} {insn.off:+d})"
        return f"{_r(insn.dst, wide)} = load_acquire({src_ptr})"
    if op == AtomicOp.STORE_REL:
        return f"store_release({ptr}, {s})"
    return f"BUG_atomic_{op:#x}"


def format_xlated_insn(insn: Insn, pc: int, prog: XlatedProgram) -> str:
    """``(code) text`` of one instruction."""
    cls = insn.code & 0x07
    mode = insn.code & 0xE0
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        text = _alu(insn)
    elif cls in (InsnClass.JMP, InsnClass.JMP32):
        text = _jmp(insn, pc, prog)
    elif cls == InsnClass.LDX:
        text = f"r{insn.dst} = {_mem(insn, insn.src, mode == Mode.MEMSX)}"
    elif cls == InsnClass.ST:
        text = f"{_mem(insn, insn.dst)} = {insn.imm}"
    elif cls == InsnClass.STX:
        text = _atomic(insn) if mode == Mode.ATOMIC else f"{_mem(insn, insn.dst)} = r{insn.src}"
    elif insn.width == 2:
        text = _ld_imm64(insn, prog)
    else:  # LD_ABS / LD_IND
        size = _SIZES[Size(insn.code & 0x18)]
        where = f"r{insn.src} + {insn.imm}" if mode == Mode.IND else str(insn.imm)
        text = f"r0 = *({size} *)skb[{where}]"
    return f"({insn.code:02x}) {text}"


def dump_xlated(prog: XlatedProgram, linum: bool = False) -> str:
    """The whole program, with line info and function markers."""
    lines: dict[int, list[str]] = {}
    for li in prog.line_info:
        where = f" @ {li.file}:{li.line}:{li.col}" if linum else ""
        lines.setdefault(li.insn_off, []).append(f"; {li.text.strip()}{where}")
    starts = {sp.start: k for k, sp in enumerate(prog.subprogs)} if len(prog.subprogs) > 1 else {}
    out: list[str] = []
    pc = 0
    for insn in prog.insns:
        if pc in starts:
            out.append(f"func#{starts[pc]}:")
        out.extend(lines.get(pc, []))
        out.append(f"{pc:4d}: {format_xlated_insn(insn, pc, prog)}")
        pc += insn.width
    return "\n".join(out)
