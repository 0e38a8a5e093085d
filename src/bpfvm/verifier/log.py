"""The verifier log: the one place that knows the kernel's log text (kernel/bpf/log.c,
kernel/bpf/disasm.c, and the ``verbose()`` calls of verifier.c).

:class:`VerifierLog` is a buffer with the kernel's positions and resets (``bpf_vlog_reset``):
level 1 keeps only the path that failed (a finished path's text is dropped when its branch is
popped), level 2 keeps everything. The formatting functions render registers
(``print_reg_state``), states (``print_verifier_state``), instructions (``print_bpf_insn``), the
"Live regs before insn" table and the closing statistics line exactly as Linux 6.18 does.

Two things cannot match byte for byte: a map pointer loaded by ``ld_imm64`` is a kernel address
(bpfvm prints :func:`map_address`), and the verification time is not printed at all.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from bpfvm.isa.helper_ids import HELPER_NAMES
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AtomicOp, InsnClass
from bpfvm.program.model import MapSpec
from bpfvm.verifier.scalar import Scalar, format_scalar_ranges
from bpfvm.verifier.state import (
    BPF_ADD_CONST,
    BPF_REG_SIZE,
    CONST_PTR_TO_MAP,
    MAX_BPF_REG,
    MEM_RCU,
    MEM_RDONLY,
    MEM_RINGBUF,
    PTR_MAYBE_NULL,
    PTR_TO_BTF_ID,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    PTR_TRUSTED,
    PTR_UNTRUSTED,
    SCALAR_VALUE,
    SLOT_TYPE_CHAR,
    STACK_INVALID,
    STACK_SPILL,
    FuncState,
    RegState,
    VerifierState,
)
from bpfvm.verifier.tnum import format_snum, format_unum

LOG_LEVEL1 = 1
LOG_LEVEL2 = 2
BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
BPF_LOG_MIN_ALIGNMENT = 8
BPF_LOG_ALIGNMENT = 40

S64_MIN = -(1 << 63)
S64_MAX = (1 << 63) - 1
U64_MAX = (1 << 64) - 1
S32_MIN = -(1 << 31)
S32_MAX = (1 << 31) - 1
U32_MAX = (1 << 32) - 1

_REG_TYPE_NAMES = (
    "?", "scalar", "ctx", "map_ptr", "map_value", "map_key", "fp", "pkt_meta", "pkt", "pkt_end",
    "flow_keys", "sock", "sock_common", "tcp_sock", "tp_buffer", "xdp_sock", "ptr_", "mem",
    "arena", "buf", "func", "dynptr_ptr",
)  # fmt: skip


class VerifierLog:
    """The log buffer (``struct bpf_verifier_log``) with the kernel's position bookkeeping."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._buf = io.StringIO()
        self.prev_log_pos = 0
        self.prev_insn_print_pos = 0

    @property
    def enabled(self) -> bool:
        return self.level != 0

    @property
    def level2(self) -> bool:
        return bool(self.level & LOG_LEVEL2)

    @property
    def end_pos(self) -> int:
        return self._buf.tell()

    def write(self, text: str) -> None:
        if self.level:
            self._buf.write(text)

    def reset(self, pos: int) -> None:
        """``bpf_vlog_reset``: drop everything after ``pos``."""
        if self.level and pos <= self._buf.tell():
            self._buf.seek(pos)
            self._buf.truncate(pos)

    def text(self) -> str:
        return self._buf.getvalue()


# --- numbers ------------------------------------------------------------------------------------


def _s64(v: int) -> int:
    v &= U64_MAX
    return v - (1 << 64) if v >> 63 else v


def snum(v: int) -> str:
    """``verbose_snum``: small numbers in decimal, others as the hex of the 64-bit pattern."""
    return format_snum(_s64(v))


def unum(v: int) -> str:
    """``verbose_unum``."""
    return format_unum(v & U64_MAX)


def tnum_str(value: int, mask: int) -> str:
    return f"({value & U64_MAX:#x}; {mask & U64_MAX:#x})"


def scalar_ranges(s: Scalar) -> list[str]:
    """``print_scalar_ranges`` + ``var_off``: the items of a non-constant value."""
    items = format_scalar_ranges(s)
    if not s.var_off.is_unknown():
        items.append(f"var_off={s.var_off}")
    return items


# --- registers and states -----------------------------------------------------------------------


def reg_type_str(t: int) -> str:
    """``reg_type_str``."""
    base = t & 0xFF
    postfix = ""
    if t & PTR_MAYBE_NULL:
        postfix = "or_null_" if base == PTR_TO_BTF_ID else "_or_null"
    prefix = (
        ("rdonly_" if t & MEM_RDONLY else "")
        + ("ringbuf_" if t & MEM_RINGBUF else "")
        + ("rcu_" if t & MEM_RCU else "")
        + ("untrusted_" if t & PTR_UNTRUSTED else "")
        + ("trusted_" if t & PTR_TRUSTED else "")
    )
    return f"{prefix}{_REG_TYPE_NAMES[base]}{postfix}"


def reg_str(reg: RegState, frameno: int, maps: Sequence[MapSpec]) -> str:
    """``print_reg_state``."""
    t = reg.type
    vo = reg.s.var_off
    const = vo.mask == 0
    if t == SCALAR_VALUE:
        prefix = "P" if reg.precise else ""
        if const:
            return prefix + snum(vo.value)
    else:
        prefix = ""
    text = prefix + reg_type_str(t)
    base = t & 0xFF
    if base == PTR_TO_STACK:
        if frameno != reg.frameno:
            text += f"[{reg.frameno}]"
        if const:
            return text + snum(vo.value + reg.off)
    if base == PTR_TO_BTF_ID:
        text += reg.btf_name
    items: list[str] = []
    if reg.id:
        items.append(f"id={reg.id & ~BPF_ADD_CONST}")
        if reg.id & BPF_ADD_CONST:
            items[-1] += f"{reg.off:+d}"
    if reg.ref_obj_id:
        items.append(f"ref_obj_id={reg.ref_obj_id}")
    if base in (CONST_PTR_TO_MAP, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY) and 0 <= reg.map_idx < len(
        maps
    ):
        m = maps[reg.map_idx]
        name = kernel_map_name(m)
        if name:
            items.append(f"map={name}")
        items.append(f"ks={m.key_size},vs={m.value_size}")
    if t != SCALAR_VALUE and reg.off:
        items.append(f"off={snum(reg.off)}")
    if base in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        items.append(f"r={unum(reg.range)}")
    if base == PTR_TO_MEM:
        items.append(f"sz={unum(reg.mem_size)}")
    if const:
        if vo.value:
            items.append(f"imm={snum(vo.value)}")
    else:
        items.extend(scalar_ranges(reg.s))
    return f"{text}({','.join(items)})"


def kernel_map_name(m: MapSpec) -> str:
    """The name the kernel knows a map by (``BPF_OBJ_NAME_LEN`` - 1 characters, as libbpf
    passes it: libbpf's name for global data, ``tc_rewri.bss``)."""
    return (m.kernel_name or m.name)[:15]


def state_str(
    st: VerifierState,
    frameno: int,
    maps: Sequence[MapSpec],
    scratched_regs: int | None,
    scratched_stack: int | None,
) -> str:
    """``print_verifier_state``: `` R1=ctx() R10=fp0 fp-8=mmmmmmmm`` (no newline).

    ``scratched_*`` None prints everything (``print_all``); otherwise only the scratched
    registers / stack slots (bit masks).
    """
    f = st.frame[frameno]
    out = []
    if f.frameno:
        out.append(f" frame{f.frameno}:")
    for i in range(MAX_BPF_REG):
        reg = f.regs[i]
        if reg.type == 0:
            continue
        if scratched_regs is not None and not (scratched_regs >> i) & 1:
            continue
        out.append(f" R{i}={reg_str(reg, f.frameno, maps)}")
    out.extend(_stack_items(f, maps, scratched_stack))
    if st.refs:
        ids = [str(r.id) for r in st.refs if r.id]
        if ids and st.refs[0].id:
            out.append(" refs=" + ",".join(ids))
    if f.in_callback_fn:
        out.append(" cb")
    if f.in_async_callback_fn:
        out.append(" async_cb")
    return "".join(out)


def _stack_items(f: FuncState, maps: Sequence[MapSpec], scratched: int | None) -> list[str]:
    out = []
    for i, slot in enumerate(f.stack):
        if scratched is not None and not (scratched >> i) & 1:
            continue
        types = slot.slot_type
        if all(t == STACK_INVALID for t in types):
            continue
        chars = "".join(SLOT_TYPE_CHAR[t] for t in types)
        off = (-i - 1) * BPF_REG_SIZE
        if types[BPF_REG_SIZE - 1] == STACK_SPILL:
            j = types.index(STACK_SPILL)
            out.append(f" fp{off}={chars[:j]}{reg_str(slot.spilled, f.frameno, maps)}")
        else:
            out.append(f" fp{off}={chars}")
    return out


def vlog_alignment(pos: int) -> int:
    """``bpf_vlog_alignment``: padding that puts the state after an instruction at a column
    that is a multiple of 8, at least 40."""
    width = max(pos + BPF_LOG_MIN_ALIGNMENT // 2, BPF_LOG_ALIGNMENT)
    return (
        (width + BPF_LOG_MIN_ALIGNMENT - 1) // BPF_LOG_MIN_ALIGNMENT * BPF_LOG_MIN_ALIGNMENT
        - pos
        - 1
    )


# --- instructions (kernel/bpf/disasm.c: print_bpf_insn) -----------------------------------------

_ALU = {
    0x0: "+=", 0x1: "-=", 0x2: "*=", 0x3: "/=", 0x4: "|=", 0x5: "&=", 0x6: "<<=", 0x7: ">>=",
    0x8: "neg", 0x9: "%=", 0xA: "^=", 0xB: "=", 0xC: "s>>=", 0xD: "endian",
}  # fmt: skip
ALU_OP_TEXT = _ALU
_ALU_SIGNED = {0x3: "s/=", 0x9: "s%="}
_JMP = {0x0: "jmp", 0x1: "==", 0x2: ">", 0xA: "<", 0x3: ">=", 0xB: "<=", 0x4: "&", 0x5: "!=",
        0x6: "s>", 0xC: "s<", 0x7: "s>=", 0xD: "s<=", 0x8: "call", 0x9: "exit"}  # fmt: skip
_LDST = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
_LDSX = {0x00: "s32", 0x08: "s16", 0x10: "s8"}
_MOVSX = {8: "(s8)", 16: "(s16)", 32: "(s32)"}
_ATOMIC_ALU = {0x0: "add", 0x5: "and", 0x4: "or", 0xA: "xor"}
_CLASS = ("ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64")


def map_address(index: int, offset: int = 0) -> int:
    """The stand-in bpfvm prints for the kernel address of map ``index`` (plus ``offset``)."""
    return 0xFFFF888100000000 + index * 0x1000 + offset


def insn_text(insn: Insn) -> str:
    """``print_bpf_insn`` for a privileged loader, without the trailing newline."""
    code = insn.code
    cls = code & 7
    c = f"({code:02x})"
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return c + " " + _alu_text(insn, cls)
    if cls == InsnClass.STX:
        return c + " " + _stx_text(insn)
    if cls == InsnClass.ST:
        if code & 0xE0 == 0x60:
            return f"{c} *({_LDST[code & 0x18]} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
        return f"BUG_st_{code:02x}"
    if cls == InsnClass.LDX:
        mode = code & 0xE0
        names = _LDST if mode == 0x60 else _LDSX
        return f"{c} r{insn.dst} = *({names.get(code & 0x18, '?')} *)(r{insn.src} {insn.off:+d})"
    if cls == InsnClass.LD:
        return c + " " + _ld_text(insn)
    return c + " " + _jmp_text(insn, cls)


def _alu_text(insn: Insn, cls: int) -> str:
    code = insn.code
    op = code >> 4
    w = "r" if cls == InsnClass.ALU64 else "w"
    if op == 0xD:
        if cls == InsnClass.ALU64:
            return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
        return f"r{insn.dst} = {'be' if code & 8 else 'le'}{insn.imm} r{insn.dst}"
    if op == 0x8:
        return f"{w}{insn.dst} = -{w}{insn.dst}"
    if code == 0xBF and insn.off == 1:
        imm = insn.imm & U32_MAX
        return f"r{insn.dst} = addr_space_cast(r{insn.src}, {imm >> 16}, {imm & 0xFFFF})"
    sign = insn.off == 1 and op in (0x3, 0x9)
    opname = _ALU_SIGNED[op] if sign else _ALU[op]
    if code & 8:
        movsx = _MOVSX.get(insn.off, "") if op == 0xB else ""
        return f"{w}{insn.dst} {opname} {movsx}{w}{insn.src}"
    return f"{w}{insn.dst} {opname} {insn.imm}"


def _stx_text(insn: Insn) -> str:
    code = insn.code
    size = _LDST[code & 0x18]
    mode = code & 0xE0
    d, s, off, imm = insn.dst, insn.src, insn.off, insn.imm
    if mode == 0x60:
        return f"*({size} *)(r{d} {off:+d}) = r{s}"
    if mode != 0xC0:
        return f"BUG_{code:02x}"
    w64 = "64" if code & 0x18 == 0x18 else ""
    if imm in (AtomicOp.ADD, AtomicOp.AND, AtomicOp.OR, AtomicOp.XOR):
        return f"lock *({size} *)(r{d} {off:+d}) {_ALU[imm >> 4]} r{s}"
    if imm in (AtomicOp.FETCH_ADD, AtomicOp.FETCH_AND, AtomicOp.FETCH_OR, AtomicOp.FETCH_XOR):
        op = _ATOMIC_ALU[(imm & ~1) >> 4]
        return f"r{s} = atomic{w64}_fetch_{op}(({size} *)(r{d} {off:+d}), r{s})"
    if imm == AtomicOp.CMPXCHG:
        return f"r0 = atomic{w64}_cmpxchg(({size} *)(r{d} {off:+d}), r0, r{s})"
    if imm == AtomicOp.XCHG:
        return f"r{s} = atomic{w64}_xchg(({size} *)(r{d} {off:+d}), r{s})"
    if imm == AtomicOp.LOAD_ACQ:
        return f"r{d} = load_acquire(({size} *)(r{s} {off:+d}))"
    if imm == AtomicOp.STORE_REL:
        return f"store_release(({size} *)(r{d} {off:+d}), r{s})"
    return f"BUG_{code:02x}"


def _ld_text(insn: Insn) -> str:
    code = insn.code
    mode = code & 0xE0
    size = _LDST[code & 0x18]
    if mode == 0x20:
        return f"r0 = *({size} *)skb[{insn.imm}]"
    if mode == 0x40:
        return f"r0 = *({size} *)skb[r{insn.src} + {insn.imm}]"
    if code == 0x18:
        if insn.src in (1, 5):
            value = map_address(insn.imm)
        elif insn.src in (2, 6):
            value = map_address(insn.imm, insn.imm_hi & U32_MAX)
        else:
            value = insn.imm64
        return f"r{insn.dst} = {value:#x}"
    return f"BUG_ld_{code:02x}"


def _jmp_text(insn: Insn, cls: int) -> str:
    code = insn.code
    op = code >> 4
    w = "w" if cls == InsnClass.JMP32 else "r"
    if op == 0x8:
        if insn.src == 1:
            return f"call pc{insn.imm:+d}"
        if insn.src == 0 and insn.imm in HELPER_NAMES:
            return f"call {HELPER_NAMES[insn.imm]}#{insn.imm}"
        if insn.src == 2:
            return f"call kernel-function#{insn.imm}"
        return f"call unknown#{insn.imm}"
    if code == 0x05:
        return f"goto pc{insn.off:+d}"
    if code == 0xE5:
        return f"may_goto pc{insn.off:+d}"
    if code == 0x06:
        return f"gotol pc{insn.imm:+d}"
    if code == 0x95:
        return "exit"
    if op not in _JMP:
        return _CLASS[cls]
    if code & 8:
        return f"if {w}{insn.dst} {_JMP[op]} {w}{insn.src} goto pc{insn.off:+d}"
    return f"if {w}{insn.dst} {_JMP[op]} {insn.imm & U32_MAX:#x} goto pc{insn.off:+d}"


# --- fixed lines ---------------------------------------------------------------------------------


def live_regs_table(
    slots: Sequence[Insn | None], live_before: Sequence[int], scc: Sequence[int]
) -> str:
    """The "Live regs before insn:" table of ``compute_live_registers``."""
    lines = ["Live regs before insn:\n"]
    for i, insn in enumerate(slots):
        if insn is None:
            continue
        regs = "".join(str(j) if (live_before[i] >> j) & 1 else "." for j in range(10))
        pfx = f"{scc[i]:3d} " if scc[i] else "    "
        lines.append(f"{pfx}{i:3d}: {regs} {insn_text(insn)}\n")
    return "".join(lines)


def stats_line(processed: int, max_states: int, total: int, peak: int) -> str:
    """``print_verification_stats`` (without BPF_LOG_STATS)."""
    return (
        f"processed {processed} insns (limit {BPF_COMPLEXITY_LIMIT_INSNS}) "
        f"max_states_per_insn {max_states} total_states {total} peak_states {peak} mark_read 0\n"
    )
