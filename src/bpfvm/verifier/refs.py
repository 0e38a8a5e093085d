"""References and locks (verifier.c: ``acquire_reference``, ``release_reference``,
``process_spin_lock``).

An acquiring helper (``bpf_ringbuf_reserve``, ``bpf_sk_lookup_tcp``, ...) records a reference
with a fresh id in the state; releasing it invalidates every copy of the pointer. A
``bpf_spin_lock`` is a reference of its own kind, held until the matching unlock; no other call
and no exit may happen while it is held.
"""

from __future__ import annotations

from bpfvm.verifier.env import Env, mark_reg_unknown
from bpfvm.verifier.errors import EINVAL, reject
from bpfvm.verifier.state import REF_TYPE_LOCK, REF_TYPE_PTR, RefState


def _helper_name(func_id: int) -> str:
    from bpfvm.verifier.check_call import func_name

    return func_name(func_id)


def acquire_reference(env: Env, insn_idx: int) -> int:
    """``acquire_reference``."""
    id_ = env.new_id()
    env.cur.refs.append(RefState(REF_TYPE_PTR, id_, insn_idx))
    return id_


def release_reference(env: Env, ref_obj_id: int) -> None:
    """``release_reference``: drop the reference and invalidate every copy of the pointer."""
    st = env.cur
    for i, r in enumerate(st.refs):
        if r.type == REF_TYPE_PTR and r.id == ref_obj_id:
            del st.refs[i]
            break
    else:
        raise reject(
            f"func {_helper_name(env.aux[env.insn_idx].helper_id)}#"
            f"{env.aux[env.insn_idx].helper_id} reference has not been acquired before",
            EINVAL,
        )
    for f in st.frame:
        for reg in f.regs:
            if reg.ref_obj_id == ref_obj_id:
                mark_reg_unknown(reg)
        for slot in f.stack:
            if slot.is_spilled_reg and slot.spilled.ref_obj_id == ref_obj_id:
                mark_reg_unknown(slot.spilled)


def process_spin_lock(env: Env, regno: int, is_lock: bool) -> None:
    """``process_spin_lock`` for ``bpf_spin_lock``/``bpf_spin_unlock``."""
    from bpfvm.verifier.btf_fields import spin_lock_offset

    reg = env.regs[regno]
    st = env.cur
    if reg.s.var_off.mask:
        raise reject(
            f"R{regno} doesn't have constant offset. bpf_spin_lock has to be at the constant "
            "offset",
            EINVAL,
        )
    m = env.maps[reg.map_idx]
    name = m.name[:15]
    if env.info.prog.btf is None or not m.btf_value_type_id:
        raise reject(f"map '{name}' has to have BTF in order to use bpf_spin_lock", EINVAL)
    lock_off = spin_lock_offset(env, reg.map_idx)
    if lock_off is None:
        raise reject(f"map '{name}' has no valid bpf_spin_lock", EINVAL)
    val = reg.s.var_off.value + reg.off
    if lock_off != val:
        raise reject(
            f"off {val} doesn't point to 'struct bpf_spin_lock' that is at {lock_off}", EINVAL
        )
    if is_lock:
        if st.active_locks:
            raise reject("Locking two bpf_spin_locks are not allowed", EINVAL)
        st.refs.append(RefState(REF_TYPE_LOCK, reg.id, env.insn_idx, reg.map_idx))
        st.active_locks += 1
        st.active_lock_id = reg.id
        st.active_lock_ptr = reg.map_idx
        return
    if not st.active_locks:
        raise reject("bpf_spin_unlock without taking a lock", EINVAL)
    i = next(
        (k for k, r in enumerate(st.refs)
         if r.type == REF_TYPE_LOCK and r.id == reg.id and r.ptr == reg.map_idx),
        -1,
    )  # fmt: skip
    if i < 0:
        raise reject("bpf_spin_unlock of different lock", EINVAL)
    if reg.id != st.active_lock_id or reg.map_idx != st.active_lock_ptr:
        raise reject("bpf_spin_unlock cannot be out of order", EINVAL)
    del st.refs[i]
    st.active_locks -= 1
    locks = [r for r in st.refs if r.type == REF_TYPE_LOCK]
    st.active_lock_id = locks[-1].id if locks else 0
    st.active_lock_ptr = locks[-1].ptr if locks else None
