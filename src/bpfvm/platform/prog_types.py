"""Per program type: which helpers its ``get_func_proto`` hands out (and which prototype
variant), its context, the return values the verifier accepts, LD_ABS/LD_IND, direct packet
access and expected attach types (Linux 6.18).

Sources: the ``*_verifier_ops`` of net/core/filter.c and kernel/trace/bpf_trace.c;
``may_access_skb``, ``may_access_direct_pkt_data``, ``check_return_code`` and
``can_be_sleepable`` in kernel/bpf/verifier.c; ``bpf_prog_load_check_attach`` in
kernel/bpf/syscall.c.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from bpfvm.isa.helper_ids import HELPER_NAMES
from bpfvm.platform import func_protos_net as net
from bpfvm.platform import func_protos_trace as tr
from bpfvm.platform.env import ProgEnv
from bpfvm.platform.func_rules import Layer, Need, resolve
from bpfvm.platform.proto import HelperProto
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import ProgType as Pt


class PacketAccess(Enum):
    """Direct packet access through ctx->data pointers (``may_access_direct_pkt_data``)."""

    NONE = "none"
    READ = "read"
    READ_WRITE = "read_write"


@dataclass(frozen=True, slots=True)
class RetvalRule:
    """``check_return_code``: R0 must lie in ``[lo, hi]`` for these attach types.

    ``attach`` None matches any attach type; ``range`` None means no check.
    """

    range: tuple[int, int] | None
    attach: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class ProgTypeSpec:
    """What the kernel fixes for one program type.

    ``attach_types`` None: ``bpf_prog_load_check_attach`` accepts any expected attach type;
    otherwise only those. ``ctx`` names the UAPI context struct
    (:mod:`bpfvm.platform.ctx_layouts`).
    """

    prog_type: Pt
    name: str
    chain: tuple[Layer, ...]
    ctx: str
    ctx_size: int
    retval: tuple[RetvalRule, ...] = (RetvalRule(None),)
    ld_abs: bool = False
    packet: PacketAccess = PacketAccess.NONE
    attach_types: frozenset[int] | None = None
    default_attach_type: int = 0
    needs_attach_btf: bool = False
    sleepable_attach: frozenset[int] | None = frozenset()  # None = any attach type
    zero_means_default: bool = False  # bpf_prog_load_fixup_attach_type

    def attach_type(self, requested: int | None) -> int:
        """The expected attach type the kernel works with for a load requesting ``requested``
        (None: not given, which the UAPI sends as 0)."""
        if requested is None or (requested == 0 and self.zero_means_default):
            return self.default_attach_type
        return requested

    def accepts_attach_type(self, requested: int) -> bool:
        """``bpf_prog_load_check_attach``'s verdict on an expected attach type (for the
        BTF-attached types, which attach types exist at all; the target is checked later)."""
        return self.attach_types is None or self.attach_type(requested) in self.attach_types

    def return_range(self, attach_type: int | None = None) -> tuple[int, int] | None:
        """The range R0 must be in at exit, or None when the verifier does not check it."""
        eat = self.attach_type(attach_type)
        for r in self.retval:
            if r.attach is None or eat in r.attach:
                return r.range
        return None

    def can_be_sleepable(self, attach_type: int | None = None) -> bool:
        """``can_be_sleepable``: whether BPF_F_SLEEPABLE is allowed."""
        eat = self.attach_type(attach_type)
        return self.sleepable_attach is None or eat in self.sleepable_attach


_SKB_CTX, _SKB_SIZE = "__sk_buff", 192
_TRAMPOLINE = frozenset({At.TRACE_FENTRY, At.TRACE_FEXIT, At.MODIFY_RETURN})
_R01 = (RetvalRule((0, 1)),)

_SOCK_ADDR_ATTACH = frozenset({
    At.CGROUP_INET4_BIND, At.CGROUP_INET6_BIND, At.CGROUP_INET4_CONNECT,
    At.CGROUP_INET6_CONNECT, At.CGROUP_UNIX_CONNECT, At.CGROUP_INET4_GETPEERNAME,
    At.CGROUP_INET6_GETPEERNAME, At.CGROUP_UNIX_GETPEERNAME, At.CGROUP_INET4_GETSOCKNAME,
    At.CGROUP_INET6_GETSOCKNAME, At.CGROUP_UNIX_GETSOCKNAME, At.CGROUP_UDP4_SENDMSG,
    At.CGROUP_UDP6_SENDMSG, At.CGROUP_UNIX_SENDMSG, At.CGROUP_UDP4_RECVMSG,
    At.CGROUP_UDP6_RECVMSG, At.CGROUP_UNIX_RECVMSG,
})  # fmt: skip
_SOCK_ADDR_RET1 = frozenset({
    At.CGROUP_UDP4_RECVMSG, At.CGROUP_UDP6_RECVMSG, At.CGROUP_UNIX_RECVMSG,
    At.CGROUP_INET4_GETPEERNAME, At.CGROUP_INET6_GETPEERNAME, At.CGROUP_UNIX_GETPEERNAME,
    At.CGROUP_INET4_GETSOCKNAME, At.CGROUP_INET6_GETSOCKNAME, At.CGROUP_UNIX_GETSOCKNAME,
})  # fmt: skip

_SK = (net.SK_BASE, tr.BASE)
_TRACE = (tr.TRACING_BASE, tr.BASE)
_TRACING = (tr.TRACING, tr.RAW_TRACEPOINT, *_TRACE, tr.ITER_TARGETS)


_P = ProgTypeSpec
_SPECS: tuple[ProgTypeSpec, ...] = (
    _P(Pt.SOCKET_FILTER, "sk_filter", (net.SK_FILTER, *_SK), _SKB_CTX, _SKB_SIZE,
          ld_abs=True),
    _P(Pt.SCHED_CLS, "tc_cls_act", (net.TC_CLS_ACT, *_SK), _SKB_CTX, _SKB_SIZE,
          ld_abs=True, packet=PacketAccess.READ_WRITE),
    _P(Pt.SCHED_ACT, "tc_cls_act", (net.TC_CLS_ACT, *_SK), _SKB_CTX, _SKB_SIZE,
          ld_abs=True, packet=PacketAccess.READ_WRITE),
    _P(Pt.XDP, "xdp", (net.XDP, *_SK), "xdp_md", 24, packet=PacketAccess.READ_WRITE),
    _P(Pt.CGROUP_SKB, "cg_skb",
          (tr.CGROUP_COMMON, net.CG_SKB, net.SK_FILTER, *_SK), _SKB_CTX, _SKB_SIZE,
          retval=(RetvalRule((0, 3), frozenset({At.CGROUP_INET_EGRESS})), RetvalRule((0, 1))),
          packet=PacketAccess.READ,
          attach_types=frozenset({At.CGROUP_INET_INGRESS, At.CGROUP_INET_EGRESS})),
    _P(Pt.LWT_IN, "lwt_in", (net.LWT_IN, net.LWT_OUT, *_SK), _SKB_CTX, _SKB_SIZE,
          packet=PacketAccess.READ),
    _P(Pt.LWT_OUT, "lwt_out", (net.LWT_OUT, *_SK), _SKB_CTX, _SKB_SIZE,
          packet=PacketAccess.READ),
    _P(Pt.LWT_XMIT, "lwt_xmit", (net.LWT_XMIT, net.LWT_OUT, *_SK), _SKB_CTX, _SKB_SIZE,
          packet=PacketAccess.READ_WRITE),
    _P(Pt.LWT_SEG6LOCAL, "lwt_seg6local", (net.LWT_SEG6LOCAL, net.LWT_OUT, *_SK), _SKB_CTX,
          _SKB_SIZE, packet=PacketAccess.READ),
    _P(Pt.CGROUP_SOCK, "cg_sock", (tr.CGROUP_COMMON, net.SOCK_FILTER, tr.BASE), "bpf_sock",
          80, retval=_R01, default_attach_type=At.CGROUP_INET_SOCK_CREATE, zero_means_default=True,
          attach_types=frozenset({At.CGROUP_INET_SOCK_CREATE, At.CGROUP_INET_SOCK_RELEASE,
                                  At.CGROUP_INET4_POST_BIND, At.CGROUP_INET6_POST_BIND})),
    _P(Pt.CGROUP_SOCK_ADDR, "cg_sock_addr", (tr.CGROUP_COMMON, net.SOCK_ADDR, *_SK),
          "bpf_sock_addr", 72, attach_types=_SOCK_ADDR_ATTACH,
          retval=(RetvalRule((1, 1), _SOCK_ADDR_RET1),
                  RetvalRule((0, 3), frozenset({At.CGROUP_INET4_BIND, At.CGROUP_INET6_BIND})),
                  RetvalRule((0, 1)))),
    _P(Pt.SOCK_OPS, "sock_ops", (tr.CGROUP_COMMON, net.SOCK_OPS, *_SK), "bpf_sock_ops",
          224, retval=_R01),
    _P(Pt.SK_SKB, "sk_skb", (net.SK_SKB, *_SK), _SKB_CTX, _SKB_SIZE,
          packet=PacketAccess.READ_WRITE),
    _P(Pt.SK_MSG, "sk_msg", (net.SK_MSG, *_SK), "sk_msg_md", 80,
          packet=PacketAccess.READ_WRITE),
    _P(Pt.FLOW_DISSECTOR, "flow_dissector", (net.FLOW_DISSECTOR, *_SK), _SKB_CTX, _SKB_SIZE,
          packet=PacketAccess.READ),
    _P(Pt.SK_REUSEPORT, "sk_reuseport", (net.SK_REUSEPORT, tr.BASE), "sk_reuseport_md", 56,
          packet=PacketAccess.READ, default_attach_type=At.SK_REUSEPORT_SELECT,
          zero_means_default=True,
          attach_types=frozenset({At.SK_REUSEPORT_SELECT, At.SK_REUSEPORT_SELECT_OR_MIGRATE})),
    _P(Pt.SK_LOOKUP, "sk_lookup", (net.SK_LOOKUP, *_SK), "bpf_sk_lookup", 72,
          retval=_R01, attach_types=frozenset({At.SK_LOOKUP}), default_attach_type=At.SK_LOOKUP),
    _P(Pt.KPROBE, "kprobe", (tr.KPROBE, *_TRACE), "pt_regs", 168,
          retval=(RetvalRule((0, 1), frozenset({At.TRACE_KPROBE_SESSION,
                                                At.TRACE_UPROBE_SESSION})),
                  RetvalRule(None)),
          sleepable_attach=None),
    _P(Pt.TRACEPOINT, "tracepoint", (tr.TRACEPOINT, *_TRACE), "tracepoint", 8192),
    _P(Pt.PERF_EVENT, "perf_event", (tr.PERF_EVENT, *_TRACE), "bpf_perf_event_data", 184),
    _P(Pt.RAW_TRACEPOINT, "raw_tracepoint", (tr.RAW_TRACEPOINT, *_TRACE),
          "bpf_raw_tracepoint_args", 96),
    _P(Pt.TRACING, "tracing", _TRACING, "tracing_args", 96, needs_attach_btf=True,
          retval=(RetvalRule((0, 0), frozenset({At.TRACE_FENTRY, At.TRACE_FEXIT})),
                  RetvalRule(None, frozenset({At.TRACE_RAW_TP, At.MODIFY_RETURN})),
                  RetvalRule((0, 1))),
          default_attach_type=At.TRACE_FENTRY,
          attach_types=frozenset({At.TRACE_RAW_TP, At.TRACE_ITER, *_TRAMPOLINE}),
          sleepable_attach=frozenset({At.TRACE_ITER, *_TRAMPOLINE})),
    _P(Pt.LSM, "lsm", (tr.LSM_CGROUP_COMMON, tr.LSM, *_TRACING), "tracing_args", 96,
          needs_attach_btf=True, default_attach_type=At.LSM_MAC,
          attach_types=frozenset({At.LSM_MAC, At.LSM_CGROUP}), sleepable_attach=None),
    _P(Pt.SYSCALL, "syscall", (tr.SYSCALL, *_TRACING), "syscall_args", 0xFFFF,
          attach_types=frozenset({0}), sleepable_attach=None),
)  # fmt: skip

PROG_TYPES: Mapping[Pt, ProgTypeSpec] = MappingProxyType({s.prog_type: s for s in _SPECS})
"""Program types whose ``get_func_proto`` bpfvm models. Not modelled: CGROUP_DEVICE,
CGROUP_SYSCTL, CGROUP_SOCKOPT, LIRC_MODE2, RAW_TRACEPOINT_WRITABLE, STRUCT_OPS, EXT,
NETFILTER."""


def _prog_facts(spec: ProgTypeSpec, attach_type: int) -> Need:
    """bpf_prog_has_trampoline() and bpf_prog_check_recur() for this program."""
    facts = Need.NONE
    if (spec.prog_type is Pt.TRACING and attach_type in _TRAMPOLINE) or (
        spec.prog_type is Pt.LSM and attach_type == At.LSM_MAC
    ):
        facts |= Need.TRAMPOLINE
    if spec.prog_type is Pt.TRACING:
        recur = attach_type != At.TRACE_ITER
    else:
        recur = spec.prog_type not in (Pt.LSM, Pt.STRUCT_OPS)
    if recur:
        facts |= Need.RECUR
    return facts


def func_proto(prog_type: int, func_id: int, env: ProgEnv | None = None) -> HelperProto | None:
    """The prototype the program type's ``get_func_proto`` returns for ``func_id``.

    None means the verifier rejects the call with
    ``program of this type cannot use helper %s#%d`` (or the id is not a helper at all).
    """
    env = env or ProgEnv()
    spec = PROG_TYPES.get(Pt(prog_type))
    if spec is None:
        raise KeyError(f"program type {prog_type} is not modelled")
    if func_id not in HELPER_NAMES or func_id == 0:
        return None
    eat = spec.attach_type(env.expected_attach_type)
    return resolve(spec.chain, func_id, env, eat, _prog_facts(spec, eat))


_D_PATH_TARGETS = frozenset({
    "security_file_permission", "security_inode_getattr", "security_file_open",
    "security_path_truncate", "vfs_truncate", "vfs_fallocate", "dentry_open", "vfs_getattr",
    "filp_close",
})  # fmt: skip


def helper_allowed(proto: HelperProto, prog_type: int, env: ProgEnv | None = None) -> bool:
    """The prototype's ``fn->allowed`` check (``helper call is not allowed in probe``).

    ``bpf_lsm_is_sleepable_hook`` is approximated by the program being sleepable.
    """
    env = env or ProgEnv()
    spec = PROG_TYPES[Pt(prog_type)]
    eat = spec.attach_type(env.expected_attach_type)
    if proto.allowed == "bpf_d_path_allowed":
        if prog_type == Pt.TRACING and eat == At.TRACE_ITER:
            return True
        if prog_type == Pt.LSM:
            return env.sleepable
        return env.attach_func in _D_PATH_TARGETS
    if proto.allowed == "bpf_sk_storage_tracing_allowed":
        if eat in (At.TRACE_ITER, At.TRACE_RAW_TP):
            return True
        if eat in (At.TRACE_FENTRY, At.TRACE_FEXIT):
            return not env.attach_func.startswith("bpf_sk_storage")
        return False
    if proto.allowed == "bpf_ima_inode_hash_allowed":
        return env.sleepable
    return True


def available_helpers(prog_type: int, env: ProgEnv | None = None) -> Mapping[int, HelperProto]:
    """Every helper id the program type may call, with the prototype it gets."""
    found = {i: func_proto(prog_type, i, env) for i in HELPER_NAMES if i}
    return MappingProxyType({i: p for i, p in found.items() if p is not None})
