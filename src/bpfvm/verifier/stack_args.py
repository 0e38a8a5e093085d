"""Stack arguments of bpf-to-bpf calls (SPEC section 2; verifier.c: ``check_stack_arg_access``,
``check_outgoing_stack_args``, ``invalidate_outgoing_stack_args``, ``stack_arg_safe``; fixups.c:
the slot audit of ``bpf_fixup_call_args``).

A static subprogram with more than five BTF parameters takes arguments 6..12 through the
pseudo-register r11 (``BPF_REG_PARAMS``): the caller writes them at ``r11 - 8k`` (outgoing slot
``k - 1`` of its frame, :attr:`FuncState.stack_args`), the callee reads them at ``r11 + 8k``
(the caller frame's slot ``k - 1``, so pointer types flow through). Rules enforced here:

* an outgoing write beyond slot 7: ``stack arg write offset %d exceeds max %d stack args``;
* an incoming read after an outgoing write or any call (``no_stack_arg_load``):
  ``r11 load must be before any r11 store or call insn``; beyond the function's incoming
  count: ``invalid read from stack arg off %d depth %d``;
* at a bpf-to-bpf call every slot the callee takes must have been written since the last
  call: ``callee expects %d args, stack arg%d is not initialized``;
* every call (helper, kfunc, global function, a static callee's return) invalidates the
  caller's outgoing slots;
* after verification: ``func#%d writes %u stack arg slots, but calls only require %u``.
* a tail call in a program with stack arguments: ``tail_calls are not allowed in programs
  with stack args``; a callback whose BTF takes more than five arguments: ``callback
  subprog cannot have stack args``.

This machine's kernel (6.18) predates the feature; the behaviour follows the SPEC and the seed
commit "Support stack arguments for bpf functions". The ``depth`` printed by the read error is
the incoming area in bytes (not confirmed against a kernel log).
"""

from __future__ import annotations

from bpfvm.isa.insn import Insn
from bpfvm.verifier.env import Env, mark_reg_known
from bpfvm.verifier.errors import EACCES, EINVAL, reject
from bpfvm.verifier.state import SCALAR_VALUE, FuncState, RegState

BPF_REG_PARAMS = 11
MAX_BPF_FUNC_REG_ARGS = 5
MAX_STACK_ARGS = 7
_BPF_MEM = 0x60
_BPF_DW = 0x18


def is_stack_arg_insn(insn: Insn) -> bool:
    """An LDX from r11 or an ST/STX to r11 (``is_stack_arg_ldx/st/stx``)."""
    cls = insn.code & 7
    if insn.code & 0xE0 != _BPF_MEM:
        return False
    if cls == 1:
        return insn.src == BPF_REG_PARAMS
    return cls in (2, 3) and insn.dst == BPF_REG_PARAMS


def in_stack_arg_cnt(env: Env, subprog: int) -> int:
    """How many of ``subprog``'s arguments come through r11 (its BTF parameters beyond 5)."""
    from bpfvm.verifier.subprog import subprog_btf

    t = subprog_btf(env, subprog)
    if t is None:
        return 0
    proto = env.info.prog.btf[t.ref]
    return max(0, len(proto.params) - MAX_BPF_FUNC_REG_ARGS)


def prog_has_stack_args(env: Env) -> bool:
    """Whether any subprogram takes arguments through r11 (tail calls are then refused)."""
    return any(in_stack_arg_cnt(env, i) for i in range(1, len(env.info.subprogs)))


def check_stack_arg_insn(env: Env, insn: Insn) -> None:
    """The path walk's handling of an :func:`is_stack_arg_insn` instruction."""
    from bpfvm.verifier.env import DST_OP, SRC_OP, check_reg_arg

    st = env.cur
    frame = st.frame[st.curframe]
    cls = insn.code & 7
    if insn.code & 0x18 != _BPF_DW or insn.off % 8 or insn.off == 0:
        raise reject(f"invalid stack arg access off {insn.off}", EINVAL)
    if cls == 1:
        check_reg_arg(env, insn.dst, DST_OP)
        if frame.no_stack_arg_load:
            raise reject("r11 load must be before any r11 store or call insn", EINVAL)
        slot = insn.off // 8 - 1
        depth = in_stack_arg_cnt(env, frame.subprogno) * 8
        if insn.off < 0 or insn.off > depth or st.curframe == 0:
            raise reject(f"invalid read from stack arg off {insn.off} depth {depth}", EACCES)
        incoming = st.frame[st.curframe - 1].stack_args
        src = incoming[slot] if slot < len(incoming) else None
        if src is None:
            raise reject(f"invalid read from stack arg off {insn.off} depth {depth}", EACCES)
        env.regs[insn.dst].assign(src)
        return
    if insn.off > 0:
        raise reject(f"invalid write to stack arg off {insn.off}", EACCES)
    slot = -insn.off // 8 - 1
    if slot >= MAX_STACK_ARGS:
        raise reject(
            f"stack arg write offset {insn.off} exceeds max {MAX_STACK_ARGS} stack args", EINVAL
        )
    if cls == 3:
        check_reg_arg(env, insn.src, SRC_OP)
        value = env.regs[insn.src].copy()
    else:
        value = RegState()
        value.type = SCALAR_VALUE
        mark_reg_known(value, insn.imm)
    while len(frame.stack_args) <= slot:
        frame.stack_args.append(None)
    frame.stack_args[slot] = value
    frame.no_stack_arg_load = True
    sub = frame.subprogno
    env.max_out_stack_args[sub] = max(env.max_out_stack_args.get(sub, 0), slot + 1)


def check_outgoing_stack_args(env: Env, caller: FuncState, callee_subprog: int) -> None:
    """``check_outgoing_stack_args``: the slots the callee takes are written."""
    cnt = in_stack_arg_cnt(env, callee_subprog)
    for i in range(cnt):
        if i >= len(caller.stack_args) or caller.stack_args[i] is None:
            raise reject(
                f"callee expects {cnt + MAX_BPF_FUNC_REG_ARGS} args, "
                f"stack arg{i + MAX_BPF_FUNC_REG_ARGS + 1} is not initialized",
                EINVAL,
            )


def invalidate_outgoing_stack_args(env: Env, frame: FuncState) -> None:
    """``invalidate_outgoing_stack_args``: after a call, nothing outgoing is left; a function
    with incoming stack arguments can no longer read them."""
    frame.stack_args = []
    mark_called(env, frame)


def mark_called(env: Env, frame: FuncState) -> None:
    """A call in a function with incoming stack arguments ends their reads."""
    if not frame.no_stack_arg_load and in_stack_arg_cnt(env, frame.subprogno):
        frame.no_stack_arg_load = True


def check_stack_arg_audit(env: Env) -> None:
    """``bpf_fixup_call_args``'s slot audit: no function writes more outgoing slots than the
    largest stack-argument count of the functions it calls."""
    from bpfvm.verifier.subprog import find_subprog

    info = env.info
    for sub, written in sorted(env.max_out_stack_args.items()):
        sp = info.subprogs[sub]
        needed = 0
        for pc in range(sp.start, sp.end):
            insn = info.slots[pc] if pc < len(info.slots) else None
            if insn is not None and insn.code == 0x85 and insn.src == 1:
                callee = find_subprog(env, pc + insn.imm + 1)
                if callee >= 0:
                    needed = max(needed, in_stack_arg_cnt(env, callee))
        if written > needed:
            raise reject(
                f"func#{sub} writes {written} stack arg slots, but calls only require {needed}",
                EINVAL,
            )


def stack_arg_safe(env: Env, old: FuncState, cur: FuncState, idmap: object, exact: int) -> bool:
    """``stack_arg_safe``: every outgoing slot of ``old`` is safe for ``cur`` (a missing slot
    is NOT_INIT), and ``cur`` may not read incoming arguments where ``old`` could."""
    from bpfvm.verifier.prune import regsafe

    if cur.no_stack_arg_load and not old.no_stack_arg_load:
        return False
    n = max(len(old.stack_args), len(cur.stack_args))
    for i in range(n):
        o = old.stack_args[i] if i < len(old.stack_args) else None
        c = cur.stack_args[i] if i < len(cur.stack_args) else None
        if o is None:
            continue  # NOT_INIT in the old state is safe for anything
        if c is None or not regsafe(env, o, c, idmap, exact):  # type: ignore[arg-type]
            return False
    return True
