"""Whole-program checks and tables computed before the path walk (verifier.c, Linux 6.18).

In the kernel's order (``bpf_check``):

1. ``add_subprog_and_kfunc``: subprogram starts from pseudo calls and pseudo-func ld_imm64
   (``call to invalid destination``), logged as ``func#N @START`` at level 2;
2. ``check_subprogs``: every jump stays inside its subprogram (``jump out of range from insn
   %d to %d``) and each subprogram ends in exit or ``goto`` (``last insn is not an exit or
   jmp``);
3. ``resolve_pseudo_ldimm64``: reserved LDX fields, malformed ld_imm64 pairs, map fds
   (``fd %d is not pointing to valid bpf_map``), direct value addresses, unknown opcodes;
4. ``check_cfg``: a DFS over the control-flow graph that marks prune points, jump points and
   forced checkpoints; back-edges are allowed (privileged loader), unreachable code is not;
5. ``compute_postorder``, ``compute_scc`` and ``compute_live_registers`` (the "Live regs before
   insn" table at level 2), whose result ``live_regs_before`` drives state cleaning.

Instruction indexes are slot indexes, as in the kernel: ``slots[i]`` is the instruction that
starts at slot ``i``, None for the second half of an ld_imm64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import InsnClass, Mode
from bpfvm.isa.spec import KERNEL_OPCODES
from bpfvm.platform.env import ProgEnv
from bpfvm.platform.prog_types import func_proto
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.verifier.btf_vmlinux import check_pseudo_btf_id
from bpfvm.verifier.errors import E2BIG, EINVAL, reject
from bpfvm.verifier.log import VerifierLog

BPF_MAX_SUBPROGS = 256
BPF_MAX_VAR_OFF = 1 << 29
LD_IMM64 = 0x18
CALL = 0x85
EXIT = 0x95
JA = 0x05
GOTOL = 0x06
JCOND = 0xE5

FUNC_LOOP = HELPER_IDS["bpf_loop"]
FUNC_FOR_EACH_MAP_ELEM = HELPER_IDS["bpf_for_each_map_elem"]
FUNC_FIND_VMA = HELPER_IDS["bpf_find_vma"]
FUNC_USER_RINGBUF_DRAIN = HELPER_IDS["bpf_user_ringbuf_drain"]
FUNC_TIMER_SET_CALLBACK = HELPER_IDS["bpf_timer_set_callback"]
FUNC_TAIL_CALL = HELPER_IDS["bpf_tail_call"]
SYNC_CALLBACK_HELPERS = frozenset(
    {FUNC_LOOP, FUNC_FOR_EACH_MAP_ELEM, FUNC_FIND_VMA, FUNC_USER_RINGBUF_DRAIN}
)


@dataclass
class Subprog:
    """``struct bpf_subprog_info`` (the parts bpfvm uses)."""

    start: int
    end: int = 0
    stack_depth: int = 0
    has_tail_call: bool = False
    has_ld_abs: bool = False
    is_global: bool = False
    name: str = ""
    postorder_start: int = 0
    is_cb: bool = False
    is_async_cb: bool = False
    changes_pkt_data: bool = False
    called: bool = False
    arg_cnt: int = 0
    keep_fastcall_stack: bool = False  # a non-inlined call has a fastcall-like pattern
    fastcall_stack_off: int = 0  # the top of the fastcall spill area (S16_MIN: no rewrite)


@dataclass
class ProgInfo:
    """The program as the path walk sees it, plus per-slot tables (``insn_aux_data`` parts)."""

    prog: Program
    slots: list[Insn | None]
    subprogs: list[Subprog] = field(default_factory=list)
    prune_point: bytearray = field(default_factory=bytearray)
    jmp_point: bytearray = field(default_factory=bytearray)
    force_checkpoint: bytearray = field(default_factory=bytearray)
    calls_callback: bytearray = field(default_factory=bytearray)
    live_regs_before: list[int] = field(default_factory=list)
    scc: list[int] = field(default_factory=list)
    postorder: list[int] = field(default_factory=list)

    @property
    def insn_cnt(self) -> int:
        return len(self.slots)

    def subprog_of(self, idx: int) -> int:
        """``bpf_find_containing_subprog``: the index of the subprogram holding slot ``idx``."""
        lo = 0
        for i, sp in enumerate(self.subprogs):
            if sp.start <= idx:
                lo = i
        return lo


def slot_table(insns: tuple[Insn, ...] | list[Insn]) -> list[Insn | None]:
    slots: list[Insn | None] = []
    for insn in insns:
        slots.append(insn)
        if insn.width == 2:
            slots.append(None)
    return slots


def is_pseudo_call(insn: Insn | None) -> bool:
    return insn is not None and insn.code == CALL and insn.src == 1


def is_pseudo_func(insn: Insn | None) -> bool:
    return insn is not None and insn.code == LD_IMM64 and insn.src == 4


def is_helper_call(insn: Insn | None) -> bool:
    return insn is not None and insn.code == CALL and insn.src == 0


def jmp_offset(insn: Insn) -> int:
    """``bpf_jmp_offset``."""
    return insn.imm if insn.code == GOTOL else insn.off


def successors(info: ProgInfo, idx: int) -> tuple[int, ...]:
    """``bpf_insn_successors``: fall-through and jump targets (calls fall through)."""
    insn = info.slots[idx]
    if insn is None:  # second half of an ld_imm64: an LD, falls through
        return (idx + 1,)
    code = insn.code
    cls = code & 7
    if cls not in (InsnClass.JMP, InsnClass.JMP32):
        return (idx + insn.width,)
    op = code & 0xF0
    if op == 0x90:  # exit
        return ()
    if op == 0x80:  # call
        return (idx + 1,)
    if op == 0x00:  # ja / gotol
        return (idx + jmp_offset(insn) + 1,)
    return (idx + 1, idx + insn.off + 1)


def add_subprogs(info: ProgInfo, log: VerifierLog) -> None:
    """``add_subprog_and_kfunc``."""
    n = info.insn_cnt
    starts = {0}
    for i, insn in enumerate(info.slots):
        if insn is None:
            continue
        if is_pseudo_func(insn) or is_pseudo_call(insn):
            target = i + insn.imm + 1
            if target < 0 or target >= n:
                raise reject("call to invalid destination", EINVAL)
            starts.add(target)
            if len(starts) > BPF_MAX_SUBPROGS:
                raise reject("too many subprograms", E2BIG)
        elif insn.code == CALL and insn.src == 2:
            raise reject(f"kernel btf_id {insn.imm} is not a function", EINVAL)
    ordered = sorted(starts)
    info.subprogs = [Subprog(start=s) for s in ordered]
    for k, sp in enumerate(info.subprogs):
        sp.end = ordered[k + 1] if k + 1 < len(ordered) else n
    _name_subprogs(info)
    if log.level2:
        for k, sp in enumerate(info.subprogs):
            log.write(f"func#{k} @{sp.start}\n")


def _name_subprogs(info: ProgInfo) -> None:
    """Global (non-static) subprograms from the object's symbols, when bpfvm knows them."""
    prog = info.prog
    btf = prog.btf
    if btf is None:
        return
    globals_by_start = getattr(prog, "global_funcs", None)
    if isinstance(globals_by_start, dict):
        for sp in info.subprogs[1:]:
            if sp.start in globals_by_start:
                sp.is_global = True
                sp.name = str(globals_by_start[sp.start])


def check_subprogs(info: ProgInfo) -> None:
    """``check_subprogs``: jumps stay inside their subprogram, no fall-through between them."""
    subs = info.subprogs
    cur = 0
    start, end = subs[0].start, subs[0].end
    for i, insn in enumerate(info.slots):
        code = insn.code if insn is not None else 0
        cls = code & 7
        if insn is not None:
            if code == CALL and insn.src == 0 and insn.imm == FUNC_TAIL_CALL:
                subs[cur].has_tail_call = True
            if cls == InsnClass.LD and (code & 0xE0) in (Mode.ABS, Mode.IND):
                subs[cur].has_ld_abs = True
            if cls in (InsnClass.JMP, InsnClass.JMP32) and (code & 0xF0) not in (0x80, 0x90):
                off = i + jmp_offset(insn) + 1
                if off < start or off >= end:
                    raise reject(f"jump out of range from insn {i} to {off}", EINVAL)
        if i == end - 1:
            if code not in (EXIT, GOTOL, JA):
                raise reject("last insn is not an exit or jmp", EINVAL)
            cur += 1
            if cur < len(subs):
                start, end = subs[cur].start, subs[cur].end


def check_abnormal_return(info: ProgInfo) -> None:
    """``check_abnormal_return``: without BTF, subprograms may not end the program early."""
    for sp in info.subprogs[1:]:
        if sp.has_ld_abs:
            raise reject("LD_ABS is not allowed in subprogs without BTF", EINVAL)
        if sp.has_tail_call:
            raise reject("tail_call is not allowed in subprogs without BTF", EINVAL)


_TRACING_TYPES = frozenset({ProgType.KPROBE, ProgType.TRACEPOINT, ProgType.PERF_EVENT,
                            ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE})  # fmt: skip


def check_map_prog_compatibility(info: ProgInfo, m: MapSpec) -> None:
    """``check_map_prog_compatibility``: special map value fields some types cannot use."""
    from bpfvm.verifier.btf_fields import value_fields

    names = {name for _off, _size, name in value_fields(info.prog.btf, m.btf_value_type_id)}
    pt = info.prog.prog_type
    if names & {"bpf_list_head", "bpf_rb_root"} and pt in _TRACING_TYPES:
        raise reject("tracing progs cannot use bpf_{list_head,rb_root} yet", EINVAL)
    if names & {"bpf_spin_lock", "bpf_res_spin_lock"}:
        if pt == ProgType.SOCKET_FILTER:
            raise reject("socket filter progs cannot use bpf_spin_lock yet", EINVAL)
        if pt in _TRACING_TYPES:
            raise reject("tracing progs cannot use bpf_spin_lock yet", EINVAL)
    if "bpf_timer" in names and pt in _TRACING_TYPES:
        raise reject("tracing progs cannot use bpf_timer yet", EINVAL)
    if "bpf_wq" in names and pt in _TRACING_TYPES:
        raise reject("tracing progs cannot use bpf_wq yet", EINVAL)


def check_attach(info: ProgInfo) -> None:
    """The parts of ``check_attach_btf_id`` bpfvm models: sleepable program types."""
    from bpfvm.platform.prog_types import PROG_TYPES

    prog = info.prog
    spec = PROG_TYPES.get(prog.prog_type)
    eat = int(prog.expected_attach_type) if prog.expected_attach_type is not None else None
    if prog.sleepable and (spec is None or not spec.can_be_sleepable(eat)):
        # the running kernel's (6.18) wording; newer trees say "Program of this type cannot
        # be sleepable"
        raise reject(
            "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be "
            "sleepable",
            EINVAL,
        )
    if prog.prog_type == ProgType.SYSCALL and not prog.sleepable:
        raise reject("Syscall programs can only be sleepable", EINVAL)


def resolve_pseudo_ldimm64(info: ProgInfo) -> None:
    """``resolve_pseudo_ldimm64``: encoding of loads, ld_imm64 pairs and map references."""
    maps = info.prog.maps
    for insn in info.slots:
        if insn is None:
            continue
        code = insn.code
        if code & 7 == InsnClass.LDX and (
            (code & 0xE0) not in (Mode.MEM, Mode.MEMSX) or insn.imm != 0
        ):
            raise reject("BPF_LDX uses reserved fields", EINVAL)
        if code == LD_IMM64:
            _resolve_ld_imm64(insn, maps)
            if insn.src in (1, 2):
                check_map_prog_compatibility(info, maps[insn.imm])
            continue
        if code not in KERNEL_OPCODES:
            raise reject(f"unknown opcode {code:02x}", EINVAL)


def _resolve_ld_imm64(insn: Insn, maps: tuple[object, ...]) -> None:
    src = insn.src
    if src in (0, 3, 4):
        if src == 3:
            check_pseudo_btf_id(insn.imm, insn.imm_hi)
        return
    if src not in (1, 2, 5, 6) or (src in (1, 5) and insn.imm_hi != 0):
        raise reject("unrecognized bpf_ld_imm64 insn", EINVAL)
    if src in (5, 6):
        raise reject("fd_idx without fd_array is invalid", 71)  # EPROTO
    fd = insn.imm
    if not 0 <= fd < len(maps):
        raise reject(f"fd {fd} is not pointing to valid bpf_map", 9)  # EBADF
    if src == 2:
        m = maps[fd]
        off = insn.imm_hi & 0xFFFFFFFF
        if off >= BPF_MAX_VAR_OFF:
            raise reject(f"direct value offset of {off} is not allowed", EINVAL)
        mtype = getattr(m, "type", None)
        if mtype != MapType.ARRAY:
            raise reject("no direct value access support for this map type", EINVAL)
        vs = getattr(m, "value_size", 0)
        if getattr(m, "max_entries", 0) != 1 or off >= vs:
            raise reject(f"invalid access to map value pointer, value_size={vs} off={off}", EINVAL)


# --- the control-flow graph ---------------------------------------------------------------------

DISCOVERED = 0x10
EXPLORED = 0x20
FALLTHROUGH = 1
BRANCH = 2


def check_cfg(info: ProgInfo) -> None:
    """``check_cfg``: DFS marking prune/jump points; rejects unreachable code."""
    n = info.insn_cnt
    info.prune_point = bytearray(n)
    info.jmp_point = bytearray(n)
    info.force_checkpoint = bytearray(n)
    info.calls_callback = bytearray(n)
    state = [0] * n
    state[0] = DISCOVERED
    stack = [0]
    while stack:
        t = stack[-1]
        ret = _visit_insn(info, t, state, stack)
        if ret == 0:  # DONE_EXPLORING
            state[t] = EXPLORED
            stack.pop()
    i = 0
    while i < n:
        if state[i] != EXPLORED:
            raise reject(f"unreachable insn {i}", EINVAL)
        insn = info.slots[i]
        if insn is not None and insn.code == LD_IMM64:
            if state[i + 1] != 0:
                raise reject(f"jump into the middle of ldimm64 insn {i}", EINVAL)
            i += 1
        i += 1


def _push_insn(info: ProgInfo, t: int, w: int, e: int, state: list[int], stack: list[int]) -> int:
    """``push_insn``: 1 = keep exploring (``w`` pushed), 0 = done with this edge."""
    if e == FALLTHROUGH and state[t] >= (DISCOVERED | FALLTHROUGH):
        return 0
    if e == BRANCH and state[t] >= (DISCOVERED | BRANCH):
        return 0
    if w < 0 or w >= info.insn_cnt:
        raise reject(f"jump out of range from insn {t} to {w}", EINVAL)
    if e == BRANCH:
        info.prune_point[w] = 1
        info.jmp_point[w] = 1
    if state[w] == 0:
        state[t] = DISCOVERED | e
        state[w] = DISCOVERED
        stack.append(w)
        return 1
    if state[w] & 0xF0 == DISCOVERED:
        return 0  # back-edge: bounded loops are allowed for a privileged loader
    state[t] = DISCOVERED | e
    return 0


def _visit_insn(info: ProgInfo, t: int, state: list[int], stack: list[int]) -> int:
    """``visit_insn``."""
    insn = info.slots[t]
    if insn is None:
        return _push_insn(info, t, t + 1, FALLTHROUGH, state, stack)
    if is_pseudo_func(insn):
        return _visit_call(info, t, insn, state, stack, True)
    code = insn.code
    if code & 7 not in (InsnClass.JMP, InsnClass.JMP32):
        return _push_insn(info, t, t + insn.width, FALLTHROUGH, state, stack)
    op = code & 0xF0
    if op == 0x90:
        return 0
    if op == 0x80:
        if insn.src == 0 and insn.imm == FUNC_TIMER_SET_CALLBACK:
            info.prune_point[t] = 1
        if insn.src == 0 and insn.imm in SYNC_CALLBACK_HELPERS:
            info.calls_callback[t] = 1
            info.force_checkpoint[t] = 1
            info.prune_point[t] = 1
            info.jmp_point[t] = 1
        return _visit_call(info, t, insn, state, stack, insn.src == 1)
    if op == 0x00:
        target = t + jmp_offset(insn) + 1
        ret = _push_insn(info, t, target, FALLTHROUGH, state, stack)
        info.prune_point[target] = 1
        info.jmp_point[target] = 1
        return ret
    info.prune_point[t] = 1
    if code == JCOND:
        info.force_checkpoint[t] = 1
    ret = _push_insn(info, t, t + 1, FALLTHROUGH, state, stack)
    if ret:
        return ret
    return _push_insn(info, t, t + insn.off + 1, BRANCH, state, stack)


def _visit_call(
    info: ProgInfo, t: int, insn: Insn, state: list[int], stack: list[int], callee: bool
) -> int:
    """``visit_func_call_insn``."""
    size = insn.width
    ret = _push_insn(info, t, t + size, FALLTHROUGH, state, stack)
    if ret:
        return ret
    if t + size < info.insn_cnt:
        info.prune_point[t + size] = 1
        info.jmp_point[t + size] = 1
    if callee:
        info.prune_point[t] = 1
        return _push_insn(info, t, t + insn.imm + 1, BRANCH, state, stack)
    return ret


def compute_postorder(info: ProgInfo) -> None:
    """``compute_postorder``: per subprogram, a DFS post-order of its instructions."""
    n = info.insn_cnt
    state = [0] * n
    order: list[int] = []
    for sp in info.subprogs:
        sp.postorder_start = len(order)
        stack = [sp.start]
        state[sp.start] |= DISCOVERED
        while stack:
            top = stack[-1]
            state[top] |= DISCOVERED
            if state[top] & EXPLORED:
                order.append(top)
                stack.pop()
                continue
            for s in successors(info, top):
                if not state[s]:
                    stack.append(s)
                    state[s] |= DISCOVERED
            state[top] |= EXPLORED
    info.postorder = order


def compute_scc(info: ProgInfo) -> None:
    """``compute_scc``: Tarjan's SCCs over the CFG; singletons without self-loop get 0."""
    n = info.insn_cnt
    not_on_stack = 1 << 40
    pre = [0] * n
    low = [0] * n
    scc = [0] * n
    next_pre = 1
    next_scc = 1
    for i in range(n):
        if pre[i]:
            continue
        stack: list[int] = []
        dfs = [i]
        while dfs:
            w = dfs[-1]
            if pre[w] == 0:
                low[w] = pre[w] = next_pre
                next_pre += 1
                stack.append(w)
            succ = successors(info, w)
            descended = False
            for s in succ:
                if pre[s]:
                    low[w] = min(low[w], low[s])
                else:
                    dfs.append(s)
                    descended = True
                    break
            if descended:
                continue
            if low[w] < pre[w]:
                dfs.pop()
                continue
            assign = stack[-1] != w or w in succ
            while True:
                t = stack.pop()
                low[t] = not_on_stack
                if assign:
                    scc[t] = next_scc
                if t == w:
                    break
            if assign:
                next_scc += 1
            dfs.pop()
    info.scc = scc


def _insn_use_def(info: ProgInfo, insn: Insn | None) -> tuple[int, int]:
    """``compute_insn_live_regs``: (use, def) register masks."""
    if insn is None:
        return 0xFFFF, 0
    code = insn.code
    cls = code & 7
    mode = code & 0xE0
    src, dst = 1 << insn.src, 1 << insn.dst
    if cls == InsnClass.LD:
        if code == LD_IMM64:
            return 0, dst
        return 0xFFFF, 0
    if cls == InsnClass.LDX:
        return (src, dst) if mode in (Mode.MEM, Mode.MEMSX) else (0xFFFF, 0)
    if cls == InsnClass.ST:
        return (dst, 0) if mode == Mode.MEM else (0xFFFF, 0)
    if cls == InsnClass.STX:
        return _stx_use_def(insn, mode, src, dst)
    op = code & 0xF0
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        if op == 0xD0:
            return dst, dst
        if op == 0xB0:
            return (0 if not code & 8 else src), dst
        return (dst if not code & 8 else dst | src), dst
    if op in (0x00, 0xE0):
        return 0, 0
    if op == 0x90:
        return 1, 0
    if op == 0x80:
        return _call_use(info, insn), 0x3F
    return (dst if not code & 8 else dst | src), 0


def _stx_use_def(insn: Insn, mode: int, src: int, dst: int) -> tuple[int, int]:
    if mode == Mode.MEM:
        return dst | src, 0
    if mode != Mode.ATOMIC:
        return 0xFFFF, 0
    imm = insn.imm
    if imm == 0xF1:
        return 1 | dst | src, 1
    if imm == 0x100:
        return src, dst
    if imm == 0x110:
        return dst | src, 0
    return dst | src, (src if imm & 1 else 0)


def _call_use(info: ProgInfo, insn: Insn) -> int:
    if insn.src == 0:
        try:
            proto = func_proto(info.prog.prog_type, insn.imm, _env_of(info))
        except (KeyError, ValueError):
            proto = None
        if proto is not None:
            return ((1 << (len(proto.args) + 1)) - 1) & ~1
    return 0x3F & ~1


def _env_of(info: ProgInfo) -> ProgEnv:
    eat = info.prog.expected_attach_type
    return ProgEnv(
        expected_attach_type=int(eat) if eat is not None else None,
        sleepable=info.prog.sleepable,
        attach_func=info.prog.attach_to,
    )


def compute_live_registers(info: ProgInfo, log: VerifierLog) -> None:
    """``compute_live_registers``: registers that may be read before being written."""
    from bpfvm.verifier.log import live_regs_table

    n = info.insn_cnt
    use = [0] * n
    defs = [0] * n
    for i, insn in enumerate(info.slots):
        use[i], defs[i] = _insn_use_def(info, insn)
    live_in = [0] * n
    live_out = [0] * n
    succ = [successors(info, i) for i in range(n)]
    changed = True
    while changed:
        changed = False
        for i in info.postorder:
            new_out = 0
            for s in succ[i]:
                new_out |= live_in[s]
            new_in = (new_out & ~defs[i]) | use[i]
            if new_out != live_out[i] or new_in != live_in[i]:
                live_in[i] = new_in
                live_out[i] = new_out
                changed = True
    info.live_regs_before = live_in
    if log.level2:
        log.write(live_regs_table(info.slots, live_in, info.scc))


def prepare(prog: Program, log: VerifierLog) -> ProgInfo:
    """Everything before the path walk, in the kernel's order; raises VerifierReject."""
    info = ProgInfo(prog=prog, slots=slot_table(prog.insns))
    if not info.slots:
        raise reject("program has no instructions", EINVAL)
    add_subprogs(info, log)
    check_subprogs(info)
    if not prog.func_info and not prog.line_info:
        check_abnormal_return(info)
    resolve_pseudo_ldimm64(info)
    check_cfg(info)
    compute_postorder(info)
    check_attach(info)
    compute_scc(info)
    compute_live_registers(info, log)
    return info
