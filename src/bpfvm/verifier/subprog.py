"""bpf-to-bpf calls and callbacks (verifier.c: ``check_func_call``, ``setup_func_entry``,
``prepare_func_exit``, ``push_callback_call``, the ``set_*_callback_state`` functions,
``btf_prepare_func_args``, ``do_check_subprogs``).

A static subprogram is walked inline: the call pushes a new frame (at most 8) whose r1-r5 are
the caller's, and ``exit`` pops it, handing r0 back. A global subprogram (BTF linkage
``global``) is checked once on its own, for any arguments matching its BTF prototype; its call
sites only check the arguments and get an unknown scalar back. A callback (``bpf_loop``,
``bpf_for_each_map_elem``, ...) is explored in a pushed state that enters the callback and,
at its exit, returns to the helper call, which schedules the callback again until the states
converge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bpfvm.errors import InputError
from bpfvm.isa.insn import Insn
from bpfvm.verifier.env import (
    DST_OP_NO_MARK,
    Env,
    check_reg_arg,
    init_func_state,
    mark_reg_known,
    mark_reg_not_init,
    mark_reg_unknown,
    push_stack_hook,
)
from bpfvm.verifier.errors import E2BIG, EACCES, EINVAL, VerifierReject, reject
from bpfvm.verifier.fixup_facts import fastcall_stack_depth
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.scalar import S64_MAX, S64_MIN
from bpfvm.verifier.stack_args import (
    check_outgoing_stack_args,
    invalidate_outgoing_stack_args,
    mark_called,
)
from bpfvm.verifier.state import (
    MAX_CALL_FRAMES,
    PTR_MAYBE_NULL,
    PTR_TO_CTX,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_STACK,
    SCALAR_VALUE,
    FuncState,
    VerifierState,
)

ARG_SCALAR, ARG_CTX, ARG_MEM = 0, 1, 2
_CTX_STRUCTS = frozenset({"__sk_buff", "xdp_md", "bpf_sock", "bpf_sock_addr", "bpf_sock_ops",
                          "sk_msg_md", "bpf_perf_event_data", "bpf_raw_tracepoint_args",
                          "pt_regs", "sk_reuseport_md", "bpf_sk_lookup", "bpf_sysctl",
                          "bpf_sockopt", "bpf_cgroup_dev_ctx", "bpf_nf_ctx"})  # fmt: skip


@dataclass(frozen=True)
class FuncArg:
    kind: int
    mem_size: int = 0


def subprog_btf(env: Env, subprog: int) -> Any:
    """The BTF FUNC type of ``subprog`` (from func_info), or None."""
    prog = env.info.prog
    btf = prog.btf
    if btf is None or not prog.func_info:
        return None
    start = env.info.subprogs[subprog].start
    for fi in prog.func_info:
        if fi.insn_off == start:
            return btf[fi.type_id]
    return None


def subprog_is_global(env: Env, subprog: int) -> bool:
    t = subprog_btf(env, subprog)
    return t is not None and int(t.linkage) == 1


def subprog_name(env: Env, subprog: int) -> str:
    t = subprog_btf(env, subprog)
    return t.name if t is not None else ""


def find_subprog(env: Env, insn_idx: int) -> int:
    for i, sp in enumerate(env.info.subprogs):
        if sp.start == insn_idx:
            return i
    return -1


def pseudo_func_target(env: Env, insn_idx: int) -> int:
    """The subprogram a ``ld_imm64`` of a function names (``check_ld_imm``)."""
    sub = find_subprog(env, insn_idx)
    if not env.info.prog.func_info:
        raise reject("missing btf func_info", EINVAL)
    if subprog_is_global(env, sub):
        raise reject("callback function not static", EINVAL)
    return sub


def prepare_func_args(env: Env, subprog: int) -> list[FuncArg] | None:
    """``btf_prepare_func_args`` (the kinds bpfvm supports: scalars, the context, memory)."""
    t = subprog_btf(env, subprog)
    if t is None:
        return None
    btf = env.info.prog.btf
    proto = btf[t.ref]
    args = []
    for p in proto.params:
        pt = btf[btf.strip(p.type)]
        kind = int(pt.kind)
        if kind in (1, 6, 19):  # INT, ENUM, ENUM64
            args.append(FuncArg(ARG_SCALAR))
        elif kind == 2:  # PTR
            target = btf[btf.strip(pt.ref)]
            if target.name in _CTX_STRUCTS:
                args.append(FuncArg(ARG_CTX))
            else:
                try:
                    size = btf.resolve_size(pt.ref)
                except InputError:
                    return None  # void *, function pointers: "size cannot be determined"
                args.append(FuncArg(ARG_MEM, size))
        else:
            return None
    return args


def check_func_call(env: Env, insn: Insn) -> None:
    """``check_func_call``."""
    st = env.cur
    target = env.insn_idx + insn.imm + 1
    subprog = find_subprog(env, target)
    caller = st.frame[st.curframe]
    args_ok = btf_check_subprog_call(env, subprog, caller)
    if subprog_is_global(env, subprog):
        _call_global(env, subprog, caller, args_ok)
        invalidate_outgoing_stack_args(env, caller)
        return
    check_outgoing_stack_args(env, caller, subprog)
    mark_called(env, caller)
    setup_func_entry(env, subprog, env.insn_idx, st, _set_callee_state)
    clear_caller_saved_regs(env, caller)
    env.insn_idx = env.info.subprogs[subprog].start - 1
    env.liveness.reset_callchain()
    env.mark_state_scratched()
    if env.log.enabled:
        env.verbose("caller:\n")
        env.print_verifier_state(st, caller.frameno, True)
        env.verbose("callee:\n")
        env.print_verifier_state(st, st.curframe, True)


def btf_check_subprog_call(env: Env, subprog: int, caller: FuncState) -> bool:
    """``btf_check_subprog_call``: do the caller's registers match the subprogram's BTF
    prototype? Checked (and mismatches logged) for static subprograms too, whose verdict does
    not depend on it; a mismatch marks the subprogram unreliable, which skips later checks."""
    if not env.info.prog.func_info or subprog in env.unreliable:
        return False
    args = prepare_func_args(env, subprog)
    is_global = subprog_is_global(env, subprog)
    if args is not None and not is_global and any(a.kind == ARG_MEM for a in args):
        args = None  # memory arguments are a global function's (static ones: unsupported)
    if args is not None and not _returns_scalar(env, subprog):
        if is_global:
            name = subprog_name(env, subprog)
            env.verbose(
                f"Global function {name}() doesn't return scalar. Only those are supported.\n"
            )
        args = None
    if args is None or not _args_match(env, caller, args):
        env.unreliable.add(subprog)
        return False
    return True


def _call_global(env: Env, subprog: int, caller: FuncState, args_ok: bool) -> None:
    name = subprog_name(env, subprog)
    if env.cur.active_locks:
        # one kernel message over two log lines: the error line is the second
        env.verbose("global function calls are not allowed while holding a lock,\n")
        raise reject("use static function instead", EINVAL)
    if not args_ok:
        raise reject(f"Caller passes invalid args into func#{subprog} ('{name}')", EINVAL)
    if env.log.enabled:
        env.verbose(f"Func#{subprog} ('{name}') is global and assumed valid.\n")
    env.info.subprogs[subprog].called = True
    clear_caller_saved_regs(env, caller)
    mark_reg_unknown(caller.regs[0])


def _returns_scalar(env: Env, subprog: int) -> bool:
    """``btf_prepare_func_args``: a global function returns an int or an enum."""
    t = subprog_btf(env, subprog)
    btf = env.info.prog.btf
    ret = btf[t.ref].ref
    if not ret:
        return False  # void
    return int(btf[btf.strip(ret)].kind) in (1, 6, 19)  # INT, ENUM, ENUM64


def _args_match(env: Env, caller: FuncState, args: list[FuncArg]) -> bool:
    """``btf_check_func_arg_match`` for the supported argument kinds."""
    if len(args) > 5:
        return False
    for i, arg in enumerate(args):
        reg = caller.regs[i + 1]
        if arg.kind == ARG_SCALAR:
            if reg.type != SCALAR_VALUE:
                env.verbose(f"R{i + 1} is not a scalar\n")
                return False
        elif arg.kind == ARG_CTX:
            if reg.type != PTR_TO_CTX or reg.off or reg.s.var_off.mask or reg.s.var_off.value:
                env.verbose(f"arg#{i} expects pointer to ctx\n")
                return False
        else:
            if reg.type == SCALAR_VALUE and reg.is_const and reg.const_value == 0:
                continue
            from bpfvm.verifier.check_helper_mem import check_helper_mem_access

            # check_mem_reg: the memory must be readable and writable; a failure is logged
            # and makes the call's arguments invalid
            try:
                check_helper_mem_access(env, i + 1, arg.mem_size, False, True, None)
                check_helper_mem_access(env, i + 1, arg.mem_size, True, True, None)
            except VerifierReject as exc:
                env.verbose(exc.diagnostic + ("\n" if exc.newline else "") + exc.trailer)
                return False
    return True


def _set_callee_state(env: Env, caller: FuncState, callee: FuncState, callsite: int) -> None:
    """``set_callee_state``: r1-r5 are the caller's."""
    for i in range(1, 6):
        callee.regs[i].assign(caller.regs[i])


def setup_func_entry(
    env: Env, subprog: int, callsite: int, st: VerifierState, set_callee: Any
) -> None:
    """``setup_func_entry``: push a frame for ``subprog`` on ``st``."""
    if st.curframe + 1 >= MAX_CALL_FRAMES:
        raise reject(f"the call stack of {st.curframe + 2} frames is too deep", E2BIG)
    caller = st.frame[st.curframe]
    callee = init_func_state(st.curframe + 1, subprog, callsite)
    env.mark_state_scratched()  # init_func_state scratches the whole state
    callee.async_entry_cnt = caller.async_entry_cnt
    del st.frame[st.curframe + 1 :]
    st.frame.append(callee)
    set_callee(env, caller, callee, callsite)
    st.curframe += 1


def clear_caller_saved_regs(env: Env, f: FuncState) -> None:
    """``clear_caller_saved_regs``."""
    for i in range(6):
        mark_reg_not_init(f.regs[i])
        env.mark_reg_scratched(i)


def prepare_func_exit(env: Env) -> None:
    """``prepare_func_exit``: return to the caller (or, for a callback, to its helper call)."""
    env.liveness.update()
    st = env.cur
    callee = st.frame[st.curframe]
    r0 = callee.regs[0]
    if r0.type == PTR_TO_STACK:
        raise reject("cannot return stack pointer to the caller", EINVAL)
    caller = st.frame[st.curframe - 1]
    if callee.in_callback_fn:
        if r0.type != SCALAR_VALUE:
            raise reject("R0 not a scalar value", EACCES)
        mark_chain_precision(env, 0)
        lo, hi = callee.callback_ret_range
        if not (lo <= r0.s.smin and r0.s.smax <= hi):
            text = "At callback return the register R0 has"
            parts = []
            if r0.s.smin > S64_MIN:
                parts.append(f" smin={r0.s.smin}")
            if r0.s.smax < S64_MAX:
                parts.append(f" smax={r0.s.smax}")
            text += "".join(parts) or " unknown scalar value"
            raise reject(f"{text} should have been in [{lo}, {hi}]", EINVAL)
        env.insn_idx = callee.callsite
    else:
        caller.regs[0].assign(r0)
        invalidate_outgoing_stack_args(env, caller)
        env.insn_idx = callee.callsite + 1
    if env.log.enabled:
        env.verbose("returning from callee:\n")
        env.print_verifier_state(st, callee.frameno, True)
        env.verbose(f"to caller at {env.insn_idx}:\n")
        env.print_verifier_state(st, caller.frameno, True)
    in_cb = callee.in_callback_fn
    st.frame.pop()
    st.curframe -= 1
    if in_cb:
        from bpfvm.verifier.prune import find_prev_entry, widen_imprecise_scalars

        prev = find_prev_entry(env, st, env.insn_idx)
        if prev is not None:
            widen_imprecise_scalars(env, prev, st)


# --- callbacks ---------------------------------------------------------------------------------


def _loop_cb(env: Env, caller: FuncState, callee: FuncState, callsite: int) -> None:
    """``set_loop_callback_state``: callback(index, ctx)."""
    mark_reg_unknown(callee.regs[1])
    callee.regs[2].assign(caller.regs[3])
    for i in (3, 4, 5):
        mark_reg_not_init(callee.regs[i])
    callee.in_callback_fn = True
    callee.callback_ret_range = (0, 1)


def _map_elem_cb(env: Env, caller: FuncState, callee: FuncState, callsite: int) -> None:
    """``set_map_elem_callback_state``: callback(map, key, value, ctx)."""
    map_idx = env.aux[callsite].map_idx
    callee.regs[1].assign(caller.regs[1])
    for regno, t in ((2, PTR_TO_MAP_KEY), (3, PTR_TO_MAP_VALUE)):
        r = callee.regs[regno]
        r.type = t
        mark_reg_known(r, 0)
        r.map_idx = map_idx
    callee.regs[4].assign(caller.regs[3])
    mark_reg_not_init(callee.regs[5])
    callee.in_callback_fn = True
    callee.callback_ret_range = (0, 1)


def push_callback_call(env: Env, insn: Insn, subprog: int, func_id: int) -> None:
    """``push_callback_call`` for the synchronous callback helpers."""
    from bpfvm.verifier.check_call import F
    from bpfvm.verifier.stack_args import in_stack_arg_cnt

    if subprog < 0:
        raise reject("callback subprog not found", EINVAL)
    if in_stack_arg_cnt(env, subprog):
        raise reject("callback subprog cannot have stack args", EINVAL)
    env.info.subprogs[subprog].is_cb = True
    if func_id == F["loop"]:
        set_cb = _loop_cb
    elif func_id == F["for_each_map_elem"]:
        set_cb = _map_elem_cb
    else:
        raise reject(f"callbacks of helper {func_id} are not supported by bpfvm yet", EINVAL)
    start = env.info.subprogs[subprog].start
    cb_state = push_stack_hook(env, start, env.insn_idx, False)
    setup_func_entry(env, subprog, env.insn_idx, cb_state, set_cb)
    cb_state.callback_unroll_depth += 1
    cb_state.frame[cb_state.curframe - 1].callback_depth += 1
    env.frame.callback_depth = 0
    env.aux[env.insn_idx].call_target = start


def _round_stack(depth: int) -> int:
    """``round_up_stack_depth`` with the JIT enabled."""
    return (depth + 15) // 16 * 16


def check_max_stack_depth(env: Env) -> None:
    """``check_max_stack_depth``: along every static call chain the frames' stacks add up to at
    most 512 bytes, and tail calls see at most 256 bytes of callers' stack."""
    info = env.info
    roots = [0] + [i for i, sp in enumerate(info.subprogs) if i and sp.is_async_cb]
    for root in roots:
        _max_stack_from(env, root, 0, 0)


def _max_stack_from(env: Env, idx: int, depth: int, frame: int) -> None:
    info = env.info
    sp = info.subprogs[idx]
    if idx and sp.has_tail_call and depth >= 256:
        raise reject(
            "tail_calls are not allowed when call stack of previous frames is "
            f"{depth} bytes. Too large",
            EACCES,
        )
    depth += _round_stack(fastcall_stack_depth(env, idx))
    if depth > 512:
        raise reject(f"combined stack size of {frame + 1} calls is {depth}. Too large", EACCES)
    for i in range(sp.start, sp.end):
        insn = info.slots[i]
        if insn is None or not (
            (insn.code == 0x85 and insn.src == 1) or (insn.code == 0x18 and insn.src == 4)
        ):
            continue
        callee = find_subprog(env, i + insn.imm + 1)
        if info.subprogs[callee].is_async_cb and insn.code != 0x85:
            continue
        if frame + 1 >= MAX_CALL_FRAMES:
            raise reject(f"the call stack of {frame + 1} frames is too deep !", E2BIG)
        _max_stack_from(env, callee, depth, frame + 1)


def do_check_subprogs(env: Env) -> None:
    """``do_check_subprogs``: verify each called global function for any valid arguments."""
    from bpfvm.verifier.main import do_check

    changed = True
    verified: set[int] = set()
    while changed:
        changed = False
        for i in range(1, len(env.info.subprogs)):
            sp = env.info.subprogs[i]
            if not subprog_is_global(env, i) or not sp.called or i in verified:
                continue
            name = subprog_name(env, i)
            if env.log.enabled:
                env.verbose(f"Validating {name}() func#{i}...\n")
            args = prepare_func_args(env, i)
            if args is None:
                raise reject(f"Caller passes invalid args into func#{i} ('{name}')", EINVAL)
            st = VerifierState()
            st.first_insn_idx = sp.start
            st.frame = [init_func_state(0, i, -1)]
            st.in_sleepable = env.info.prog.sleepable
            _global_args(env, st.frame[0], args)
            env.cur = st
            env.stack.clear()
            env.explored.clear()
            env.insn_idx = sp.start
            env.prev_insn_idx = -1
            env.mark_state_scratched()
            do_check(env)
            if not env.log.level2:
                env.log.reset(0)
            if env.log.enabled:
                env.verbose(f"Func#{i} ('{name}') is safe for any args that match its prototype\n")
            verified.add(i)
            changed = True


def _global_args(env: Env, f: FuncState, args: list[FuncArg]) -> None:
    for i, arg in enumerate(args):
        r = f.regs[i + 1]
        if arg.kind == ARG_SCALAR:
            mark_reg_unknown(r)
        elif arg.kind == ARG_CTX:
            r.type = PTR_TO_CTX
            mark_reg_known(r, 0)
        else:
            mark_reg_known(r, 0)
            r.type = PTR_TO_MEM | PTR_MAYBE_NULL
            r.mem_size = arg.mem_size
            r.id = env.new_id()


__all__ = ["DST_OP_NO_MARK", "check_func_call", "check_reg_arg", "do_check_subprogs"]
