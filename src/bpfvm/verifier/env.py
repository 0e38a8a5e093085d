"""The verifier environment (``struct bpf_verifier_env``) and the register primitives every
check uses (``mark_reg_unknown``, ``__mark_reg_known``, ``check_reg_arg``, ...).

The environment holds the program tables from :mod:`~bpfvm.verifier.structure`, the current
state, the stack of pending branches, the explored-states lists, the counters the kernel prints
(processed instructions, states) and the per-instruction side table :class:`InsnAux` that the
fixup stage reads. Nothing here is global: every verification builds its own :class:`Env`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bpfvm.platform.env import ProgEnv
from bpfvm.platform.prog_types import PROG_TYPES, ProgTypeSpec
from bpfvm.program.model import MapSpec
from bpfvm.verifier.errors import EACCES, EINVAL, reject
from bpfvm.verifier.liveness import StackLiveness
from bpfvm.verifier.log import VerifierLog, insn_text, state_str, vlog_alignment
from bpfvm.verifier.scalar_state import Scalar
from bpfvm.verifier.state import (
    BPF_REG_FP,
    MAX_BPF_REG,
    NOT_INIT,
    PTR_TO_CTX,
    PTR_TO_STACK,
    SCALAR_VALUE,
    UNKNOWN,
    FuncState,
    JmpHistoryEntry,
    RegState,
    VerifierState,
)
from bpfvm.verifier.structure import ProgInfo

if TYPE_CHECKING:
    from bpfvm.verifier.fixup_facts import LoopInlineState

SRC_OP = 0
DST_OP = 1
DST_OP_NO_MARK = 2
ZERO = Scalar.const(0)


@dataclass
class InsnAux:
    """Per-instruction facts (``struct bpf_insn_aux_data``) the fixup stage needs."""

    seen: bool = False
    ptr_type: int = NOT_INIT  # what a load/store accessed (save_aux_ptr_type)
    ctx_field_size: int = 0  # narrow ctx loads: the field's real size
    map_idx: int = -1  # helper calls taking a map: which map (-2: several)
    map_key: int | None = None  # constant key of a map helper call, when known
    call_target: int = -1  # bpf-to-bpf calls and callbacks: the callee's first slot
    helper_id: int = -1
    zext_dst: bool = False  # a 32-bit definition the JIT must zero-extend
    is_iter_next: bool = False
    loop_inline: LoopInlineState | None = None  # at a `call bpf_loop`
    fastcall_pattern: bool = False  # a spill/fill of a fastcall pattern
    fastcall_spills_num: int = 0  # at a fastcall call: spill/fill pairs to remove


@dataclass
class StateListEntry:
    """``struct bpf_verifier_state_list``."""

    state: VerifierState
    miss_cnt: int = 0
    hit_cnt: int = 0


@dataclass
class StackElem:
    """``struct bpf_verifier_stack_elem``: a branch waiting to be explored."""

    st: VerifierState
    insn_idx: int
    prev_insn_idx: int
    log_pos: int


@dataclass
class Env:
    """``struct bpf_verifier_env``."""

    info: ProgInfo
    log: VerifierLog
    penv: ProgEnv
    spec: ProgTypeSpec | None
    cur: VerifierState = field(default_factory=VerifierState)
    aux: list[InsnAux] = field(default_factory=list)
    stack: list[StackElem] = field(default_factory=list)
    explored: dict[int, list[StateListEntry]] = field(default_factory=dict)  # explored_bucket()
    insn_idx: int = 0
    prev_insn_idx: int = -1
    insn_processed: int = 0
    prev_insn_processed: int = 0
    jmps_processed: int = 0
    prev_jmps_processed: int = 0
    total_states: int = 0
    peak_states: int = 0
    explored_states_size: int = 0
    free_list_size: int = 0
    max_states_per_insn: int = 0
    id_gen: int = 0
    scratched_regs: int = 0
    scratched_stack: int = 0
    all_scratched: bool = True
    subprog_idx: int = 0
    seen_helpers: set[int] = field(default_factory=set)
    exact_precision: bool = False  # True: every scalar counts as precise (no backtracking)
    cur_hist_ent: JmpHistoryEntry | None = None
    liveness: StackLiveness = field(init=False)
    field_cache: dict[int, list[tuple[int, int, str]]] = field(default_factory=dict)
    scc_visits: dict[tuple[int, ...], Any] = field(default_factory=dict)
    num_backedges: int = 0
    free_states: dict[int, StateListEntry] = field(default_factory=dict)
    prev_linfo: Any = None
    insn_limit: int = 1_000_000  # BPF_COMPLEXITY_LIMIT_INSNS
    max_out_stack_args: dict[int, int] = field(default_factory=dict)  # per subprogram
    unreliable: set[int] = field(default_factory=set)  # func_info_aux[].unreliable
    nr_cpu_ids: int = field(default_factory=lambda: possible_cpu_count())

    def __post_init__(self) -> None:
        if not self.aux:
            self.aux = [InsnAux() for _ in range(self.info.insn_cnt)]
        self.liveness = StackLiveness(self)
        self.map_list: list[MapSpec] = list(self.info.prog.maps)
        self.inner_index: dict[int, int] = {}  # id() of an inner-map template -> its index

    @property
    def maps(self) -> list[MapSpec]:
        """Every map a register may name: the program's, then inner-map templates."""
        return self.map_list

    def spin_lock_maps(self) -> set[int]:
        """Indexes of the maps whose values hold a ``struct bpf_spin_lock``."""
        from bpfvm.verifier.btf_fields import spin_lock_offset

        return {i for i in range(len(self.map_list)) if spin_lock_offset(self, i) is not None}

    def map_index(self, m: MapSpec) -> int:
        """The index of ``m`` in :attr:`maps`, adding it (inner-map templates) if needed.

        A template is added without its name: the kernel's inner-map meta
        (``bpf_map_meta_alloc``) copies no name, so the log shows ``map_ptr(ks=..,vs=..)``."""
        for i, x in enumerate(self.map_list):
            if x is m:
                return i
        idx = self.inner_index.get(id(m))
        if idx is None:
            idx = self.inner_index[id(m)] = len(self.map_list)
            self.map_list.append(dataclasses.replace(m, name=""))
        return idx

    @property
    def prog_type(self) -> int:
        return int(self.info.prog.prog_type)

    @property
    def regs(self) -> list[RegState]:
        st = self.cur
        return st.frame[st.curframe].regs

    @property
    def frame(self) -> FuncState:
        st = self.cur
        return st.frame[st.curframe]

    def new_id(self) -> int:
        self.id_gen += 1
        return self.id_gen

    # --- scratch marks (which registers the next state line prints) ------------------------
    def mark_reg_scratched(self, regno: int) -> None:
        self.scratched_regs |= 1 << regno

    def mark_stack_slot_scratched(self, spi: int) -> None:
        self.scratched_stack |= 1 << spi

    def mark_state_scratched(self) -> None:
        self.all_scratched = True

    def mark_state_clean(self) -> None:
        self.scratched_regs = 0
        self.scratched_stack = 0
        self.all_scratched = False

    def state_scratched(self) -> bool:
        return self.all_scratched or bool(self.scratched_regs or self.scratched_stack)

    # --- log helpers -------------------------------------------------------------------------
    def verbose(self, text: str) -> None:
        self.log.write(text)

    def state_text(self, st: VerifierState, frameno: int, print_all: bool) -> str:
        if print_all or self.all_scratched:
            text = state_str(st, frameno, self.maps, None, None)
        else:
            text = state_str(st, frameno, self.maps, self.scratched_regs, self.scratched_stack)
        if not print_all:
            self.mark_state_clean()
        return text

    def print_verifier_state(self, st: VerifierState, frameno: int, print_all: bool) -> None:
        self.log.write(self.state_text(st, frameno, print_all) + "\n")

    def print_insn_state(self, st: VerifierState, frameno: int) -> None:
        """``print_insn_state``: the state after the line's instruction, or on its own line."""
        log = self.log
        if log.prev_log_pos and log.prev_log_pos == log.end_pos:
            log.reset(log.prev_log_pos - 1)
            log.write(" " * vlog_alignment(log.prev_insn_print_pos) + ";")
        else:
            log.write(f"{self.insn_idx}:")
        self.print_verifier_state(st, frameno, False)

    def verbose_linfo(self, idx: int, prefix: str) -> None:
        """``verbose_linfo``: the source line of instruction ``idx`` when it changed."""
        li = self.info.prog.line_info
        if not li or idx >= self.info.insn_cnt:
            return
        k = 0
        for i in range(1, len(li)):
            if idx < li[i].insn_off:
                break
            k = i
        prev = self.prev_linfo
        if prev is not None and (
            li[k] is prev or (li[k].file == prev.file and li[k].line == prev.line)
        ):
            return
        line = li[k]
        fname = line.file.rsplit("/", 1)[-1]
        self.log.write(f"{prefix}{line.text.lstrip()} @ {fname}:{line.line}\n")
        self.prev_linfo = line

    def print_insn(self, idx: int) -> None:
        """The ``N: (code) text`` line of the instruction about to be checked."""
        log = self.log
        log.prev_log_pos = log.end_pos
        insn = self.info.slots[idx]
        assert insn is not None
        log.write(f"{idx}: {insn_text(insn)}\n")
        log.prev_insn_print_pos = log.end_pos - log.prev_log_pos
        log.prev_log_pos = log.end_pos


def possible_cpu_count() -> int:
    """``nr_cpu_ids`` of this machine (``/sys/devices/system/cpu/possible``)."""
    import os

    try:
        with open("/sys/devices/system/cpu/possible") as fh:
            last = fh.read().strip().split(",")[-1].split("-")[-1]
        return int(last) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


def make_env(info: ProgInfo, log: VerifierLog, penv: ProgEnv) -> Env:
    spec = PROG_TYPES.get(info.prog.prog_type)
    return Env(info=info, log=log, penv=penv, spec=spec)


# --- register primitives ------------------------------------------------------------------------


def mark_reg_unknown(reg: RegState) -> None:
    """``__mark_reg_unknown`` for a privileged loader (not precise)."""
    reg.type = SCALAR_VALUE
    reg.off = 0
    reg.s = UNKNOWN
    reg.id = 0
    reg.ref_obj_id = 0
    reg.range = 0
    reg.map_idx = -1
    reg.mem_size = 0
    reg.subprogno = 0
    reg.frameno = 0
    reg.precise = False
    reg.btf_name = ""


def mark_reg_not_init(reg: RegState) -> None:
    """``__mark_reg_not_init``."""
    mark_reg_unknown(reg)
    reg.type = NOT_INIT


def mark_reg_known(reg: RegState, imm: int) -> None:
    """``__mark_reg_known``: the type stays, offset/union/ids are cleared, value ``imm``."""
    reg.off = 0
    reg.range = 0
    reg.map_idx = -1
    reg.mem_size = 0
    reg.subprogno = 0
    reg.btf_name = ""
    reg.id = 0
    reg.ref_obj_id = 0
    reg.s = Scalar.const(imm)


def mark_reg_const(reg: RegState, imm: int) -> None:
    """A fresh scalar constant (``mark_reg_unknown`` then ``__mark_reg_known``)."""
    mark_reg_unknown(reg)
    reg.s = Scalar.const(imm)


def init_func_state(frameno: int, subprogno: int, callsite: int) -> FuncState:
    """``init_func_state``: every register NOT_INIT except r10, the frame pointer."""
    f = FuncState(frameno=frameno, subprogno=subprogno, callsite=callsite)
    for r in f.regs:
        mark_reg_not_init(r)
    fp = f.regs[BPF_REG_FP]
    fp.type = PTR_TO_STACK
    mark_reg_known(fp, 0)
    fp.frameno = frameno
    return f


def initial_state(env: Env) -> VerifierState:
    """The state at the first instruction of the main program: r1 = ctx."""
    st = VerifierState()
    st.frame = [init_func_state(0, 0, -1)]
    st.in_sleepable = env.info.prog.sleepable
    r1 = st.frame[0].regs[1]
    r1.type = PTR_TO_CTX
    mark_reg_known(r1, 0)
    return st


def check_reg_arg(env: Env, regno: int, t: int) -> None:
    """``check_reg_arg``: readability of a source, writability of a destination."""
    if regno >= MAX_BPF_REG:
        raise reject(f"R{regno} is invalid", EINVAL)
    env.scratched_regs |= 1 << regno
    reg = env.regs[regno]
    if t == SRC_OP:
        if reg.type == NOT_INIT:
            raise reject(f"R{regno} !read_ok", EACCES)
        return
    if regno == BPF_REG_FP:
        raise reject("frame pointer is read only", EACCES)
    if t == DST_OP:
        mark_reg_unknown(reg)


BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192


def push_stack_hook(
    env: Env, insn_idx: int, prev_insn_idx: int, speculative: bool
) -> VerifierState:
    """``push_stack``: queue a copy of the current state to continue at ``insn_idx``."""
    from bpfvm.verifier.errors import EFAULT
    from bpfvm.verifier.state import copy_state

    st = copy_state(env.cur)
    st.speculative |= speculative
    env.stack.append(StackElem(st, insn_idx, prev_insn_idx, env.log.end_pos))
    if len(env.stack) > BPF_COMPLEXITY_LIMIT_JMP_SEQ:
        # 6.18's push_stack returns NULL and its callers turn that into EFAULT
        raise reject(f"The sequence of {len(env.stack)} jumps is too complex.", EFAULT)
    if st.parent is not None:
        st.parent.branches += 1
    return st
