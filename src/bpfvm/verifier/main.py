"""The path walk (verifier.c: ``do_check``, ``do_check_insn``, ``push_stack``/``pop_stack``,
``update_branch_counts``, ``check_ld_imm``, ``check_ld_abs``, ``check_atomic``).

Depth-first, as the kernel: the current state runs instruction by instruction; a conditional
jump with an unknown outcome pushes the jump target as a pending branch and continues with the
fall-through. When a path ends (``exit`` of the main program, or a prune), the most recently
pushed branch is popped. Every instruction walked counts towards ``processed_insns``, limited to
1,000,000 (``BPF program is too large. Processed %d insn``). At prune points the explored
states decide whether the path can stop (:mod:`bpfvm.verifier.prune`).
"""

from __future__ import annotations

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.isa.insn import Insn
from bpfvm.platform.env import ProgEnv
from bpfvm.program.model import Program
from bpfvm.verifier.check_alu import check_alu_op
from bpfvm.verifier.check_call import check_helper_call
from bpfvm.verifier.check_exit import check_resource_leak, check_return_code
from bpfvm.verifier.check_jmp import check_cond_jmp_op
from bpfvm.verifier.check_mem import (
    check_load_mem,
    check_mem_access,
    check_store_imm,
    check_store_reg,
    save_aux_ptr_type,
)
from bpfvm.verifier.check_stack import push_jmp_history
from bpfvm.verifier.env import (
    DST_OP,
    DST_OP_NO_MARK,
    SRC_OP,
    Env,
    check_reg_arg,
    initial_state,
    make_env,
    mark_reg_known,
    mark_reg_not_init,
    mark_reg_unknown,
    push_stack_hook,
)
from bpfvm.verifier.errors import E2BIG, EACCES, EINVAL, reject
from bpfvm.verifier.fixup_facts import mark_fastcall_patterns
from bpfvm.verifier.log import VerifierLog, reg_type_str
from bpfvm.verifier.prune import is_state_visited, maybe_exit_scc, maybe_free_state
from bpfvm.verifier.stack_args import (
    BPF_REG_PARAMS,
    check_stack_arg_audit,
    check_stack_arg_insn,
    invalidate_outgoing_stack_args,
    is_stack_arg_insn,
)
from bpfvm.verifier.state import (
    CONST_PTR_TO_MAP,
    PTR_TO_CTX,
    PTR_TO_FLOW_KEYS,
    PTR_TO_FUNC,
    PTR_TO_MAP_VALUE,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON,
    PTR_TO_SOCKET,
    PTR_TO_TCP_SOCK,
    PTR_TO_XDP_SOCK,
    SCALAR_VALUE,
    VerifierState,
    copy_state,
)
from bpfvm.verifier.structure import ProgInfo, prepare

BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000
PROCESS_BPF_EXIT = 1
FUNC_SPIN_UNLOCK = HELPER_IDS["bpf_spin_unlock"]
push_stack = push_stack_hook


_ENVS: dict[int, Env] = {}


def last_env(log: VerifierLog) -> Env | None:
    """The environment of the verification that wrote ``log`` (for statistics after a
    rejection)."""
    return _ENVS.pop(id(log), None)


def verify_program(
    prog: Program, log: VerifierLog, penv: ProgEnv, insn_limit: int = BPF_COMPLEXITY_LIMIT_INSNS
) -> Env:
    """``bpf_check`` up to the end of verification; raises VerifierReject (with ``.env``)."""
    from bpfvm.verifier.errors import VerifierReject
    from bpfvm.verifier.subprog import check_max_stack_depth, do_check_subprogs

    info = prepare(prog, log)
    env = make_env(info, log, penv)
    env.insn_limit = insn_limit
    mark_fastcall_patterns(env)
    try:
        do_check_main(env)
        do_check_subprogs(env)
        check_max_stack_depth(env)
        check_stack_arg_audit(env)
    except VerifierReject as exc:
        exc.env = env  # type: ignore[attr-defined]
        raise
    return env


def do_check_main(env: Env) -> None:
    """``do_check_main`` / ``do_check_common`` for subprogram 0."""
    env.cur = initial_state(env)
    env.insn_idx = 0
    env.prev_insn_idx = -1
    env.mark_state_scratched()
    do_check(env)
    if not env.log.level2:
        env.log.reset(0)


def update_branch_counts(env: Env, st: VerifierState | None) -> None:
    """``update_branch_counts``: a finished path releases its ancestors' pending branches."""
    while st is not None:
        st.branches -= 1
        if st.branches:
            break
        maybe_exit_scc(env, st)
        maybe_free_state(env, st)
        st = st.parent


def pop_stack(env: Env) -> bool:
    """``pop_stack``: continue with the most recently pushed branch; False when none is left."""
    if not env.stack:
        return False
    elem = env.stack.pop()
    env.cur = elem.st
    if not env.log.level2:
        env.log.reset(elem.log_pos)
    env.insn_idx = elem.insn_idx
    env.prev_insn_idx = elem.prev_insn_idx
    return True


def do_check(env: Env) -> None:
    """``do_check``."""
    info = env.info
    slots = info.slots
    prune = info.prune_point
    jmp_point = info.jmp_point
    log = env.log
    level = log.level
    insn_cnt = len(slots)
    do_print_state = False
    prev_insn_idx = env.prev_insn_idx
    while True:
        env.cur_hist_ent = None
        env.prev_insn_idx = prev_insn_idx
        idx = env.insn_idx
        if idx >= insn_cnt:
            raise reject(f"invalid insn idx {idx} insn_cnt {insn_cnt}", EINVAL)
        env.insn_processed += 1
        if env.insn_processed > env.insn_limit:
            raise reject(f"BPF program is too large. Processed {env.insn_processed} insn", E2BIG)
        st = env.cur
        st.last_insn_idx = prev_insn_idx
        st.insn_idx = idx
        exited = False
        if prune[idx] and is_state_visited(env, idx):
            if level:
                if do_print_state:
                    env.verbose(f"\nfrom {prev_insn_idx} to {idx}{_spec(st)}: safe\n")
                else:
                    env.verbose(f"{idx}: safe\n")
            exited = True
        else:
            if jmp_point[idx]:
                push_jmp_history(env, 0)
            if level:
                if level & 2 and do_print_state:
                    env.verbose(f"\nfrom {prev_insn_idx} to {idx}{_spec(st)}:")
                    env.print_verifier_state(st, st.curframe, True)
                    do_print_state = False
                if env.state_scratched():
                    env.print_insn_state(st, st.curframe)
                env.verbose_linfo(idx, "; ")
                env.print_insn(idx)
            env.aux[idx].seen = True
            prev_insn_idx = idx
            env.liveness.reset_write_marks(idx)
            insn = slots[idx]
            assert insn is not None
            ret = do_check_insn(env, insn)
            env.liveness.commit_write_marks()
            if ret == 2:
                do_print_state = True
            exited = ret == PROCESS_BPF_EXIT
        if exited:
            env.mark_state_scratched()
            update_branch_counts(env, env.cur)
            env.liveness.update()
            if not pop_stack(env):
                return
            prev_insn_idx = env.prev_insn_idx
            do_print_state = True


def _spec(st: VerifierState) -> str:
    return " (speculative execution)" if st.speculative else ""


def do_check_insn(env: Env, insn: Insn) -> int:
    """``do_check_insn``: 0 = go on, 1 = the path ended, 2 = returned from a subprogram."""
    code = insn.code
    cls = code & 7
    if (insn.src == BPF_REG_PARAMS or insn.dst == BPF_REG_PARAMS) and is_stack_arg_insn(insn):
        check_stack_arg_insn(env, insn)
        env.insn_idx += 1
        return 0
    if cls in (4, 7):
        check_alu_op(env, insn)
    elif cls == 1:
        check_load_mem(env, insn, code & 0xE0 == 0x80)
    elif cls == 3:
        if code & 0xE0 == 0xC0:
            check_atomic(env, insn)
        elif code & 0xE0 != 0x60 or insn.imm != 0:
            raise reject("BPF_STX uses reserved fields", EINVAL)
        else:
            check_store_reg(env, insn)
    elif cls == 2:
        check_store_imm(env, insn)
    elif cls in (5, 6):
        return _check_jmp_class(env, insn, cls)
    else:
        _check_ld(env, insn)
    env.insn_idx += 1
    return 0


def _check_jmp_class(env: Env, insn: Insn, cls: int) -> int:
    op = insn.code & 0xF0
    env.jmps_processed += 1
    if op == 0x80:
        _check_call_insn(env, insn, cls)
        env.mark_reg_scratched(0)
        env.insn_idx += 1
        return 0
    if op == 0x00:
        if (insn.code & 8 or insn.src or insn.dst or (cls == 5 and insn.imm)
                or (cls == 6 and insn.off)):  # fmt: skip
            raise reject("BPF_JA uses reserved fields", EINVAL)
        env.insn_idx += (insn.off if cls == 5 else insn.imm) + 1
        return 0
    if op == 0x90:
        if insn.code & 8 or insn.imm or insn.src or insn.dst or cls == 6:
            raise reject("BPF_EXIT uses reserved fields", EINVAL)
        return process_bpf_exit(env)
    check_cond_jmp_op(env, insn)
    env.insn_idx += 1
    return 0


def _check_call_insn(env: Env, insn: Insn, cls: int) -> None:
    from bpfvm.verifier.subprog import check_func_call

    if (insn.code & 8 or (insn.src != 2 and insn.off) or insn.src not in (0, 1, 2) or insn.dst
            or cls == 6):  # fmt: skip
        raise reject("BPF_CALL uses reserved fields", EINVAL)
    # static subprograms may be called under the lock (global ones fail in check_func_call)
    if env.cur.active_locks and (insn.src == 2 or (insn.src == 0 and insn.imm != FUNC_SPIN_UNLOCK)):
        raise reject("function calls are not allowed while holding a lock", EINVAL)
    if insn.src == 1:
        check_func_call(env, insn)
    elif insn.src == 2:
        raise reject(f"kernel btf_id {insn.imm} is not a function", EINVAL)
    else:
        invalidate_outgoing_stack_args(env, env.cur.frame[env.cur.curframe])
        check_helper_call(env, insn)


def process_bpf_exit(env: Env) -> int:
    """``process_bpf_exit_full`` for a normal exit."""
    st = env.cur
    check_resource_leak(env, False, not st.curframe, "BPF_EXIT instruction in main prog")
    if st.curframe:
        from bpfvm.verifier.subprog import prepare_func_exit

        prepare_func_exit(env)
        return 2
    check_return_code(env, 0, "R0")
    return PROCESS_BPF_EXIT


def _check_ld(env: Env, insn: Insn) -> None:
    mode = insn.code & 0xE0
    if mode in (0x20, 0x40):
        check_ld_abs(env, insn)
    elif mode == 0x00:
        check_ld_imm(env, insn)
        env.insn_idx += 1
    else:
        raise reject("invalid BPF_LD mode", EINVAL)


def check_ld_imm(env: Env, insn: Insn) -> None:
    """``check_ld_imm``."""
    if insn.code & 0x18 != 0x18:
        raise reject("invalid BPF_LD_IMM insn", EINVAL)
    if insn.off:
        raise reject("BPF_LD_IMM64 uses reserved fields", EINVAL)
    check_reg_arg(env, insn.dst, DST_OP)
    dst = env.regs[insn.dst]
    if insn.src == 0:
        dst.type = SCALAR_VALUE
        mark_reg_known(dst, insn.imm64)
        return
    mark_reg_known(dst, 0)
    if insn.src == 4:
        from bpfvm.verifier.subprog import pseudo_func_target

        dst.type = PTR_TO_FUNC
        dst.subprogno = pseudo_func_target(env, env.insn_idx + insn.imm + 1)
        return
    dst.map_idx = insn.imm
    if insn.src in (2, 6):
        dst.type = PTR_TO_MAP_VALUE
        dst.off = insn.imm_hi
    else:
        dst.type = CONST_PTR_TO_MAP


def check_ld_abs(env: Env, insn: Insn) -> None:
    """``check_ld_abs``."""
    spec = env.spec
    if spec is None or not spec.ld_abs:
        raise reject("BPF_LD_[ABS|IND] instructions not allowed for this program type", EINVAL)
    mode = insn.code & 0xE0
    if insn.dst or insn.off or insn.code & 0x18 == 0x18 or (mode == 0x20 and insn.src):
        raise reject("BPF_LD_[ABS|IND] uses reserved fields", EINVAL)
    check_reg_arg(env, 6, SRC_OP)
    check_resource_leak(env, False, True, "BPF_LD_[ABS|IND]")
    regs = env.regs
    if regs[6].type != PTR_TO_CTX:
        raise reject("at the time of BPF_LD_ABS|IND R6 != pointer to skb", EINVAL)
    if mode == 0x40:
        check_reg_arg(env, insn.src, SRC_OP)
    from bpfvm.verifier.check_mem import check_ptr_off_reg

    check_ptr_off_reg(env, regs[6], 6, False)
    for i in range(6):
        mark_reg_not_init(regs[i])
        check_reg_arg(env, i, DST_OP_NO_MARK)
    mark_reg_unknown(regs[0])


_RMW = frozenset({0x00, 0x01, 0x50, 0x51, 0x40, 0x41, 0xA0, 0xA1, 0xE1, 0xF1})
_NO_ATOMIC = frozenset({
    PTR_TO_CTX, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_FLOW_KEYS, PTR_TO_SOCKET,
    PTR_TO_SOCK_COMMON, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK,
})  # fmt: skip


def check_atomic(env: Env, insn: Insn) -> None:
    """``check_atomic``."""
    imm = insn.imm
    size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[insn.code & 0x18]
    if imm in _RMW:
        _check_atomic_rmw(env, insn, size)
    elif imm == 0x100:
        dst = env.regs[insn.src]
        if dst.type in _NO_ATOMIC:
            raise reject(
                f"BPF_ATOMIC loads from R{insn.src} {reg_type_str(dst.type)} is not allowed",
                EACCES,
            )
        check_load_mem(env, insn, False)
    elif imm == 0x110:
        dst = env.regs[insn.dst]
        if dst.type in _NO_ATOMIC:
            raise reject(
                f"BPF_ATOMIC stores into R{insn.dst} {reg_type_str(dst.type)} is not allowed",
                EACCES,
            )
        check_store_reg(env, insn)
    else:
        raise reject(f"BPF_ATOMIC uses invalid atomic opcode {imm & 0xFFFFFFFF:02x}", EINVAL)


def _check_atomic_rmw(env: Env, insn: Insn, size: int) -> None:
    if size not in (4, 8):
        raise reject("invalid atomic operand size", EINVAL)
    check_reg_arg(env, insn.src, SRC_OP)
    check_reg_arg(env, insn.dst, SRC_OP)
    if insn.imm == 0xF1:
        check_reg_arg(env, 0, SRC_OP)
    dst = env.regs[insn.dst]
    if dst.type in _NO_ATOMIC:
        raise reject(
            f"BPF_ATOMIC stores into R{insn.dst} {reg_type_str(dst.type)} is not allowed", EACCES
        )
    load_reg = -1
    if insn.imm & 1:
        load_reg = 0 if insn.imm == 0xF1 else insn.src
        check_reg_arg(env, load_reg, DST_OP)
    check_mem_access(env, insn.dst, insn.off, size, False, -1, False, True)
    if load_reg >= 0:
        check_mem_access(env, insn.dst, insn.off, size, False, load_reg, False, True)
    check_mem_access(env, insn.dst, insn.off, size, True, -1, False, True)


__all__ = [
    "ProgInfo",
    "copy_state",
    "do_check",
    "push_stack",
    "save_aux_ptr_type",
    "verify_program",
]
