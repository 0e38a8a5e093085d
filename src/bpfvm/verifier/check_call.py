"""Helper calls (verifier.c: ``check_helper_call``, ``check_func_arg``, ``check_reg_type``,
``check_func_arg_reg_off``, ``check_helper_mem_access``, ``check_mem_size_reg``,
``get_constant_map_key``, ``record_func_map``, ``process_spin_lock``, reference tracking).

Arguments are checked in order against the program type's prototype
(:func:`bpfvm.platform.func_proto`), then r1-r5 are clobbered and r0 takes the return type:
a map value (maybe NULL, with a fresh id for the NULL check; known non-NULL for an array
lookup with an in-bounds constant key), a socket, ringbuf memory, or an unknown scalar.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.isa.insn import Insn
from bpfvm.platform.arg_types import ArgBase, ArgType, RetBase, TypeFlag
from bpfvm.platform.map_types import map_func_compatible
from bpfvm.platform.prog_types import func_proto, helper_allowed
from bpfvm.platform.proto import HelperProto
from bpfvm.program.model import BPF_F_RDONLY_PROG
from bpfvm.program.uapi import AttachType, MapType, ProgType
from bpfvm.verifier.check_helper_mem import (
    check_const_str,
    check_helper_mem_access,
    check_mem_size_reg,
    constant_map_key,
)
from bpfvm.verifier.check_mem import (
    check_mem_access,
    check_ptr_off_reg,
)
from bpfvm.verifier.env import (
    DST_OP_NO_MARK,
    SRC_OP,
    Env,
    check_reg_arg,
    mark_reg_known,
    mark_reg_not_init,
    mark_reg_unknown,
    push_stack_hook,
)
from bpfvm.verifier.errors import EACCES, EINVAL, ENOTSUPP, reject
from bpfvm.verifier.fixup_facts import update_loop_inline_state
from bpfvm.verifier.log import reg_type_str
from bpfvm.verifier.precision import mark_chain_precision
from bpfvm.verifier.refs import acquire_reference, process_spin_lock, release_reference
from bpfvm.verifier.scalar import Scalar, reg_bounds_sync
from bpfvm.verifier.stack_args import prog_has_stack_args
from bpfvm.verifier.state import (
    CONST_PTR_TO_DYNPTR,
    CONST_PTR_TO_MAP,
    MEM_RDONLY,
    MEM_RINGBUF,
    NOT_INIT,
    PTR_MAYBE_NULL,
    PTR_TO_BTF_ID,
    PTR_TO_BUF,
    PTR_TO_CTX,
    PTR_TO_FUNC,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON,
    PTR_TO_SOCKET,
    PTR_TO_STACK,
    PTR_TO_TCP_SOCK,
    PTR_TO_XDP_SOCK,
    PTR_TRUSTED,
    SCALAR_VALUE,
    RegState,
)

BPF_MAX_VAR_SIZ = 1 << 29
MAX_ERRNO = 4095
_H = HELPER_IDS
F = {name[4:]: i for name, i in _H.items()}

_MEM_TYPES = (
    PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE,
    PTR_TO_MEM, PTR_TO_MEM | MEM_RINGBUF, PTR_TO_BUF, PTR_TO_BTF_ID | PTR_TRUSTED,
)  # fmt: skip
_SOCK_TYPES = (PTR_TO_SOCK_COMMON, PTR_TO_SOCKET, PTR_TO_TCP_SOCK, PTR_TO_XDP_SOCK)
COMPATIBLE: dict[ArgBase, tuple[int, ...]] = {
    ArgBase.PTR_TO_MAP_KEY: _MEM_TYPES,
    ArgBase.PTR_TO_MAP_VALUE: _MEM_TYPES,
    ArgBase.CONST_SIZE: (SCALAR_VALUE,),
    ArgBase.CONST_SIZE_OR_ZERO: (SCALAR_VALUE,),
    ArgBase.CONST_ALLOC_SIZE_OR_ZERO: (SCALAR_VALUE,),
    ArgBase.CONST_MAP_PTR: (CONST_PTR_TO_MAP,),
    ArgBase.PTR_TO_CTX: (PTR_TO_CTX,),
    ArgBase.PTR_TO_SOCK_COMMON: _SOCK_TYPES,
    ArgBase.PTR_TO_BTF_ID_SOCK_COMMON: (*_SOCK_TYPES, PTR_TO_BTF_ID, PTR_TO_BTF_ID | PTR_TRUSTED),
    ArgBase.PTR_TO_SOCKET: (PTR_TO_SOCKET,),
    ArgBase.PTR_TO_BTF_ID: (PTR_TO_BTF_ID, PTR_TO_BTF_ID | PTR_TRUSTED),
    ArgBase.PTR_TO_SPIN_LOCK: (PTR_TO_MAP_VALUE,),
    ArgBase.PTR_TO_MEM: _MEM_TYPES,
    ArgBase.PTR_TO_RINGBUF_MEM: (PTR_TO_MEM | MEM_RINGBUF,),
    ArgBase.PTR_TO_FUNC: (PTR_TO_FUNC,),
    ArgBase.PTR_TO_STACK: (PTR_TO_STACK,),
    ArgBase.PTR_TO_CONST_STR: (PTR_TO_MAP_VALUE,),
    ArgBase.PTR_TO_TIMER: (PTR_TO_MAP_VALUE,),
    ArgBase.PTR_TO_DYNPTR: (PTR_TO_STACK, CONST_PTR_TO_DYNPTR),
}
_OFF_OK = frozenset({PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY,
                     PTR_TO_MAP_VALUE, PTR_TO_MEM, PTR_TO_MEM | MEM_RDONLY,
                     PTR_TO_MEM | MEM_RINGBUF, PTR_TO_BUF, PTR_TO_BUF | MEM_RDONLY,
                     SCALAR_VALUE})  # fmt: skip
_MAP_HELPERS = frozenset(F[n] for n in (
    "tail_call", "map_lookup_elem", "map_update_elem", "map_delete_elem", "map_push_elem",
    "map_pop_elem", "map_peek_elem", "for_each_map_elem", "redirect_map",
    "map_lookup_percpu_elem"))  # fmt: skip
_MAP_WRITERS = frozenset(F[n] for n in (
    "map_delete_elem", "map_update_elem", "map_push_elem", "map_pop_elem"))  # fmt: skip
PKT_CHANGERS = frozenset(F[n] for n in (
    "clone_redirect", "l3_csum_replace", "l4_csum_replace", "lwt_push_encap", "lwt_seg6_action",
    "lwt_seg6_adjust_srh", "lwt_seg6_store_bytes", "msg_pop_data", "msg_pull_data",
    "msg_push_data", "skb_adjust_room", "skb_change_head", "skb_change_proto",
    "skb_change_tail", "skb_pull_data", "skb_store_bytes", "skb_vlan_pop", "skb_vlan_push",
    "store_hdr_opt", "xdp_adjust_head", "xdp_adjust_meta", "xdp_adjust_tail"))  # fmt: skip
_ACQUIRE = frozenset(F[n] for n in ("sk_lookup_tcp", "sk_lookup_udp", "skc_lookup_tcp",
                                    "ringbuf_reserve", "kptr_xchg"))  # fmt: skip
_PTR_CAST = frozenset(F[n] for n in (
    "tcp_sock", "sk_fullsock", "skc_to_tcp_sock", "skc_to_tcp6_sock", "skc_to_udp6_sock",
    "skc_to_mptcp_sock", "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock"))  # fmt: skip
_CALLBACK_HELPERS = frozenset(
    F[n] for n in ("for_each_map_elem", "find_vma", "user_ringbuf_drain", "timer_set_callback")
)
_RELEASE = frozenset(F[n] for n in ("sk_release", "ringbuf_submit", "ringbuf_discard"))


@dataclass
class CallMeta:
    """``struct bpf_call_arg_meta``."""

    func_id: int
    map_idx: int = -1
    raw_mode: bool = False
    regno: int = 0
    access_size: int = 0
    mem_size: int = 0
    msize_max_value: int = 0
    ref_obj_id: int = 0
    release_regno: int = 0
    subprogno: int = -1
    const_map_key: int = -1
    pkt_access: bool = False


def func_name(func_id: int) -> str:
    """``func_id_name``."""
    return HELPER_NAMES.get(func_id, "unknown") if func_id >= 0 else "unknown"


def get_helper_proto(env: Env, func_id: int) -> HelperProto:
    """``get_helper_proto`` with the kernel's two failure messages."""
    if func_id < 0 or func_id >= max(HELPER_NAMES) + 1:
        raise reject(f"invalid func {func_name(func_id)}#{func_id}", EINVAL)
    try:
        proto = func_proto(env.prog_type, func_id, env.penv)
    except (KeyError, ValueError):
        proto = None
    if proto is None:
        raise reject(
            f"program of this type cannot use helper {func_name(func_id)}#{func_id}", EINVAL
        )
    return proto


def check_helper_call(env: Env, insn: Insn) -> None:
    """``check_helper_call``."""
    func_id = insn.imm
    proto = get_helper_proto(env, func_id)
    prog = env.info.prog
    if not prog.gpl_compatible and proto.gpl_only:
        raise reject("cannot call GPL-restricted function from non-GPL compatible program", EINVAL)
    if proto.allowed and not helper_allowed(proto, env.prog_type, env.penv):
        raise reject("helper call is not allowed in probe", EINVAL)
    if not env.cur.in_sleepable and proto.might_sleep:
        raise reject("helper call might sleep in a non-sleepable prog", EINVAL)
    meta = CallMeta(func_id=func_id, pkt_access=proto.pkt_access)
    env.seen_helpers.add(func_id)
    env.aux[env.insn_idx].helper_id = func_id
    for arg in range(5):
        check_func_arg(env, arg, meta, proto)
    _record_func_map(env, meta)
    _record_func_key(env, meta)
    for i in range(meta.access_size):
        check_mem_access(env, meta.regno, i, 1, True, -1, False)
    regs = env.regs
    if meta.release_regno:
        _release(env, meta, regs[meta.release_regno])
    _special_cases(env, insn, meta)
    for i in range(6):
        mark_reg_not_init(regs[i])
        check_reg_arg(env, i, DST_OP_NO_MARK)
    _set_return(env, proto, meta)
    if meta.map_idx >= 0:
        m = env.maps[meta.map_idx]
        eat = env.penv.expected_attach_type or 0
        if not map_func_compatible(m.type, func_id, env.prog_type, eat):
            raise reject(
                f"cannot pass map_type {int(m.type)} into func {func_name(func_id)}#{func_id}",
                EINVAL,
            )
    if func_id == F["tail_call"] and prog_has_stack_args(env):
        raise reject("tail_calls are not allowed in programs with stack args", EINVAL)
    if func_id == F["get_func_ip"]:
        check_get_func_ip(env)
    changes_data = func_id in PKT_CHANGERS
    if func_id == F["tail_call"] and env.cur.curframe:
        _tail_call_exit(env)
        changes_data = True
    if changes_data:
        clear_all_pkt_pointers(env)


def _tail_call_exit(env: Env) -> None:
    """A tail call in a subprogram (6.18): the path that takes it leaves the subprogram with
    an unknown R0 (the target program's return value); the path where it fails goes on with
    the next instruction, pushed as a branch."""
    from bpfvm.verifier.subprog import prepare_func_exit

    env.mark_reg_scratched(0)
    push_stack_hook(env, env.insn_idx + 1, env.insn_idx, False)
    clear_all_pkt_pointers(env)
    mark_reg_unknown(env.regs[0])
    prepare_func_exit(env)
    env.insn_idx -= 1  # do_check_insn steps past the call: land on the return site


_TRAMPOLINE_ATTACH = frozenset({
    AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN,
    AttachType.TRACE_FSESSION, AttachType.TRACE_FENTRY_MULTI, AttachType.TRACE_FEXIT_MULTI,
    AttachType.TRACE_FSESSION_MULTI,
})  # fmt: skip


def check_get_func_ip(env: Env) -> None:
    """``check_get_func_ip``: kprobes and trampoline-based tracing programs only."""
    fid = F["get_func_ip"]
    if env.prog_type == ProgType.TRACING:
        eat = env.info.prog.expected_attach_type
        if eat is None or int(eat) not in _TRAMPOLINE_ATTACH:
            raise reject(
                f"func {func_name(fid)}#{fid} supported only for fentry/fexit/fsession/fmod_ret "
                "programs",
                ENOTSUPP,
            )
        return
    if env.prog_type == ProgType.KPROBE:
        return
    raise reject(
        f"func {func_name(fid)}#{fid} not supported for program type {env.prog_type}", ENOTSUPP
    )


def _release(env: Env, meta: CallMeta, reg: RegState) -> None:
    if meta.ref_obj_id:
        release_reference(env, meta.ref_obj_id)
    elif not (reg.type == SCALAR_VALUE and reg.is_const and reg.const_value == 0):
        raise reject(
            f"func {func_name(meta.func_id)}#{meta.func_id} reference has not been acquired before",
            EINVAL,
        )


def _special_cases(env: Env, insn: Insn, meta: CallMeta) -> None:
    from bpfvm.verifier.check_exit import check_resource_leak
    from bpfvm.verifier.subprog import push_callback_call

    regs = env.regs
    fid = meta.func_id
    if fid == F["tail_call"]:
        check_resource_leak(env, False, True, "tail_call")
    elif fid == F["get_local_storage"]:
        r2 = regs[2]
        if not (r2.type == SCALAR_VALUE and r2.is_const and r2.const_value == 0):
            raise reject("get_local_storage() doesn't support non-zero flags", EINVAL)
    elif fid in _CALLBACK_HELPERS:
        push_callback_call(env, insn, meta.subprogno, fid)
    elif fid == F["loop"]:
        update_loop_inline_state(env, meta.subprogno)
        mark_chain_precision(env, 1)
        f = env.frame
        if f.callback_depth < regs[1].s.umax:
            push_callback_call(env, insn, meta.subprogno, fid)
        else:
            f.callback_depth = 0
            if env.log.level2:
                env.verbose(f"frame{env.cur.curframe} bpf_loop iteration limit reached\n")


def _set_return(env: Env, proto: HelperProto, meta: CallMeta) -> None:
    r0 = env.regs[0]
    ret = proto.ret
    flags = int(ret.flags)
    base = ret.base
    fid = meta.func_id
    if base == RetBase.INTEGER:
        mark_reg_unknown(r0)
    elif base == RetBase.VOID:
        r0.type = NOT_INIT
    elif base == RetBase.PTR_TO_MAP_VALUE:
        mark_reg_known(r0, 0)
        m = env.maps[meta.map_idx]
        if (
            fid == F["map_lookup_elem"]
            and m.type in (MapType.ARRAY, MapType.PERCPU_ARRAY)
            and 0 <= meta.const_map_key < m.max_entries
        ):
            flags &= ~PTR_MAYBE_NULL
        r0.map_idx = meta.map_idx
        r0.type = PTR_TO_MAP_VALUE | flags
        if not flags & PTR_MAYBE_NULL and meta.map_idx in env.spin_lock_maps():
            r0.id = env.new_id()
    elif base in (RetBase.PTR_TO_SOCKET, RetBase.PTR_TO_SOCK_COMMON, RetBase.PTR_TO_TCP_SOCK):
        mark_reg_known(r0, 0)
        rt = {RetBase.PTR_TO_SOCKET: PTR_TO_SOCKET, RetBase.PTR_TO_SOCK_COMMON: PTR_TO_SOCK_COMMON,
              RetBase.PTR_TO_TCP_SOCK: PTR_TO_TCP_SOCK}[base]  # fmt: skip
        r0.type = rt | flags
    elif base == RetBase.PTR_TO_MEM:
        mark_reg_known(r0, 0)
        r0.type = PTR_TO_MEM | flags
        r0.mem_size = meta.mem_size
    else:
        raise reject(f"unknown return type {int(base)} of func {func_name(fid)}#{fid}", EINVAL)
    if r0.type & PTR_MAYBE_NULL:
        r0.id = env.new_id()
    if fid in _PTR_CAST:
        r0.ref_obj_id = meta.ref_obj_id
    elif fid in _ACQUIRE:
        id_ = acquire_reference(env, env.insn_idx)
        r0.id = id_
        r0.ref_obj_id = id_
    _refine_retval(env, r0, proto, meta)


def _refine_retval(env: Env, r0: RegState, proto: HelperProto, meta: CallMeta) -> None:
    """``do_refine_retval_range``."""
    if proto.ret.base != RetBase.INTEGER or proto.ret.flags:
        return
    fid = meta.func_id
    s = r0.s
    if fid in (F["get_stack"], F["get_task_stack"], F["probe_read_str"],
               F["probe_read_kernel_str"], F["probe_read_user_str"]):  # fmt: skip
        mx = meta.msize_max_value
        s = Scalar(s.var_off, -MAX_ERRNO, mx, s.umin, s.umax, -MAX_ERRNO, _s32(mx), s.u32_min,
                   s.u32_max)  # fmt: skip
        r0.s = reg_bounds_sync(s)
    elif fid == F["get_smp_processor_id"]:
        n = env.nr_cpu_ids - 1
        r0.s = reg_bounds_sync(Scalar(s.var_off, 0, n, 0, n, 0, n, 0, n))


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def check_func_arg(env: Env, arg: int, meta: CallMeta, proto: HelperProto) -> None:
    """``check_func_arg``."""
    regno = arg + 1
    at = proto.arg(regno)
    if at.base == ArgBase.DONTCARE:
        return
    check_reg_arg(env, regno, SRC_OP)
    reg = env.regs[regno]
    if at.base == ArgBase.ANYTHING:
        return
    if reg.type in (PTR_TO_PACKET, PTR_TO_PACKET_META) and not _may_access_pkt(env, meta):
        raise reject("helper access to the packet is not allowed", EACCES)
    at = _resolve_map_arg(env, meta, at)
    is_null = reg.type == SCALAR_VALUE and reg.is_const and reg.const_value == 0
    if not (is_null and at.may_be_null):
        _check_reg_type(env, regno, at, meta)
        _check_arg_reg_off(env, reg, regno, at)
    if TypeFlag.OBJ_RELEASE in at.flags:
        if not reg.ref_obj_id and not is_null:
            raise reject(f"R{regno} must be referenced when passed to release function", EINVAL)
        meta.release_regno = regno
    if reg.ref_obj_id and at.base != ArgBase.KPTR_XCHG_DEST:
        if meta.ref_obj_id:
            raise reject(
                f"more than one arg with ref_obj_id R{regno} {reg.ref_obj_id} {meta.ref_obj_id}",
                EACCES,
            )
        meta.ref_obj_id = reg.ref_obj_id
    _check_arg_by_type(env, regno, reg, at, meta, proto, arg)


def _may_access_pkt(env: Env, meta: CallMeta) -> bool:
    from bpfvm.platform.prog_types import PacketAccess

    spec = env.spec
    if spec is None or spec.packet is PacketAccess.NONE:
        return False
    return meta.pkt_access


def _resolve_map_arg(env: Env, meta: CallMeta, at: ArgType) -> ArgType:
    """``resolve_map_arg_type``."""
    if at.base != ArgBase.PTR_TO_MAP_VALUE or meta.map_idx < 0:
        return at
    m = env.maps[meta.map_idx]
    if m.type in (MapType.SOCKMAP, MapType.SOCKHASH):
        if at.flags:
            raise reject("invalid arg_type for sockmap/sockhash", EINVAL)
        return ArgType(ArgBase.PTR_TO_BTF_ID_SOCK_COMMON)
    if m.type == MapType.BLOOM_FILTER and meta.func_id == F["map_peek_elem"]:
        return ArgType(ArgBase.PTR_TO_MAP_VALUE)
    return at


def _check_reg_type(env: Env, regno: int, at: ArgType, meta: CallMeta) -> None:
    """``check_reg_type``."""
    reg = env.regs[regno]
    t = reg.type
    if TypeFlag.MEM_RDONLY in at.flags:
        t &= ~MEM_RDONLY
    if at.may_be_null:
        t &= ~PTR_MAYBE_NULL
    if at.base == ArgBase.PTR_TO_MEM:
        t &= ~int(
            TypeFlag.DYNPTR_TYPE_LOCAL | TypeFlag.DYNPTR_TYPE_RINGBUF | TypeFlag.DYNPTR_TYPE_SKB
            | TypeFlag.DYNPTR_TYPE_XDP | TypeFlag.DYNPTR_TYPE_SKB_META
        )  # fmt: skip
    compatible = COMPATIBLE.get(at.base)
    if compatible is None:
        raise reject(f"R{regno} type={reg_type_str(reg.type)} unsupported argument", EACCES)
    if t in compatible:
        if reg.base == PTR_TO_BTF_ID:
            raise reject(
                f"R{regno} is of type {reg.btf_name} but a trusted type is expected", EACCES
            )
        return
    names = ", ".join(reg_type_str(x) for x in compatible)
    raise reject(f"R{regno} type={reg_type_str(reg.type)} expected={names}", EACCES)


def _check_arg_reg_off(env: Env, reg: RegState, regno: int, at: ArgType) -> None:
    """``check_func_arg_reg_off``."""
    if TypeFlag.OBJ_RELEASE in at.flags:
        if at.base == ArgBase.PTR_TO_DYNPTR and reg.type == PTR_TO_STACK:
            return
        if reg.off:
            raise reject(
                f"R{regno} must have zero offset when passed to release func or trusted arg to "
                "kfunc",
                EINVAL,
            )
        check_ptr_off_reg(env, reg, regno, False)
        return
    if reg.type in _OFF_OK:
        return
    check_ptr_off_reg(env, reg, regno, reg.base == PTR_TO_BTF_ID)


def _check_arg_by_type(
    env: Env,
    regno: int,
    reg: RegState,
    at: ArgType,
    meta: CallMeta,
    proto: HelperProto,
    arg: int,
) -> None:
    b = at.base
    if b == ArgBase.CONST_MAP_PTR:
        meta.map_idx = reg.map_idx
    elif b == ArgBase.PTR_TO_MAP_KEY:
        m = env.maps[meta.map_idx]
        check_helper_mem_access(env, regno, m.key_size, False, False, None)
        if m.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
            meta.const_map_key = constant_map_key(env, reg, m.key_size)
    elif b == ArgBase.PTR_TO_MAP_VALUE:
        if at.may_be_null and reg.type == SCALAR_VALUE and reg.is_const and not reg.const_value:
            return
        m = env.maps[meta.map_idx]
        meta.raw_mode = TypeFlag.MEM_UNINIT in at.flags
        write = TypeFlag.MEM_WRITE in at.flags
        check_helper_mem_access(env, regno, m.value_size, write, False, meta)
    elif b == ArgBase.PTR_TO_FUNC:
        meta.subprogno = reg.subprogno
    elif b == ArgBase.PTR_TO_MEM:
        meta.raw_mode = TypeFlag.MEM_UNINIT in at.flags
        size = proto.arg_size(regno)
        if size is not None:
            check_helper_mem_access(env, regno, size, TypeFlag.MEM_WRITE in at.flags, False, meta)
    elif b in (ArgBase.CONST_SIZE, ArgBase.CONST_SIZE_OR_ZERO):
        prev = proto.arg(regno - 1)
        check_mem_size_reg(
            env,
            reg,
            regno,
            TypeFlag.MEM_WRITE in prev.flags,
            b == ArgBase.CONST_SIZE_OR_ZERO,
            meta,
        )
    elif b == ArgBase.CONST_ALLOC_SIZE_OR_ZERO:
        if reg.s.var_off.mask:
            raise reject(f"R{regno} is not a known constant'", EACCES)
        meta.mem_size = reg.s.var_off.value
        mark_chain_precision(env, regno)
    elif b == ArgBase.PTR_TO_SPIN_LOCK:
        process_spin_lock(env, regno, meta.func_id == F["spin_lock"])
    elif b == ArgBase.PTR_TO_CONST_STR:
        check_const_str(env, reg, regno)
    elif b in (ArgBase.PTR_TO_DYNPTR, ArgBase.PTR_TO_TIMER, ArgBase.KPTR_XCHG_DEST,
               ArgBase.PTR_TO_PERCPU_BTF_ID):  # fmt: skip
        raise reject(
            f"R{regno} type={reg_type_str(reg.type)} is not supported by bpfvm yet", ENOTSUPP
        )


def _record_func_map(env: Env, meta: CallMeta) -> None:
    """``record_func_map``."""
    fid = meta.func_id
    if fid not in _MAP_HELPERS or meta.map_idx < 0:
        return
    m = env.maps[meta.map_idx]
    if m.map_flags & BPF_F_RDONLY_PROG and fid in _MAP_WRITERS:
        raise reject("write into map forbidden", EACCES)
    aux = env.aux[env.insn_idx]
    aux.map_idx = meta.map_idx if aux.map_idx in (-1, meta.map_idx) else -2


def _record_func_key(env: Env, meta: CallMeta) -> None:
    """``record_func_key``: a tail call's constant index becomes precise."""
    if meta.func_id != F["tail_call"]:
        return
    if meta.map_idx < 0 or env.maps[meta.map_idx].type != MapType.PROG_ARRAY:
        raise reject("expected prog array map for tail call", EINVAL, newline=False)
    r3 = env.regs[3]
    aux = env.aux[env.insn_idx]
    if not (r3.s.var_off.mask == 0 and r3.s.var_off.value < env.maps[meta.map_idx].max_entries):
        aux.map_key = -1
        return
    mark_chain_precision(env, 3)
    val = r3.s.var_off.value
    if aux.map_key is None:
        aux.map_key = val
    elif aux.map_key != val:
        aux.map_key = -1


def clear_all_pkt_pointers(env: Env) -> None:
    """``clear_all_pkt_pointers``: helpers that move packet data invalidate packet pointers."""
    for f in env.cur.frame:
        for reg in f.regs:
            if reg.type in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END):
                mark_reg_unknown(reg)
        for slot in f.stack:
            r = slot.spilled
            if slot.is_spilled_reg and r.type in (PTR_TO_PACKET, PTR_TO_PACKET_META,
                                                  PTR_TO_PACKET_END):  # fmt: skip
                mark_reg_unknown(r)
