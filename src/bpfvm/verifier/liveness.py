"""Stack slot liveness (kernel/bpf/liveness.c, Linux 6.18).

While paths are walked, every stack read an instruction makes is recorded as ``may_read`` and
every full 8-byte write as ``must_write``, per (call chain, instruction), in a *function
instance*. When a path ends (``bpf_update_live_stack``), the instances that changed are brought
to a fixed point with the textbook backward data-flow equations::

    live_after(i)  = U live_before(s) for s in successors(i)
    live_before(i) = (live_after(i) - must_write(i)) | may_read(i)

and a callee's entry facts flow to its call site in the caller's instance. State cleaning
(``clean_func_state``) then asks :meth:`StackLiveness.slot_alive` whether a slot of a stored
state can still be read; dead slots are forgotten, so more states compare equal.

A call chain is the tuple of call-site instruction indexes leading to a frame plus the frame's
subprogram start, as ``compute_callchain`` builds it. Masks are ints, bit ``spi`` for the slot
``fp-8*(spi+1)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfvm.verifier.state import VerifierState

if TYPE_CHECKING:
    from bpfvm.verifier.env import Env

ALL = (1 << 64) - 1


class FrameMasks:
    """``struct per_frame_masks`` for one instruction and one frame."""

    __slots__ = ("live_before", "may_read", "must_write", "must_write_acc")

    def __init__(self) -> None:
        self.may_read = 0
        self.must_write = 0
        self.must_write_acc = 0
        self.live_before = 0


class FuncInstance:
    """``struct func_instance``: marks of one subprogram reached through one call chain."""

    def __init__(self, callchain: tuple[int, ...], start: int, insn_cnt: int) -> None:
        self.callchain = callchain
        self.start = start
        self.insn_cnt = insn_cnt
        self.updated = False
        self.must_write_dropped = False
        self.frames: list[list[FrameMasks] | None] = [None] * len(callchain)
        self.must_write_set = [False] * insn_cnt

    @property
    def curframe(self) -> int:
        return len(self.callchain) - 1

    def masks(self, frame: int, insn_idx: int) -> FrameMasks | None:
        arr = self.frames[frame]
        return None if arr is None else arr[insn_idx - self.start]

    def alloc(self, frame: int, insn_idx: int) -> FrameMasks:
        arr = self.frames[frame]
        if arr is None:
            arr = [FrameMasks() for _ in range(self.insn_cnt)]
            self.frames[frame] = arr
        return arr[insn_idx - self.start]


def fmt_stack_mask(mask: int) -> str:
    """``bpf_fmt_stack_mask``: ``-8,-16`` for bits 0 and 1."""
    return ",".join(str(-(i + 1) * 8) for i in range(64) if mask >> i & 1)


class StackLiveness:
    """``struct bpf_liveness``."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.instances: dict[tuple[int, ...], FuncInstance] = {}
        self.cur_instance: FuncInstance | None = None
        self.write_masks_acc = [0] * 8
        self.write_insn_idx = 0
        self.query: list[FuncInstance] = []
        self.query_insn = 0

    # --- instances -----------------------------------------------------------------------------
    def _callchain(self, st: VerifierState, frameno: int) -> tuple[int, ...]:
        subs = self.env.info.subprogs
        chain = []
        for i in range(frameno + 1):
            if i < frameno:
                chain.append(st.frame[i + 1].callsite)
        chain.append(subs[st.frame[frameno].subprogno].start)
        return tuple(chain)

    def _lookup(self, chain: tuple[int, ...]) -> FuncInstance:
        inst = self.instances.get(chain)
        if inst is None:
            info = self.env.info
            start = chain[-1]
            sp = info.subprogs[info.subprog_of(start)]
            inst = FuncInstance(chain, start, sp.end - sp.start)
            self.instances[chain] = inst
        return inst

    def lookup_instance(self, st: VerifierState, frameno: int) -> FuncInstance:
        return self._lookup(self._callchain(st, frameno))

    def reset_callchain(self) -> None:
        """``bpf_reset_live_stack_callchain``."""
        self.cur_instance = None

    def _ensure_cur(self) -> FuncInstance:
        if self.cur_instance is None:
            st = self.env.cur
            self.cur_instance = self.lookup_instance(st, st.curframe)
        return self.cur_instance

    # --- marks ---------------------------------------------------------------------------------
    def mark_read(self, frame: int, insn_idx: int, mask: int) -> None:
        """``bpf_mark_stack_read``."""
        self._mark_read(self._ensure_cur(), frame, insn_idx, mask)

    @staticmethod
    def _mark_read(inst: FuncInstance, frame: int, insn_idx: int, mask: int) -> None:
        m = inst.alloc(frame, insn_idx)
        new = m.may_read | mask
        if new != m.may_read and (new | m.live_before) != m.live_before:
            inst.updated = True
        m.may_read = new

    def reset_write_marks(self, insn_idx: int) -> None:
        """``bpf_reset_stack_write_marks``."""
        inst = self._ensure_cur()
        self.write_insn_idx = insn_idx
        for i in range(inst.curframe + 1):
            self.write_masks_acc[i] = 0

    def mark_write(self, frame: int, mask: int) -> None:
        """``bpf_mark_stack_write``."""
        self.write_masks_acc[frame] |= mask

    def commit_write_marks(self) -> None:
        """``bpf_commit_stack_write_marks``."""
        self._commit(self.cur_instance)

    def _commit(self, inst: FuncInstance | None) -> None:
        if inst is None:
            return
        idx = self.write_insn_idx - inst.start
        for frame in range(inst.curframe + 1):
            mask = self.write_masks_acc[frame]
            if mask == 0 and not inst.must_write_set[idx]:
                continue
            m = inst.alloc(frame, self.write_insn_idx)
            old = m.must_write
            if inst.must_write_set[idx]:
                mask &= old
            if old != mask:
                m.must_write = mask
                inst.updated = True
            if old & ~mask:
                inst.must_write_dropped = True
        inst.must_write_set[idx] = True
        self.write_insn_idx = 0

    # --- propagation ---------------------------------------------------------------------------
    def update(self) -> None:
        """``bpf_update_live_stack``: bring the current path's instances to a fixed point."""
        self.reset_callchain()
        st = self.env.cur
        for frame in range(st.curframe, -1, -1):
            inst = self.lookup_instance(st, frame)
            if inst.updated:
                self._update_instance(inst)
                inst.updated = False
                inst.must_write_dropped = False

    def _update_instance(self, inst: FuncInstance) -> None:
        env = self.env
        info = env.info
        if inst.must_write_dropped:
            for arr in inst.frames:
                if arr is not None:
                    for m in arr:
                        m.must_write_acc = 0
        sp_idx = info.subprog_of(inst.start)
        po_start = info.subprogs[sp_idx].postorder_start
        po_end = (
            info.subprogs[sp_idx + 1].postorder_start
            if sp_idx + 1 < len(info.subprogs)
            else len(info.postorder)
        )
        order = info.postorder[po_start:po_end]
        cnt = 0
        changed = True
        while changed:
            cnt += 1
            changed = False
            for frame in range(inst.curframe + 1):
                if inst.frames[frame] is None:
                    continue
                for idx in order:
                    changed |= self._update_insn(inst, frame, idx)
        if env.log.level2:
            env.verbose(
                f"{_fmt_chain(inst.callchain)} live stack update done in {cnt} iterations\n"
            )
        if inst.curframe > 0:
            self._propagate_to_outer(inst)

    def _update_insn(self, inst: FuncInstance, frame: int, idx: int) -> bool:
        from bpfvm.verifier.structure import successors

        env = self.env
        succ = successors(env.info, idx)
        if not succ:
            return False
        m = inst.masks(frame, idx)
        assert m is not None
        new_after = 0
        acc = ALL
        for s in succ:
            sm = inst.masks(frame, s)
            assert sm is not None
            new_after |= sm.live_before
            acc &= sm.must_write_acc
        acc |= m.must_write
        new_before = (new_after & ~m.must_write) | m.may_read
        changed = new_before != m.live_before or acc != m.must_write_acc
        if env.log.level2 and (
            m.may_read or m.must_write or idx == inst.start or env.info.prune_point[idx]
        ):
            self._log_change(inst, "live", frame, idx, m.live_before, new_before)
            self._log_change(inst, "written", frame, idx, m.must_write_acc, acc)
        m.live_before = new_before
        m.must_write_acc = acc
        return changed

    def _log_change(
        self, inst: FuncInstance, pfx: str, frame: int, idx: int, old: int, new: int
    ) -> None:
        changed = old ^ new
        if not changed:
            return
        ones = new & changed
        zeros = ~new & changed & ALL
        text = f"{_fmt_chain(inst.callchain)} frame {frame} insn {idx} "
        if ones:
            text += f"+{pfx} {fmt_stack_mask(ones)} "
        if zeros:
            text += f"-{pfx} {fmt_stack_mask(zeros)}"
        self.env.verbose(text + "\n")

    def _propagate_to_outer(self, inst: FuncInstance) -> None:
        """``propagate_to_outer_instance``: a callee's entry facts land on its call site."""
        chain = inst.callchain
        outer_chain = (*chain[:-2], self.env.info.subprogs[self._outer_subprog(chain)].start)
        outer = self._lookup(outer_chain)
        callsite = chain[-2]
        self.write_insn_idx = callsite
        for i in range(outer.curframe + 1):
            self.write_masks_acc[i] = 0
        for frame in range(inst.curframe):
            m = inst.masks(frame, inst.start)
            if m is None:
                continue
            self.mark_write(frame, m.must_write_acc)
            self._mark_read(outer, frame, callsite, m.live_before)
        self._commit(outer)

    def _outer_subprog(self, chain: tuple[int, ...]) -> int:
        return self.env.info.subprog_of(chain[-2])

    # --- queries -------------------------------------------------------------------------------
    def query_init(self, st: VerifierState) -> None:
        """``bpf_live_stack_query_init``."""
        self.query = [self.lookup_instance(st, f) for f in range(st.curframe + 1)]
        self.query_insn = st.insn_idx

    def slot_alive(self, frameno: int, spi: int) -> bool:
        """``bpf_stack_slot_alive``."""
        q = self.query
        cur = q[-1]
        if _live_before(cur, self.query_insn, frameno, spi):
            return True
        calls_cb = self.env.info.calls_callback
        for i in range(frameno, len(q) - 1):
            callsite = cur.callchain[i]
            at = callsite if calls_cb[callsite] else callsite + 1
            if _live_before(q[i], at, frameno, spi):
                return True
        return False


def _live_before(inst: FuncInstance, insn_idx: int, frame: int, spi: int) -> bool:
    if frame >= len(inst.frames):
        return False
    m = inst.masks(frame, insn_idx)
    return m is not None and bool(m.live_before >> spi & 1)


def _fmt_chain(chain: tuple[int, ...]) -> str:
    return "(" + ",".join(str(c) for c in chain) + ")"
