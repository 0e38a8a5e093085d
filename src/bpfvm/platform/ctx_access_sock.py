"""``is_valid_access`` of the socket-level program types: ``sock_filter`` (CGROUP_SOCK),
``sock_addr``, ``sk_msg``, ``sk_reuseport`` and ``sk_lookup`` (net/core/filter.c, Linux 6.18)."""

from __future__ import annotations

from collections.abc import Callable

from bpfvm.platform.access_info import AccessInfo, narrow_ok
from bpfvm.platform.arg_types import (
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_SOCK_COMMON_OR_NULL,
    PTR_TO_SOCKET,
    PTR_TO_SOCKET_OR_NULL,
)
from bpfvm.platform.ctx_layouts import (
    BPF_SK_LOOKUP,
    BPF_SOCK,
    BPF_SOCK_ADDR,
    BPF_SOCK_OPS,
    SK_MSG_MD,
    SK_REUSEPORT_MD,
    CtxLayout,
)
from bpfvm.platform.env import ProgEnv
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import ProgType as Pt

ValidAccess = Callable[[int, int, bool, ProgEnv, AccessInfo], bool]


def _rng(layout: CtxLayout, first: str, last: str | None = None) -> range:
    return range(layout.offsetof(first), layout.offsetofend(last or first))


def _attach(env: ProgEnv, default: int) -> int:
    return default if env.expected_attach_type is None else env.expected_attach_type


_S = BPF_SOCK
_SOCK_NARROW = (_rng(_S, "src_ip4"), _rng(_S, "src_ip6[0]", "src_ip6[3]"), _rng(_S, "dst_ip4"),
                _rng(_S, "dst_ip6[0]", "dst_ip6[3]"))  # fmt: skip
_SOCK_NARROW_AT = frozenset(
    _S.offsetof(f) for f in ("state", "family", "type", "protocol", "src_port", "rx_queue_mapping")
)
_DST_PORT = _rng(_S, "dst_port")
_DST_PORT_PAD = range(_S.offsetofend("dst_port"), _S.offsetof("dst_ip4"))


def _bpf_sock(off: int, size: int, info: AccessInfo) -> bool:
    """``bpf_sock_is_valid_access``."""
    if off < 0 or off >= _S.size or off % size:
        return False
    if off in _SOCK_NARROW_AT or any(off in r for r in _SOCK_NARROW):
        info.field_size = 4
        return narrow_ok(size, 4)
    if off in _DST_PORT:
        info.field_size = 4 if size == 4 else 2
        return narrow_ok(size, info.field_size)
    if off in _DST_PORT_PAD:
        return False
    return size == 4


_TCP_SOCK_END = 112  # offsetofend(struct bpf_tcp_sock, icsk_retransmits)
_TCP_SOCK_U64 = (80, 88)  # bytes_received, bytes_acked
_XDP_SOCK_END = 4  # offsetofend(struct bpf_xdp_sock, queue_id)
_SOCK_COMMON_HIDDEN = range(_S.offsetof("type"), _S.offsetofend("priority"))


def sock_pointer_valid_access(kind: str, off: int, size: int, info: AccessInfo) -> bool:
    """Reads through a socket pointer (``kind``: ``sock_common``, ``sock``, ``tcp_sock``,
    ``xdp_sock``): ``bpf_sock_common_is_valid_access``, ``bpf_sock_is_valid_access``,
    ``bpf_tcp_sock_is_valid_access``, ``bpf_xdp_sock_is_valid_access``."""
    if kind == "sock_common":
        return off not in _SOCK_COMMON_HIDDEN and _bpf_sock(off, size, info)
    if kind == "sock":
        return _bpf_sock(off, size, info)
    end = _TCP_SOCK_END if kind == "tcp_sock" else _XDP_SOCK_END
    if off < 0 or off >= end or off % size:
        return False
    return size == (8 if kind == "tcp_sock" and off in _TCP_SOCK_U64 else 4)


_SOCK_CREATE = (At.CGROUP_INET_SOCK_CREATE, At.CGROUP_INET_SOCK_RELEASE)
_POST_BIND = (At.CGROUP_INET4_POST_BIND, At.CGROUP_INET6_POST_BIND)


def _cg_sock(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    """``sock_filter_is_valid_access`` with ``__sock_filter_check_attach_type``."""
    if not _bpf_sock(off, size, info):
        return False
    eat = _attach(env, At.CGROUP_INET_SOCK_CREATE)
    if off in (_S.offsetof("bound_dev_if"), _S.offsetof("mark"), _S.offsetof("priority")):
        return eat in _SOCK_CREATE
    gated = (
        (_rng(_S, "src_ip4"), (At.CGROUP_INET4_POST_BIND,)),
        (_rng(_S, "src_ip6[0]", "src_ip6[3]"), (At.CGROUP_INET6_POST_BIND,)),
        (_rng(_S, "src_port"), _POST_BIND),
    )
    for r, allowed in gated:
        if off in r and eat not in allowed:
            return False
    return not write


_A = BPF_SOCK_ADDR
_IP4_ADDR = (
    At.CGROUP_INET4_BIND,
    At.CGROUP_INET4_CONNECT,
    At.CGROUP_INET4_GETPEERNAME,
    At.CGROUP_INET4_GETSOCKNAME,
    At.CGROUP_UDP4_SENDMSG,
    At.CGROUP_UDP4_RECVMSG,
)
_IP6_ADDR = (
    At.CGROUP_INET6_BIND,
    At.CGROUP_INET6_CONNECT,
    At.CGROUP_INET6_GETPEERNAME,
    At.CGROUP_INET6_GETSOCKNAME,
    At.CGROUP_UDP6_SENDMSG,
    At.CGROUP_UDP6_RECVMSG,
)
_ADDR_FIELDS = (
    (_rng(_A, "user_ip4"), _IP4_ADDR),
    (_rng(_A, "user_ip6[0]", "user_ip6[3]"), _IP6_ADDR),
    (_rng(_A, "msg_src_ip4"), (At.CGROUP_UDP4_SENDMSG,)),
    (_rng(_A, "msg_src_ip6[0]", "msg_src_ip6[3]"), (At.CGROUP_UDP6_SENDMSG,)),
)  # fmt: skip
_WIDE = (_rng(_A, "user_ip6[0]", "user_ip6[3]"), _rng(_A, "msg_src_ip6[0]", "msg_src_ip6[3]"))
_READ_ONLY_U32 = (_rng(_A, "user_family"), _rng(_A, "family"), _rng(_A, "type"),
                  _rng(_A, "protocol"))  # fmt: skip


def _wide_ok(off: int, size: int, r: range) -> bool:
    """``bpf_ctx_wide_access_ok``: an aligned u64 access inside an array of u32."""
    return size == 8 and off >= r.start and off + 8 <= r.stop and off % 8 == 0


def _sock_addr(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off < 0 or off >= _A.size or off % size:
        return False
    eat = _attach(env, 0)
    for r, allowed in _ADDR_FIELDS:
        if off in r and eat not in allowed:
            return False
    if any(off in r for r, _ in _ADDR_FIELDS) or off in _rng(_A, "user_port"):
        if not write:
            info.field_size = 4
        if any(_wide_ok(off, size, r) for r in _WIDE):
            return True
        return narrow_ok(size, 4) if not write else size == 4
    if off in _rng(_A, "sk"):
        info.reg_type = PTR_TO_SOCKET
        return not write and size == 8
    if any(off in r for r in _READ_ONLY_U32):
        return not write and size == 4
    return False


_M = SK_MSG_MD


def _sk_msg(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if write or off % size:
        return False
    pointers = ((_rng(_M, "data"), PTR_TO_PACKET), (_rng(_M, "data_end"), PTR_TO_PACKET_END),
                (_rng(_M, "sk"), PTR_TO_SOCKET))  # fmt: skip
    for r, reg in pointers:
        if off in r:
            info.reg_type = reg
            return size == 8
    u32 = _rng(_M, "family", "size")  # family .. size: all __u32
    return off in u32 and size == 4


_R = SK_REUSEPORT_MD


def _sk_reuseport(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off < 0 or off >= _R.size or off % size or write:
        return False
    pointers = {"data": PTR_TO_PACKET, "data_end": PTR_TO_PACKET_END, "sk": PTR_TO_SOCKET,
                "migrating_sk": PTR_TO_SOCK_COMMON_OR_NULL}  # fmt: skip
    for name, reg in pointers.items():
        if off == _R.offsetof(name):
            info.reg_type = reg
            return size == 8
    if off == _R.offsetof("hash"):
        return size == 4
    if off in _rng(_R, "eth_protocol") and size < 2:  # sizeof(skb->protocol)
        return False
    if off in _rng(_R, "len", "bind_inany"):
        info.field_size = 4
        return narrow_ok(size, 4)
    return False


_L = BPF_SK_LOOKUP
_LOOKUP_U32 = (_rng(_L, "family"), _rng(_L, "protocol"), _rng(_L, "remote_ip4"),
               _rng(_L, "local_ip4"), _rng(_L, "remote_ip6[0]", "remote_ip6[3]"),
               _rng(_L, "local_ip6[0]", "local_ip6[3]"), _rng(_L, "local_port"),
               _rng(_L, "ingress_ifindex"))  # fmt: skip


def _sk_lookup(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off < 0 or off >= _L.size or off % size or write:
        return False
    if off in _rng(_L, "sk"):
        info.reg_type = PTR_TO_SOCKET_OR_NULL
        return size == 8
    if any(off in r for r in _LOOKUP_U32):
        info.field_size = 4
        return narrow_ok(size, 4)
    if off in _rng(_L, "remote_port"):
        if size == 4:  # 4-byte access to the 2-byte field, for backward compatibility
            return True
        info.field_size = 2
        return narrow_ok(size, 2)
    if off in range(_L.offsetofend("remote_port"), _L.offsetof("local_ip4")):
        info.field_size = 2  # the zero padding after remote_port reads as 0
        return narrow_ok(size, 2)
    return False


_O = BPF_SOCK_OPS
_OPS_WRITABLE = frozenset((_O.offsetof("args"), _O.offsetof("sk_txhash")))  # reply, sk_txhash
_OPS_U64 = (_rng(_O, "bytes_received", "bytes_acked"), _rng(_O, "skb_hwtstamp"))
_OPS_PTRS = ((_rng(_O, "sk"), PTR_TO_SOCKET_OR_NULL), (_rng(_O, "skb_data"), PTR_TO_PACKET),
             (_rng(_O, "skb_data_end"), PTR_TO_PACKET_END))  # fmt: skip
_OPS_TCP_FLAGS = _O.offsetof("skb_tcp_flags")


def _sock_ops(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    """``sock_ops_is_valid_access``."""
    if off < 0 or off >= _O.size or off % size:
        return False
    if write:
        return off in _OPS_WRITABLE and size == 4
    if any(off in r for r in _OPS_U64):
        return size == 8
    for r, reg in _OPS_PTRS:
        if off in r:
            if size != 8:
                return False
            info.reg_type = reg
            return True
    if off == _OPS_TCP_FLAGS:
        info.field_size = 4
        return narrow_ok(size, 4)
    return size == 4


_BY_TYPE: dict[Pt, ValidAccess] = {
    Pt.CGROUP_SOCK: _cg_sock,
    Pt.CGROUP_SOCK_ADDR: _sock_addr,
    Pt.SK_MSG: _sk_msg,
    Pt.SK_REUSEPORT: _sk_reuseport,
    Pt.SK_LOOKUP: _sk_lookup,
    Pt.SOCK_OPS: _sock_ops,
}


def sock_valid_access(prog_type: Pt) -> ValidAccess:
    """The ``is_valid_access`` of one socket-level program type."""
    return _BY_TYPE[prog_type]
