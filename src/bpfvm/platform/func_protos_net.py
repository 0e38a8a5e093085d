"""The ``get_func_proto`` switches of the networking program types (net/core/filter.c,
Linux 6.18)."""

from __future__ import annotations

from bpfvm.platform.func_rules import Layer, Need, layer, rule, same, simple
from bpfvm.program.uapi import AttachType as At

_SKC_TO = ("tcp6_sock", "tcp_sock", "tcp_timewait_sock", "tcp_request_sock", "udp6_sock",
           "unix_sock", "mptcp_sock")  # fmt: skip

SK_BASE = layer(
    "bpf_sk_base_func_proto",
    *same(*(f"skc_to_{t}" for t in _SKC_TO), needs=Need.CAP_PERFMON),
    *same("ktime_get_coarse_ns"),
)

SK_FILTER = layer(
    "sk_filter_func_proto",
    *same(
        "skb_load_bytes",
        "skb_load_bytes_relative",
        "get_socket_cookie",
        "get_netns_cookie",
        "get_socket_uid",
    ),
    *simple(("perf_event_output", "bpf_skb_event_output_proto")),
)

_SK_LOOKUPS = ("sk_lookup_tcp", "sk_lookup_udp", "skc_lookup_tcp")

CG_SKB = layer(
    "cg_skb_func_proto",
    *same(
        "sk_fullsock",
        "sk_storage_get",
        "sk_storage_delete",
        "skb_cgroup_id",
        "skb_ancestor_cgroup_id",
        "sk_cgroup_id",
        "sk_ancestor_cgroup_id",
        *_SK_LOOKUPS,
        "sk_release",
        "tcp_sock",
        "get_listener_sock",
        "skb_ecn_set_ce",
    ),
    *simple(("perf_event_output", "bpf_skb_event_output_proto")),
)

_SYNCOOKIES = ("tcp_check_syncookie", "tcp_gen_syncookie", "tcp_raw_gen_syncookie_ipv4",
               "tcp_raw_gen_syncookie_ipv6", "tcp_raw_check_syncookie_ipv4",
               "tcp_raw_check_syncookie_ipv6")  # fmt: skip

TC_CLS_ACT = layer(
    "tc_cls_act_func_proto",
    *same("skb_store_bytes", "skb_load_bytes", "skb_load_bytes_relative", "skb_pull_data",
          "csum_diff", "csum_update", "csum_level", "l3_csum_replace", "l4_csum_replace",
          "clone_redirect", "get_cgroup_classid", "skb_vlan_push", "skb_vlan_pop",
          "skb_adjust_room", "skb_change_tail", "skb_change_head", "skb_get_tunnel_key",
          "skb_set_tunnel_key", "skb_get_tunnel_opt", "skb_set_tunnel_opt", "redirect",
          "redirect_neigh", "redirect_peer", "get_route_realm", "get_hash_recalc",
          "set_hash_invalid", "set_hash", "get_smp_processor_id", "skb_under_cgroup",
          "get_socket_cookie", "get_netns_cookie", "get_socket_uid", "sk_fullsock",
          "sk_storage_get", "sk_storage_delete", "skb_cgroup_id", "skb_ancestor_cgroup_id",
          "sk_release", "tcp_sock", "get_listener_sock", "skb_ecn_set_ce", "sk_assign",
          "skb_set_tstamp", "skb_change_type", *_SYNCOOKIES),
    *simple(("skb_change_proto", "bpf_skb_change_proto_proto"),
            ("perf_event_output", "bpf_skb_event_output_proto"),
            ("fib_lookup", "bpf_skb_fib_lookup_proto"),
            ("check_mtu", "bpf_skb_check_mtu_proto"),
            *((h, f"bpf_tc_{h}_proto") for h in _SK_LOOKUPS)),
    ("skb_get_xfrm_state", rule("bpf_skb_get_xfrm_state_proto", Need.XFRM)),
    ("skb_cgroup_classid", rule("bpf_skb_cgroup_classid_proto", Need.CGROUP_NET_CLASSID)),
)  # fmt: skip

XDP = layer(
    "xdp_func_proto",
    *same("get_smp_processor_id", "csum_diff", "xdp_adjust_head", "xdp_adjust_meta",
          "xdp_adjust_tail", "xdp_get_buff_len", "xdp_load_bytes", "xdp_store_bytes",
          "sk_release", *_SYNCOOKIES),
    *simple(("perf_event_output", "bpf_xdp_event_output_proto"),
            ("redirect", "bpf_xdp_redirect_proto"),
            ("redirect_map", "bpf_xdp_redirect_map_proto"),
            ("fib_lookup", "bpf_xdp_fib_lookup_proto"),
            ("check_mtu", "bpf_xdp_check_mtu_proto"),
            *((h, f"bpf_xdp_{h}_proto") for h in _SK_LOOKUPS)),
)  # fmt: skip

LWT_OUT = layer(
    "lwt_out_func_proto",
    *same(
        "skb_load_bytes",
        "skb_pull_data",
        "csum_diff",
        "get_cgroup_classid",
        "get_route_realm",
        "get_hash_recalc",
        "get_smp_processor_id",
        "skb_under_cgroup",
    ),
    *simple(("perf_event_output", "bpf_skb_event_output_proto")),
)

LWT_IN = layer("lwt_in_func_proto", *simple(("lwt_push_encap", "bpf_lwt_in_push_encap_proto")))

LWT_XMIT = layer(
    "lwt_xmit_func_proto",
    *same("skb_get_tunnel_key", "skb_set_tunnel_key", "skb_get_tunnel_opt",
          "skb_set_tunnel_opt", "redirect", "clone_redirect", "skb_change_tail",
          "skb_change_head", "skb_store_bytes", "csum_update", "csum_level", "l3_csum_replace",
          "l4_csum_replace", "set_hash_invalid"),
    *simple(("lwt_push_encap", "bpf_lwt_xmit_push_encap_proto")),
)  # fmt: skip

LWT_SEG6LOCAL = layer(
    "lwt_seg6local_func_proto",
    *same("lwt_seg6_store_bytes", "lwt_seg6_action", "lwt_seg6_adjust_srh", needs=Need.SEG6_BPF),
)

SOCK_FILTER = layer(
    "sock_filter_func_proto",
    *simple(("get_socket_cookie", "bpf_get_socket_cookie_sock_proto"),
            ("get_netns_cookie", "bpf_get_netns_cookie_sock_proto"),
            ("perf_event_output", "bpf_event_output_data_proto"),
            ("sk_storage_get", "bpf_sk_storage_get_cg_sock_proto"),
            ("ktime_get_coarse_ns", "bpf_ktime_get_coarse_ns_proto")),
)  # fmt: skip

_CONNECT = (At.CGROUP_INET4_CONNECT, At.CGROUP_INET6_CONNECT)
_SOCKOPT_ATTACH = (
    At.CGROUP_INET4_BIND, At.CGROUP_INET6_BIND, *_CONNECT, At.CGROUP_UNIX_CONNECT,
    At.CGROUP_UDP4_RECVMSG, At.CGROUP_UDP6_RECVMSG, At.CGROUP_UNIX_RECVMSG,
    At.CGROUP_UDP4_SENDMSG, At.CGROUP_UDP6_SENDMSG, At.CGROUP_UNIX_SENDMSG,
    At.CGROUP_INET4_GETPEERNAME, At.CGROUP_INET6_GETPEERNAME, At.CGROUP_UNIX_GETPEERNAME,
    At.CGROUP_INET4_GETSOCKNAME, At.CGROUP_INET6_GETSOCKNAME, At.CGROUP_UNIX_GETSOCKNAME,
)  # fmt: skip

SOCK_ADDR = layer(
    "sock_addr_func_proto",
    ("bind", rule("bpf_bind_proto", attach=_CONNECT)),
    *simple(("get_socket_cookie", "bpf_get_socket_cookie_sock_addr_proto"),
            ("get_netns_cookie", "bpf_get_netns_cookie_sock_addr_proto"),
            ("perf_event_output", "bpf_event_output_data_proto"),
            *((h, f"bpf_sock_addr_{h}_proto") for h in _SK_LOOKUPS)),
    *same("sk_release", "sk_storage_get", "sk_storage_delete"),
    ("setsockopt", rule("bpf_sock_addr_setsockopt_proto", attach=_SOCKOPT_ATTACH)),
    ("getsockopt", rule("bpf_sock_addr_getsockopt_proto", attach=_SOCKOPT_ATTACH)),
)  # fmt: skip

SOCK_OPS = layer(
    "sock_ops_func_proto",
    *simple(("setsockopt", "bpf_sock_ops_setsockopt_proto"),
            ("getsockopt", "bpf_sock_ops_getsockopt_proto"),
            ("get_socket_cookie", "bpf_get_socket_cookie_sock_ops_proto"),
            ("perf_event_output", "bpf_event_output_data_proto"),
            ("get_netns_cookie", "bpf_get_netns_cookie_sock_ops_proto"),
            ("load_hdr_opt", "bpf_sock_ops_load_hdr_opt_proto"),
            ("store_hdr_opt", "bpf_sock_ops_store_hdr_opt_proto"),
            ("reserve_hdr_opt", "bpf_sock_ops_reserve_hdr_opt_proto")),
    *same("sock_ops_cb_flags_set", "sock_map_update", "sock_hash_update", "sk_storage_get",
          "sk_storage_delete", "tcp_sock"),
)  # fmt: skip

SK_MSG = layer(
    "sk_msg_func_proto",
    *same("msg_redirect_map", "msg_redirect_hash", "msg_apply_bytes", "msg_cork_bytes",
          "msg_pull_data", "msg_push_data", "msg_pop_data", "sk_storage_get",
          "sk_storage_delete"),
    *simple(("perf_event_output", "bpf_event_output_data_proto"),
            ("get_netns_cookie", "bpf_get_netns_cookie_sk_msg_proto")),
)  # fmt: skip

SK_SKB = layer(
    "sk_skb_func_proto",
    *same("skb_store_bytes", "skb_load_bytes", "get_socket_cookie", "get_socket_uid",
          "sk_redirect_map", "sk_redirect_hash", *_SK_LOOKUPS, "sk_release"),
    *simple(("skb_pull_data", "sk_skb_pull_data_proto"),
            ("skb_change_tail", "sk_skb_change_tail_proto"),
            ("skb_change_head", "sk_skb_change_head_proto"),
            ("skb_adjust_room", "sk_skb_adjust_room_proto"),
            ("perf_event_output", "bpf_skb_event_output_proto")),
)  # fmt: skip

FLOW_DISSECTOR = layer(
    "flow_dissector_func_proto",
    *simple(("skb_load_bytes", "bpf_flow_dissector_load_bytes_proto")),
)

SK_REUSEPORT = layer(
    "sk_reuseport_func_proto",
    *simple(("sk_select_reuseport", "sk_select_reuseport_proto"),
            ("skb_load_bytes", "sk_reuseport_load_bytes_proto"),
            ("skb_load_bytes_relative", "sk_reuseport_load_bytes_relative_proto"),
            ("get_socket_cookie", "bpf_get_socket_ptr_cookie_proto"),
            ("ktime_get_coarse_ns", "bpf_ktime_get_coarse_ns_proto")),
)  # fmt: skip

SK_LOOKUP = layer(
    "sk_lookup_func_proto",
    *simple(
        ("perf_event_output", "bpf_event_output_data_proto"),
        ("sk_assign", "bpf_sk_lookup_assign_proto"),
    ),
    *same("sk_release"),
)

NET_LAYERS: tuple[Layer, ...] = (
    SK_BASE, SK_FILTER, CG_SKB, TC_CLS_ACT, XDP, LWT_OUT, LWT_IN, LWT_XMIT, LWT_SEG6LOCAL,
    SOCK_FILTER, SOCK_ADDR, SOCK_OPS, SK_MSG, SK_SKB, FLOW_DISSECTOR, SK_REUSEPORT, SK_LOOKUP,
)  # fmt: skip
