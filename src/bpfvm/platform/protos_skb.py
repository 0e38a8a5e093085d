"""Helper prototypes that work on packets: ``net/core/filter.c``'s skb and XDP helpers
(Linux 6.18)."""

from __future__ import annotations

from bpfvm.platform.arg_types import (
    ARG_ANYTHING,
    ARG_CONST_MAP_PTR,
    ARG_CONST_SIZE,
    ARG_CONST_SIZE_OR_ZERO,
    ARG_PTR_TO_CTX,
    ARG_PTR_TO_CTX_OR_NULL,
    ARG_PTR_TO_FIXED_SIZE_MEM,
    ARG_PTR_TO_MEM,
    ARG_PTR_TO_UNINIT_MEM,
    MEM_ALIGNED,
    MEM_RDONLY,
    MEM_WRITE,
    PTR_MAYBE_NULL,
    RET_INTEGER,
)
from bpfvm.platform.proto import HelperProto, proto

_MEM_RO = ARG_PTR_TO_MEM | MEM_RDONLY
_MEM_RO_OR_NULL = ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY
_CTX = ARG_PTR_TO_CTX
_ANY = ARG_ANYTHING
_LOAD = (_CTX, _ANY, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE)
_OUTPUT = (_CTX, ARG_CONST_MAP_PTR, _ANY, _MEM_RO, ARG_CONST_SIZE_OR_ZERO)
_MTU_OUT = ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE | MEM_ALIGNED


def _ctx_only(symbol: str, helper: str, nargs: int = 0) -> HelperProto:
    """A helper taking the context and ``nargs`` scalars, returning an integer."""
    return proto(symbol, helper, RET_INTEGER, _CTX, *([_ANY] * nargs))


SKB_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_skb_store_bytes_proto", "skb_store_bytes", RET_INTEGER,
          _CTX, _ANY, _MEM_RO, ARG_CONST_SIZE, _ANY),
    proto("bpf_skb_load_bytes_proto", "skb_load_bytes", RET_INTEGER, *_LOAD),
    proto("bpf_flow_dissector_load_bytes_proto", "skb_load_bytes", RET_INTEGER, *_LOAD),
    proto("sk_reuseport_load_bytes_proto", "skb_load_bytes", RET_INTEGER, *_LOAD),
    proto("bpf_skb_load_bytes_relative_proto", "skb_load_bytes_relative", RET_INTEGER,
          *_LOAD, _ANY),
    proto("sk_reuseport_load_bytes_relative_proto", "skb_load_bytes_relative", RET_INTEGER,
          *_LOAD, _ANY),
    _ctx_only("bpf_skb_pull_data_proto", "skb_pull_data", 1),
    _ctx_only("sk_skb_pull_data_proto", "skb_pull_data", 1),
    _ctx_only("bpf_l3_csum_replace_proto", "l3_csum_replace", 4),
    _ctx_only("bpf_l4_csum_replace_proto", "l4_csum_replace", 4),
    proto("bpf_csum_diff_proto", "csum_diff", RET_INTEGER,
          _MEM_RO_OR_NULL, ARG_CONST_SIZE_OR_ZERO, _MEM_RO_OR_NULL, ARG_CONST_SIZE_OR_ZERO, _ANY,
          pkt=True),
    _ctx_only("bpf_csum_update_proto", "csum_update", 1),
    _ctx_only("bpf_csum_level_proto", "csum_level", 1),
    _ctx_only("bpf_clone_redirect_proto", "clone_redirect", 2),
    proto("bpf_redirect_proto", "redirect", RET_INTEGER, _ANY, _ANY),
    proto("bpf_redirect_peer_proto", "redirect_peer", RET_INTEGER, _ANY, _ANY),
    proto("bpf_redirect_neigh_proto", "redirect_neigh", RET_INTEGER,
          _ANY, _MEM_RO_OR_NULL, ARG_CONST_SIZE_OR_ZERO, _ANY),
    _ctx_only("bpf_get_cgroup_classid_proto", "get_cgroup_classid"),
    _ctx_only("bpf_skb_cgroup_classid_proto", "skb_cgroup_classid"),
    _ctx_only("bpf_get_route_realm_proto", "get_route_realm"),
    _ctx_only("bpf_get_hash_recalc_proto", "get_hash_recalc"),
    _ctx_only("bpf_set_hash_invalid_proto", "set_hash_invalid"),
    _ctx_only("bpf_set_hash_proto", "set_hash", 1),
    _ctx_only("bpf_skb_vlan_push_proto", "skb_vlan_push", 2),
    _ctx_only("bpf_skb_vlan_pop_proto", "skb_vlan_pop"),
    _ctx_only("bpf_skb_change_proto_proto", "skb_change_proto", 2),
    _ctx_only("bpf_skb_change_type_proto", "skb_change_type", 1),
    _ctx_only("bpf_skb_adjust_room_proto", "skb_adjust_room", 3),
    _ctx_only("sk_skb_adjust_room_proto", "skb_adjust_room", 3),
    _ctx_only("bpf_skb_change_tail_proto", "skb_change_tail", 2),
    _ctx_only("sk_skb_change_tail_proto", "skb_change_tail", 2),
    _ctx_only("bpf_skb_change_head_proto", "skb_change_head", 2),
    _ctx_only("sk_skb_change_head_proto", "skb_change_head", 2),
    proto("bpf_skb_event_output_proto", "perf_event_output", RET_INTEGER, *_OUTPUT, gpl=True),
    proto("bpf_skb_get_tunnel_key_proto", "skb_get_tunnel_key", RET_INTEGER,
          _CTX, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, _ANY),
    proto("bpf_skb_get_tunnel_opt_proto", "skb_get_tunnel_opt", RET_INTEGER,
          _CTX, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE),
    proto("bpf_skb_set_tunnel_key_proto", "skb_set_tunnel_key", RET_INTEGER,
          _CTX, _MEM_RO, ARG_CONST_SIZE, _ANY),
    proto("bpf_skb_set_tunnel_opt_proto", "skb_set_tunnel_opt", RET_INTEGER,
          _CTX, _MEM_RO, ARG_CONST_SIZE),
    proto("bpf_skb_under_cgroup_proto", "skb_under_cgroup", RET_INTEGER,
          _CTX, ARG_CONST_MAP_PTR, _ANY),
    _ctx_only("bpf_skb_cgroup_id_proto", "skb_cgroup_id"),
    _ctx_only("bpf_skb_ancestor_cgroup_id_proto", "skb_ancestor_cgroup_id", 1),
    _ctx_only("bpf_get_socket_cookie_proto", "get_socket_cookie"),
    proto("bpf_get_netns_cookie_proto", "get_netns_cookie", RET_INTEGER,
          ARG_PTR_TO_CTX_OR_NULL),
    _ctx_only("bpf_get_socket_uid_proto", "get_socket_uid"),
    proto("bpf_skb_get_xfrm_state_proto", "skb_get_xfrm_state", RET_INTEGER,
          _CTX, _ANY, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, _ANY),
    proto("bpf_skb_fib_lookup_proto", "fib_lookup", RET_INTEGER,
          _CTX, ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE, _ANY, gpl=True),
    proto("bpf_skb_check_mtu_proto", "check_mtu", RET_INTEGER,
          _CTX, _ANY, _MTU_OUT, _ANY, _ANY, gpl=True, sizes=((3, 4),)),
    _ctx_only("bpf_skb_ecn_set_ce_proto", "skb_ecn_set_ce"),
    _ctx_only("bpf_skb_set_tstamp_proto", "skb_set_tstamp", 2),
    proto("bpf_lwt_in_push_encap_proto", "lwt_push_encap", RET_INTEGER,
          _CTX, _ANY, _MEM_RO, ARG_CONST_SIZE),
    proto("bpf_lwt_xmit_push_encap_proto", "lwt_push_encap", RET_INTEGER,
          _CTX, _ANY, _MEM_RO, ARG_CONST_SIZE),
    proto("bpf_lwt_seg6_store_bytes_proto", "lwt_seg6_store_bytes", RET_INTEGER,
          _CTX, _ANY, _MEM_RO, ARG_CONST_SIZE),
    proto("bpf_lwt_seg6_action_proto", "lwt_seg6_action", RET_INTEGER,
          _CTX, _ANY, _MEM_RO, ARG_CONST_SIZE),
    _ctx_only("bpf_lwt_seg6_adjust_srh_proto", "lwt_seg6_adjust_srh", 2),
)  # fmt: skip

XDP_PROTOS: tuple[HelperProto, ...] = (
    _ctx_only("bpf_xdp_adjust_head_proto", "xdp_adjust_head", 1),
    _ctx_only("bpf_xdp_adjust_tail_proto", "xdp_adjust_tail", 1),
    _ctx_only("bpf_xdp_adjust_meta_proto", "xdp_adjust_meta", 1),
    _ctx_only("bpf_xdp_get_buff_len_proto", "xdp_get_buff_len"),
    proto("bpf_xdp_load_bytes_proto", "xdp_load_bytes", RET_INTEGER, *_LOAD),
    proto("bpf_xdp_store_bytes_proto", "xdp_store_bytes", RET_INTEGER,
          _CTX, _ANY, _MEM_RO, ARG_CONST_SIZE),
    proto("bpf_xdp_redirect_proto", "redirect", RET_INTEGER, _ANY, _ANY),
    proto("bpf_xdp_redirect_map_proto", "redirect_map", RET_INTEGER,
          ARG_CONST_MAP_PTR, _ANY, _ANY),
    proto("bpf_xdp_event_output_proto", "perf_event_output", RET_INTEGER, *_OUTPUT, gpl=True),
    proto("bpf_xdp_fib_lookup_proto", "fib_lookup", RET_INTEGER,
          _CTX, ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE, _ANY, gpl=True),
    proto("bpf_xdp_check_mtu_proto", "check_mtu", RET_INTEGER,
          _CTX, _ANY, _MTU_OUT, _ANY, _ANY, gpl=True, sizes=((3, 4),)),
)  # fmt: skip

PACKET_PROTOS: tuple[HelperProto, ...] = SKB_PROTOS + XDP_PROTOS
