"""Program exit (verifier.c: ``process_bpf_exit_full``, ``check_return_code``,
``check_resource_leak``, ``check_reference_leak``).

At the main program's ``exit`` no reference may be held and no lock taken, and R0 must be a
readable value inside the program type's return range (``At program exit the register R0
has smin=... smax=... should have been in [lo, hi]``).
"""

from __future__ import annotations

from bpfvm.program.uapi import ProgType
from bpfvm.verifier.env import SRC_OP, Env, check_reg_arg
from bpfvm.verifier.errors import EINVAL, reject
from bpfvm.verifier.log import reg_type_str
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.scalar import S64_MAX, S64_MIN
from bpfvm.verifier.state import REF_TYPE_PTR, SCALAR_VALUE

_UNMODELLED_RANGES = {
    int(ProgType.CGROUP_DEVICE): (0, 1),
    int(ProgType.CGROUP_SYSCTL): (0, 1),
    int(ProgType.CGROUP_SOCKOPT): (0, 1),
    int(ProgType.NETFILTER): (0, 1),
}


def check_reference_leak(env: Env, exception_exit: bool) -> bool:
    """``check_reference_leak``: logs each lingering reference; True when there is one."""
    st = env.cur
    if not exception_exit and st.frame[st.curframe].frameno:
        return False
    lingering = False
    for r in st.refs:
        if r.type != REF_TYPE_PTR:
            continue
        env.verbose(f"Unreleased reference id={r.id} alloc_insn={r.insn_idx}\n")
        lingering = True
    return lingering


def check_resource_leak(env: Env, exception_exit: bool, check_lock: bool, prefix: str) -> None:
    """``check_resource_leak``."""
    if check_lock and env.cur.active_locks:
        raise reject(f"{prefix} cannot be used inside bpf_spin_lock-ed region", EINVAL)
    if check_reference_leak(env, exception_exit):
        raise reject(f"{prefix} would lead to reference leak", EINVAL)


def check_return_code(env: Env, regno: int, reg_name: str) -> None:
    """``check_return_code`` for the main program (and its exception callback)."""
    frame = env.cur.frame[0]
    is_subprog = frame.subprogno != 0
    check_reg_arg(env, regno, SRC_OP)
    reg = env.regs[regno]
    exit_ctx = "At program exit"
    if frame.in_async_callback_fn:
        exit_ctx = "At async callback return"
        rng: tuple[int, int] | None = frame.callback_ret_range
    elif is_subprog and not frame.in_exception_callback_fn:
        if reg.type != SCALAR_VALUE:
            raise reject(
                f"At subprogram exit the register R{regno} is not a scalar value "
                f"({reg_type_str(reg.type)})",
                EINVAL,
            )
        return
    else:
        spec = env.spec
        if spec is not None:
            rng = spec.return_range(env.penv.expected_attach_type)
        else:
            rng = _UNMODELLED_RANGES.get(env.prog_type)
        if rng is None:
            return
    if reg.type != SCALAR_VALUE:
        raise reject(
            f"{exit_ctx} the register R{regno} is not a known value ({reg_type_str(reg.type)})",
            EINVAL,
        )
    mark_chain_precision(env, regno)
    assert rng is not None
    lo, hi = rng
    s = reg.s
    if lo <= s.smin and s.smax <= hi:
        return
    text = f"{exit_ctx} the register {reg_name} has"
    unknown = True
    if s.smin > S64_MIN:
        text += f" smin={s.smin}"
        unknown = False
    if s.smax < S64_MAX:
        text += f" smax={s.smax}"
        unknown = False
    if unknown:
        text += " unknown scalar value"
    raise reject(f"{text} should have been in [{lo}, {hi}]", EINVAL)
