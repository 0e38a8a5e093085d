"""State pruning (verifier.c: ``is_state_visited``, ``states_equal``, ``func_states_equal``,
``regsafe``, ``stacksafe``, ``refsafe``, ``check_ids``, ``clean_live_states``, the SCC visits
of ``maybe_enter_scc``/``maybe_exit_scc``).

At a prune point the current state is compared with the states already stored there: if a
stored, fully explored state is *at least as general* (every live register and stack slot of it
accepts the current one, ids map consistently), the current path is safe and stops. Otherwise
the current state may be stored as a new checkpoint, following the kernel's heuristics (every 2
jumps and 8 instructions, forced checkpoints, eviction of states that keep missing), so that
``total_states``, ``peak_states`` and the number of processed instructions match the kernel's.

Scalars count as precise unless :attr:`Env.exact_precision` is off (precision tracking), the
sound fallback the kernel itself uses (``mark_all_scalars_precise``).
"""

from __future__ import annotations

from bpfvm.verifier.env import Env, StateListEntry, mark_reg_not_init
from bpfvm.verifier.errors import EINVAL, VerifierReject
from bpfvm.verifier.stack_args import stack_arg_safe
from bpfvm.verifier.state import (
    BPF_ADD_CONST,
    BPF_REG_FP,
    MAX_BPF_REG,
    NOT_INIT,
    PTR_TO_ARENA,
    PTR_TO_BUF,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    PTR_TO_TP_BUFFER,
    SCALAR_VALUE,
    STACK_INVALID,
    STACK_MISC,
    STACK_SPILL,
    STACK_ZERO,
    FuncState,
    RegState,
    StackSlot,
    VerifierState,
    copy_state,
    frame_insn_idx,
)

NOT_EXACT, EXACT, RANGE_WITHIN = 0, 1, 2
_RANGE_TYPES = frozenset({PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_BUF,
                          PTR_TO_TP_BUFFER})  # fmt: skip


class IdMap:
    """``struct bpf_idmap``: old id -> current id, built while comparing two states."""

    __slots__ = ("cur_used", "map", "tmp_id_gen")

    def __init__(self, tmp_id_gen: int) -> None:
        self.map: dict[int, int] = {}
        self.cur_used: set[int] = set()
        self.tmp_id_gen = tmp_id_gen

    def check(self, old: int, cur: int) -> bool:
        """``check_ids``."""
        if bool(old) != bool(cur):
            return False
        if not old:
            return True
        seen = self.map.get(old)
        if seen is not None:
            return seen == cur
        if cur in self.cur_used:
            return False
        self.map[old] = cur
        self.cur_used.add(cur)
        return True

    def check_scalar(self, old: int, cur: int) -> bool:
        """``check_scalar_ids``: an old scalar without an id asks for no link (anything
        current will do); a current one without an id is a fresh unique one. A
        ``BPF_ADD_CONST`` id must also map its base id (flags stripped) consistently."""
        if not old:
            return True
        if not cur:
            self.tmp_id_gen += 1
            cur = self.tmp_id_gen
        if not self.check(old, cur):
            return False
        if old & BPF_ADD_CONST:
            return self.check(old & ~BPF_ADD_CONST, cur & ~BPF_ADD_CONST)
        return True


def _range_within(o: RegState, c: RegState) -> bool:
    a, b = o.s, c.s
    return (
        a.umin <= b.umin
        and a.umax >= b.umax
        and a.smin <= b.smin
        and a.smax >= b.smax
        and a.u32_min <= b.u32_min
        and a.u32_max >= b.u32_max
        and a.s32_min <= b.s32_min
        and a.s32_max >= b.s32_max
    )


def _tnum_in(o: RegState, c: RegState) -> bool:
    a, b = o.s.var_off, c.s.var_off
    if b.mask & ~a.mask:
        return False
    return a.value == (b.value & ~a.mask)


def regs_exact(o: RegState, c: RegState, idmap: IdMap) -> bool:
    return o.same_value(c) and idmap.check(o.id, c.id) and idmap.check(o.ref_obj_id, c.ref_obj_id)


def regsafe(env: Env, o: RegState, c: RegState, idmap: IdMap, exact: int) -> bool:
    """``regsafe``: is ``c`` as safe as ``o`` was?"""
    if exact == EXACT:
        return regs_exact(o, c, idmap)
    if o.type == NOT_INIT and (exact == NOT_EXACT or c.type == NOT_INIT):
        return True
    if o.type != c.type:
        return False
    base = o.type & 0xFF
    if base == SCALAR_VALUE:
        if not o.precise and exact == NOT_EXACT and not env.exact_precision:
            return True
        if (o.id & BPF_ADD_CONST) != (c.id & BPF_ADD_CONST):
            return False
        if o.id & BPF_ADD_CONST and o.off != c.off:
            return False
        return _range_within(o, c) and _tnum_in(o, c) and idmap.check_scalar(o.id, c.id)
    if base in _RANGE_TYPES:
        return (
            o.same_prefix(c)
            and _range_within(o, c)
            and _tnum_in(o, c)
            and idmap.check(o.id, c.id)
            and idmap.check(o.ref_obj_id, c.ref_obj_id)
        )
    if base in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        if o.range > c.range or o.off != c.off or not idmap.check(o.id, c.id):
            return False
        return _range_within(o, c) and _tnum_in(o, c)
    if base == PTR_TO_STACK:
        return regs_exact(o, c, idmap) and o.frameno == c.frameno
    if base == PTR_TO_ARENA:
        return True
    return regs_exact(o, c, idmap)


_UNBOUND = RegState(SCALAR_VALUE)


def _scalar_for_stack(slot: StackSlot) -> RegState | None:
    """``scalar_reg_for_stack``: a 64-bit scalar spill, or an all-MISC slot as unknown."""
    if slot.is_spilled_scalar_reg64:
        return slot.spilled
    if all(t in (STACK_MISC, STACK_INVALID) for t in slot.slot_type):
        return _UNBOUND
    return None


def stacksafe(env: Env, old: FuncState, cur: FuncState, idmap: IdMap, exact: int) -> bool:
    """``stacksafe``."""
    cur_alloc = len(cur.stack) * 8
    old_stack, cur_stack = old.stack, cur.stack
    i = 0
    n = len(old_stack) * 8
    while i < n:
        spi, k = divmod(i, 8)
        ot = old_stack[spi].slot_type[k]
        if exact != NOT_EXACT and (i >= cur_alloc or ot != cur_stack[spi].slot_type[k]):
            return False
        if ot in (STACK_INVALID, STACK_MISC):
            i += 1
            continue
        if i >= cur_alloc:
            return False
        oslot, cslot = old_stack[spi], cur_stack[spi]
        oreg, creg = _scalar_for_stack(oslot), _scalar_for_stack(cslot)
        if oreg is not None and creg is not None:
            if not regsafe(env, oreg, creg, idmap, exact):
                return False
            i += 8 - k
            continue
        ct = cslot.slot_type[k]
        if ot == STACK_MISC and ct == STACK_ZERO:
            i += 1
            continue
        if ot != ct:
            return False
        if k != 7:
            i += 1
            continue
        top = oslot.slot_type[7]
        if top == STACK_SPILL:
            if not regsafe(env, oslot.spilled, cslot.spilled, idmap, exact):
                return False
        elif top not in (STACK_MISC, STACK_ZERO, STACK_INVALID):
            return False
        i += 1
    return True


def refsafe(old: VerifierState, cur: VerifierState, idmap: IdMap) -> bool:
    """``refsafe``."""
    if len(old.refs) != len(cur.refs) or old.active_locks != cur.active_locks:
        return False
    if old.active_preempt_locks != cur.active_preempt_locks:
        return False
    if old.active_rcu_lock != cur.active_rcu_lock:
        return False
    if not idmap.check(old.active_lock_id, cur.active_lock_id):
        return False
    if old.active_lock_ptr != cur.active_lock_ptr:
        return False
    for o, c in zip(old.refs, cur.refs, strict=True):
        if not idmap.check(o.id, c.id) or o.type != c.type:
            return False
        if o.type != 1 and o.ptr != c.ptr:
            return False
    return True


def func_states_equal(
    env: Env, old: FuncState, cur: FuncState, insn_idx: int, idmap: IdMap, exact: int
) -> bool:
    """``func_states_equal``: live registers and the stack."""
    if old.callback_depth > cur.callback_depth:
        return False
    live = env.info.live_regs_before[insn_idx]
    oregs, cregs = old.regs, cur.regs
    for i in range(MAX_BPF_REG):
        if live >> i & 1 and not regsafe(env, oregs[i], cregs[i], idmap, exact):
            return False
    if not stacksafe(env, old, cur, idmap, exact):
        return False
    return stack_arg_safe(env, old, cur, idmap, exact)


def states_equal(env: Env, old: VerifierState, cur: VerifierState, exact: int) -> bool:
    """``states_equal``."""
    if old.curframe != cur.curframe:
        return False
    idmap = IdMap(env.id_gen)
    if old.speculative and not cur.speculative:
        return False
    if old.in_sleepable != cur.in_sleepable:
        return False
    if not refsafe(old, cur, idmap):
        return False
    for i in range(old.curframe + 1):
        if old.frame[i].callsite != cur.frame[i].callsite:
            return False
        idx = frame_insn_idx(old, i)
        if not func_states_equal(env, old.frame[i], cur.frame[i], idx, idmap, exact):
            return False
    return True


# --- cleaning --------------------------------------------------------------------------------


def clean_verifier_state(env: Env, st: VerifierState) -> None:
    """``clean_verifier_state``: forget dead registers and stack slots of a finished state."""
    env.liveness.query_init(st)
    st.cleaned = True
    for i in range(st.curframe + 1):
        f = st.frame[i]
        live = env.info.live_regs_before[frame_insn_idx(st, i)]
        for r in range(BPF_REG_FP):
            if not live >> r & 1:
                mark_reg_not_init(f.regs[r])
        for spi, slot in enumerate(f.stack):
            if not env.liveness.slot_alive(f.frameno, spi):
                mark_reg_not_init(slot.spilled)
                slot.slot_type = [STACK_INVALID] * 8


def _same_callsites(a: VerifierState, b: VerifierState) -> bool:
    if a.curframe != b.curframe:
        return False
    return all(a.frame[i].callsite == b.frame[i].callsite for i in range(a.curframe, -1, -1))


def explored_bucket(env: Env, insn_idx: int) -> int:
    """``explored_state``: the kernel's explored states hash on the instruction and the
    current frame's callsite (``(idx ^ callsite) % prog->len``); a bucket may hold states of
    other instructions, which the walks skip but ``max_states_per_insn`` counts."""
    cur = env.cur
    callsite = cur.frame[cur.curframe].callsite
    return ((insn_idx ^ callsite) & 0xFFFFFFFF) % env.info.insn_cnt


def clean_live_states(env: Env, insn: int, cur: VerifierState) -> None:
    """``clean_live_states``."""
    for sl in env.explored.get(explored_bucket(env, insn), ()):
        st = sl.state
        if st.branches or st.insn_idx != insn or not _same_callsites(st, cur):
            continue
        if st.cleaned or incomplete_read_marks(env, st):
            continue
        clean_verifier_state(env, st)


# --- strongly connected components (loops) ----------------------------------------------------


def _scc_callchain(env: Env, st: VerifierState) -> tuple[int, ...] | None:
    """``compute_scc_callchain``: call sites down to the first frame inside an SCC."""
    chain: list[int] = []
    scc = env.info.scc
    for i in range(st.curframe + 1):
        idx = frame_insn_idx(st, i)
        if scc[idx]:
            return (*chain, -1, scc[idx])
        if i < st.curframe:
            chain.append(idx)
        else:
            return None
    return None


def _fmt_scc(chain: tuple[int, ...]) -> str:
    sites = [str(c) for c in chain[:-2] if c]
    return "(" + "".join(s + "," for s in sites) + f"{chain[-1]})"


class SccVisit:
    """``struct bpf_scc_visit``."""

    __slots__ = ("backedges", "entry_state")

    def __init__(self) -> None:
        self.entry_state: VerifierState | None = None
        self.backedges: list[VerifierState] = []


def incomplete_read_marks(env: Env, st: VerifierState) -> bool:
    """``incomplete_read_marks``: the state is inside a loop still being explored."""
    chain = _scc_callchain(env, st)
    if chain is None:
        return False
    visit = env.scc_visits.get(chain)
    return visit is not None and bool(visit.backedges)


def maybe_enter_scc(env: Env, st: VerifierState) -> None:
    chain = _scc_callchain(env, st)
    if chain is None:
        return
    visit = env.scc_visits.setdefault(chain, SccVisit())
    if visit.entry_state is None:
        visit.entry_state = st
        if env.log.level2:
            env.verbose(f"SCC enter {_fmt_scc(chain)}\n")


def maybe_exit_scc(env: Env, st: VerifierState) -> None:
    chain = _scc_callchain(env, st)
    if chain is None:
        return
    visit = env.scc_visits.get(chain)
    if visit is None or visit.entry_state is not st:
        return
    if env.log.level2:
        env.verbose(f"SCC exit {_fmt_scc(chain)}\n")
    visit.entry_state = None
    env.num_backedges -= len(visit.backedges)
    visit.backedges = []


def add_scc_backedge(env: Env, st: VerifierState, backedge: VerifierState) -> None:
    chain = _scc_callchain(env, st)
    if chain is None:
        return
    visit = env.scc_visits.get(chain)
    if visit is None:
        return
    if env.log.level2:
        env.verbose(f"SCC backedge {_fmt_scc(chain)}\n")
    visit.backedges.append(backedge)
    env.num_backedges += 1
    update_peak_states(env)


def update_peak_states(env: Env) -> None:
    cur = env.explored_states_size + env.free_list_size + env.num_backedges
    env.peak_states = max(env.peak_states, cur)


# --- is_state_visited ---------------------------------------------------------------------------


def _states_maybe_looping(old: VerifierState, cur: VerifierState) -> bool:
    fr = cur.curframe
    if old.curframe != fr:
        return False
    fo, fc = old.frame[fr], cur.frame[fr]
    for o, c in zip(fo.regs, fc.regs, strict=True):
        if o.type != c.type or o.off != c.off or o.id != c.id or o.ref_obj_id != c.ref_obj_id:
            return False
        if o.s is not c.s and o.s != c.s:
            return False
        if not o.same_prefix(c):
            return False
    return True


def is_state_visited(env: Env, insn_idx: int) -> bool:
    """``is_state_visited``: True when an equivalent explored state prunes this path."""
    cur = env.cur
    info = env.info
    force = bool(info.force_checkpoint[insn_idx]) or len(cur.jmp_history) > 40
    add_new = force or (
        env.jmps_processed - env.prev_jmps_processed >= 2
        and env.insn_processed - env.prev_insn_processed >= 8
    )
    clean_live_states(env, insn_idx, cur)
    head = env.explored.get(explored_bucket(env, insn_idx))
    states_cnt = 0
    if head:
        for sl in list(head):
            states_cnt += 1
            st = sl.state
            if st.insn_idx != insn_idx:
                continue
            if st.branches:
                res = _check_looping(env, sl, insn_idx, force)
                if res:
                    return _hit(env, sl, insn_idx, res == 1)
                if not force and (
                    env.jmps_processed - env.prev_jmps_processed < 20
                    and env.insn_processed - env.prev_insn_processed < 100
                ):
                    add_new = False
                _miss(env, sl, head, insn_idx, add_new)
                continue
            loop = incomplete_read_marks(env, st)
            if states_equal(env, st, cur, RANGE_WITHIN if loop else NOT_EXACT):
                return _hit(env, sl, insn_idx, loop)
            _miss(env, sl, head, insn_idx, add_new)
    env.max_states_per_insn = max(env.max_states_per_insn, states_cnt)
    if not add_new:
        return False
    _add_state(env, insn_idx)
    return False


def _check_looping(env: Env, sl: StateListEntry, insn_idx: int, force: bool) -> int:
    """The ``sl->state.branches`` part: 1 = hit through a loop (may_goto), 2 = hit at a
    callback call, 0 = miss."""
    st, cur = sl.state, env.cur
    aux = env.aux[insn_idx]
    if aux.is_iter_next:
        return 0
    insn = env.info.slots[insn_idx]
    if (
        insn is not None
        and insn.code == 0xE5
        and st.may_goto_depth != cur.may_goto_depth
        and states_equal(env, st, cur, RANGE_WITHIN)
    ):
        return 1
    if env.info.calls_callback[insn_idx]:
        if states_equal(env, st, cur, RANGE_WITHIN):
            return 2
        return 0
    if (
        _states_maybe_looping(st, cur)
        and states_equal(env, st, cur, EXACT)
        and st.may_goto_depth == cur.may_goto_depth
        and st.callback_unroll_depth == cur.callback_unroll_depth
    ):
        trailer = "cur state:" + env.state_text(cur, cur.curframe, True) + "\n"
        trailer += "old state:" + env.state_text(st, cur.curframe, True) + "\n"
        raise VerifierReject(f"infinite loop detected at insn {insn_idx}", EINVAL, trailer)
    return 0


def _hit(env: Env, sl: StateListEntry, insn_idx: int, loop: bool) -> bool:
    sl.hit_cnt += 1
    if env.info.jmp_point[env.insn_idx]:
        from bpfvm.verifier.check_stack import push_jmp_history

        push_jmp_history(env, 0)
    from bpfvm.verifier.precision import propagate_precision

    propagate_precision(env, sl.state, env.cur)
    if loop:
        backedge = copy_state(env.cur)
        backedge.equal_state = sl.state
        backedge.insn_idx = insn_idx
        add_scc_backedge(env, sl.state, backedge)
    return True


def _miss(
    env: Env, sl: StateListEntry, head: list[StateListEntry], insn_idx: int, add_new: bool
) -> None:
    if add_new:
        sl.miss_cnt += 1
    n = 64 if env.info.force_checkpoint[insn_idx] and sl.state.branches > 0 else 3
    if sl.miss_cnt > sl.hit_cnt * n + n:
        head.remove(sl)
        env.explored_states_size -= 1
        if sl.state.branches == 0 and not incomplete_read_marks(env, sl.state):
            return
        env.free_list_size += 1
        env.free_states[id(sl.state)] = sl


def _add_state(env: Env, insn_idx: int) -> None:
    cur = env.cur
    env.total_states += 1
    env.explored_states_size += 1
    update_peak_states(env)
    env.prev_jmps_processed = env.jmps_processed
    env.prev_insn_processed = env.insn_processed
    if not env.exact_precision:
        from bpfvm.verifier.precision import mark_all_scalars_imprecise

        mark_all_scalars_imprecise(env, cur)
    new = copy_state(cur)
    new.insn_idx = insn_idx
    maybe_enter_scc(env, new)
    cur.parent = new
    cur.first_insn_idx = insn_idx
    cur.dfs_depth = new.dfs_depth + 1
    cur.jmp_history = []
    env.cur_hist_ent = None
    env.explored.setdefault(explored_bucket(env, insn_idx), []).insert(0, StateListEntry(new))


def maybe_free_state(env: Env, st: VerifierState) -> None:
    """``maybe_free_verifier_state``: an evicted state whose subtree is done stops counting."""
    if st.branches == 0 and id(st) in env.free_states and not incomplete_read_marks(env, st):
        del env.free_states[id(st)]
        env.free_list_size -= 1


def find_prev_entry(env: Env, cur: VerifierState, insn_idx: int) -> VerifierState | None:
    """``find_prev_entry``: a checkpoint of the current path at ``insn_idx`` (a loop)."""
    for sl in env.explored.get(explored_bucket(env, insn_idx), ()):
        st = sl.state
        if (
            st.insn_idx == insn_idx
            and st.branches
            and _same_callsites(st, cur)
            and st.dfs_depth < cur.dfs_depth
        ):
            return st
    return None


def widen_imprecise_scalars(env: Env, old: VerifierState, cur: VerifierState) -> None:
    """``widen_imprecise_scalars``: scalars that changed across a loop iteration and whose
    value does not matter become unknown, so that the loop converges."""
    from bpfvm.verifier.env import mark_reg_unknown

    idmap = IdMap(env.id_gen)

    def widen(o: RegState, c: RegState) -> None:
        if o.type != SCALAR_VALUE or o.type != c.type:
            return
        if o.precise or c.precise or regs_exact(o, c, idmap):
            return
        mark_reg_unknown(c)

    for fr in range(old.curframe, -1, -1):
        fo, fc = old.frame[fr], cur.frame[fr]
        for i in range(MAX_BPF_REG):
            widen(fo.regs[i], fc.regs[i])
        for i in range(min(len(fo.stack), len(fc.stack))):
            if fo.stack[i].is_spilled_reg and fc.stack[i].is_spilled_reg:
                widen(fo.stack[i].spilled, fc.stack[i].spilled)
