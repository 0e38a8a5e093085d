"""Helper prototypes that work on sockets: lookups, socket options, sock_ops, sk_msg,
sockmap, reuseport, sk_lookup, sysctl and lirc (``net/core/{filter,sock_map}.c``,
``kernel/bpf/cgroup.c``, ``drivers/media/rc/bpf-lirc.c``; Linux 6.18)."""

from __future__ import annotations

from bpfvm.platform.arg_types import (
    ARG_ANYTHING,
    ARG_CONST_MAP_PTR,
    ARG_CONST_SIZE,
    ARG_CONST_SIZE_OR_ZERO,
    ARG_PTR_TO_BTF_ID_SOCK_COMMON,
    ARG_PTR_TO_CTX,
    ARG_PTR_TO_CTX_OR_NULL,
    ARG_PTR_TO_FIXED_SIZE_MEM,
    ARG_PTR_TO_MAP_KEY,
    ARG_PTR_TO_MEM,
    ARG_PTR_TO_SOCK_COMMON,
    ARG_PTR_TO_SOCKET_OR_NULL,
    ARG_PTR_TO_UNINIT_MEM,
    MEM_RDONLY,
    MEM_WRITE,
    OBJ_RELEASE,
    RET_INTEGER,
    RET_PTR_TO_SOCK_COMMON_OR_NULL,
    RET_PTR_TO_SOCKET_OR_NULL,
    RET_PTR_TO_TCP_SOCK_OR_NULL,
    RetType,
)
from bpfvm.platform.proto import HelperProto, proto

_MEM_RO = ARG_PTR_TO_MEM | MEM_RDONLY
_CTX = ARG_PTR_TO_CTX
_ANY = ARG_ANYTHING
_LOOKUP = (_CTX, _MEM_RO, ARG_CONST_SIZE_OR_ZERO, _ANY, _ANY)
_SETSOCKOPT = (_ANY, _ANY, _MEM_RO, ARG_CONST_SIZE)
_GETSOCKOPT = (_ANY, _ANY, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE)
_SYNCOOKIE = (ARG_PTR_TO_BTF_ID_SOCK_COMMON, _MEM_RO, ARG_CONST_SIZE, _MEM_RO, ARG_CONST_SIZE)
_RAW_HDR = ARG_PTR_TO_FIXED_SIZE_MEM | MEM_RDONLY
_IPHDR, _IPV6HDR, _TCPHDR = 20, 40, 20


def _lookups(prefix: str, pkt: bool) -> tuple[HelperProto, ...]:
    """The three socket lookups of one flavour (``bpf_``, ``bpf_tc_``, ``bpf_xdp_``, ...)."""
    kinds: tuple[tuple[str, RetType], ...] = (
        ("skc_lookup_tcp", RET_PTR_TO_SOCK_COMMON_OR_NULL),
        ("sk_lookup_tcp", RET_PTR_TO_SOCKET_OR_NULL),
        ("sk_lookup_udp", RET_PTR_TO_SOCKET_OR_NULL),
    )
    return tuple(proto(f"{prefix}{h}_proto", h, ret, *_LOOKUP, pkt=pkt) for h, ret in kinds)


LOOKUP_PROTOS: tuple[HelperProto, ...] = (
    *_lookups("bpf_", True),
    *_lookups("bpf_tc_", True),
    *_lookups("bpf_xdp_", True),
    *_lookups("bpf_sock_addr_", False),
    proto("bpf_sk_release_proto", "sk_release", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE),
    proto("bpf_sk_fullsock_proto", "sk_fullsock", RET_PTR_TO_SOCKET_OR_NULL,
          ARG_PTR_TO_SOCK_COMMON),
    proto("bpf_tcp_sock_proto", "tcp_sock", RET_PTR_TO_TCP_SOCK_OR_NULL, ARG_PTR_TO_SOCK_COMMON),
    proto("bpf_get_listener_sock_proto", "get_listener_sock", RET_PTR_TO_SOCKET_OR_NULL,
          ARG_PTR_TO_SOCK_COMMON),
    proto("bpf_sk_assign_proto", "sk_assign", RET_INTEGER,
          _CTX, ARG_PTR_TO_BTF_ID_SOCK_COMMON, _ANY),
    proto("bpf_sk_lookup_assign_proto", "sk_assign", RET_INTEGER,
          _CTX, ARG_PTR_TO_SOCKET_OR_NULL, _ANY),
    proto("bpf_sk_cgroup_id_proto", "sk_cgroup_id", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON),
    proto("bpf_sk_ancestor_cgroup_id_proto", "sk_ancestor_cgroup_id", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON, _ANY),
    proto("bpf_tcp_check_syncookie_proto", "tcp_check_syncookie", RET_INTEGER, *_SYNCOOKIE,
          gpl=True, pkt=True),
    proto("bpf_tcp_gen_syncookie_proto", "tcp_gen_syncookie", RET_INTEGER, *_SYNCOOKIE,
          gpl=True, pkt=True),
    proto("bpf_tcp_raw_gen_syncookie_ipv4_proto", "tcp_raw_gen_syncookie_ipv4", RET_INTEGER,
          _RAW_HDR, _MEM_RO, ARG_CONST_SIZE_OR_ZERO, gpl=True, pkt=True,
          sizes=((1, _IPHDR),)),
    proto("bpf_tcp_raw_gen_syncookie_ipv6_proto", "tcp_raw_gen_syncookie_ipv6", RET_INTEGER,
          _RAW_HDR, _MEM_RO, ARG_CONST_SIZE_OR_ZERO, gpl=True, pkt=True,
          sizes=((1, _IPV6HDR),)),
    proto("bpf_tcp_raw_check_syncookie_ipv4_proto", "tcp_raw_check_syncookie_ipv4",
          RET_INTEGER, _RAW_HDR, _RAW_HDR, gpl=True, pkt=True,
          sizes=((1, _IPHDR), (2, _TCPHDR))),
    proto("bpf_tcp_raw_check_syncookie_ipv6_proto", "tcp_raw_check_syncookie_ipv6",
          RET_INTEGER, _RAW_HDR, _RAW_HDR, gpl=True, pkt=True,
          sizes=((1, _IPV6HDR), (2, _TCPHDR))),
)  # fmt: skip

COOKIE_PROTOS: tuple[HelperProto, ...] = tuple(
    proto(f"bpf_get_{helper}_{ctx}_proto", f"get_{helper}", RET_INTEGER, arg)
    for helper, arg, ctxs in (
        ("socket_cookie", _CTX, ("sock_addr", "sock", "sock_ops")),
        ("netns_cookie", ARG_PTR_TO_CTX_OR_NULL, ("sock", "sock_addr", "sock_ops", "sk_msg")),
    )
    for ctx in ctxs
)

SOCKOPT_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_sk_setsockopt_proto", "setsockopt", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON, *_SETSOCKOPT),
    proto("bpf_sk_getsockopt_proto", "getsockopt", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON, *_GETSOCKOPT),
    proto("bpf_unlocked_sk_setsockopt_proto", "setsockopt", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON, *_SETSOCKOPT),
    proto("bpf_unlocked_sk_getsockopt_proto", "getsockopt", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON, *_GETSOCKOPT),
    proto("bpf_sock_addr_setsockopt_proto", "setsockopt", RET_INTEGER, _CTX, *_SETSOCKOPT),
    proto("bpf_sock_addr_getsockopt_proto", "getsockopt", RET_INTEGER, _CTX, *_GETSOCKOPT),
    proto("bpf_sock_ops_setsockopt_proto", "setsockopt", RET_INTEGER, _CTX, *_SETSOCKOPT),
    proto("bpf_sock_ops_getsockopt_proto", "getsockopt", RET_INTEGER, _CTX, *_GETSOCKOPT),
    proto("bpf_sock_ops_cb_flags_set_proto", "sock_ops_cb_flags_set", RET_INTEGER, _CTX, _ANY),
    proto("bpf_sock_ops_load_hdr_opt_proto", "load_hdr_opt", RET_INTEGER,
          _CTX, ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE, _ANY),
    proto("bpf_sock_ops_store_hdr_opt_proto", "store_hdr_opt", RET_INTEGER,
          _CTX, _MEM_RO, ARG_CONST_SIZE, _ANY),
    proto("bpf_sock_ops_reserve_hdr_opt_proto", "reserve_hdr_opt", RET_INTEGER,
          _CTX, _ANY, _ANY),
    proto("bpf_bind_proto", "bind", RET_INTEGER, _CTX, _MEM_RO, ARG_CONST_SIZE),
)  # fmt: skip

MSG_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_msg_apply_bytes_proto", "msg_apply_bytes", RET_INTEGER, _CTX, _ANY),
    proto("bpf_msg_cork_bytes_proto", "msg_cork_bytes", RET_INTEGER, _CTX, _ANY),
    proto("bpf_msg_pull_data_proto", "msg_pull_data", RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    proto("bpf_msg_push_data_proto", "msg_push_data", RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    proto("bpf_msg_pop_data_proto", "msg_pop_data", RET_INTEGER, _CTX, _ANY, _ANY, _ANY),
    proto("bpf_sock_map_update_proto", "sock_map_update", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY, _ANY),
    proto("bpf_sock_hash_update_proto", "sock_hash_update", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY, _ANY),
    proto("bpf_sk_redirect_map_proto", "sk_redirect_map", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, _ANY, _ANY),
    proto("bpf_sk_redirect_hash_proto", "sk_redirect_hash", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY, _ANY),
    proto("bpf_msg_redirect_map_proto", "msg_redirect_map", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, _ANY, _ANY),
    proto("bpf_msg_redirect_hash_proto", "msg_redirect_hash", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY, _ANY),
    proto("sk_select_reuseport_proto", "sk_select_reuseport", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, ARG_PTR_TO_MAP_KEY, _ANY),
)  # fmt: skip

CGROUP_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_sysctl_get_name_proto", "sysctl_get_name", RET_INTEGER,
          _CTX, ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE, _ANY),
    proto("bpf_sysctl_get_current_value_proto", "sysctl_get_current_value", RET_INTEGER,
          _CTX, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE),
    proto("bpf_sysctl_get_new_value_proto", "sysctl_get_new_value", RET_INTEGER,
          _CTX, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE),
    proto("bpf_sysctl_set_new_value_proto", "sysctl_set_new_value", RET_INTEGER,
          _CTX, _MEM_RO, ARG_CONST_SIZE),
    proto("rc_repeat_proto", "rc_repeat", RET_INTEGER, _CTX, gpl=True),
    proto("rc_keydown_proto", "rc_keydown", RET_INTEGER, _CTX, _ANY, _ANY, _ANY, gpl=True),
    proto("rc_pointer_rel_proto", "rc_pointer_rel", RET_INTEGER, _CTX, _ANY, _ANY, gpl=True),
)  # fmt: skip

SOCK_PROTOS: tuple[HelperProto, ...] = (
    LOOKUP_PROTOS + COOKIE_PROTOS + SOCKOPT_PROTOS + MSG_PROTOS + CGROUP_PROTOS
)
