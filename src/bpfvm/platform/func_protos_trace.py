"""The ``get_func_proto`` switches of the BPF core and the tracing program types (Linux 6.18):
``bpf_base_func_proto`` (kernel/bpf/helpers.c), ``cgroup_common_func_proto``
(kernel/bpf/cgroup.c), the ``kernel/trace/bpf_trace.c`` family, ``syscall_prog_func_proto`` and
``bpf_lsm_func_proto``.

``bpf_base_func_proto`` hands out helpers in three tiers: to everyone, only with CAP_BPF, only
with CAP_PERFMON. The CAP_PERFMON tier was measured on the reference kernel by dropping
CAP_PERFMON/CAP_SYS_ADMIN; the split between the first two tiers follows the source (a loader
without CAP_BPF cannot load these program types on the reference kernel).
"""

from __future__ import annotations

from bpfvm.platform.func_rules import Layer, Need, layer, rule, same, simple
from bpfvm.program.uapi import AttachType as At

_BPF = Need.CAP_BPF
_PERFMON = Need.CAP_PERFMON

BASE = layer(
    "bpf_base_func_proto",
    *same(
        "map_lookup_elem", "map_update_elem", "map_delete_elem", "map_push_elem",
        "map_pop_elem", "map_peek_elem", "map_lookup_percpu_elem", "get_prandom_u32",
        "get_smp_processor_id", "get_numa_node_id", "tail_call", "ktime_get_ns",
        "ktime_get_boot_ns", "ktime_get_tai_ns", "ringbuf_output", "ringbuf_reserve",
        "ringbuf_submit", "ringbuf_discard", "ringbuf_query", "strncmp", "strtol", "strtoul",
        "get_current_pid_tgid", "get_ns_current_pid_tgid",
    ),
    *same(
        "get_current_uid_gid", "spin_lock", "spin_unlock", "jiffies64", "per_cpu_ptr",
        "this_cpu_ptr", "timer_init", "timer_set_callback", "timer_start", "timer_cancel",
        "kptr_xchg", "for_each_map_elem", "loop", "user_ringbuf_drain",
        "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr", "ringbuf_discard_dynptr",
        "dynptr_from_mem", "dynptr_read", "dynptr_write", "dynptr_data", "cgrp_storage_get",
        "cgrp_storage_delete", "get_current_cgroup_id", "get_current_ancestor_cgroup_id",
        "current_task_under_cgroup",
        needs=_BPF,
    ),
    ("get_cgroup_classid",
     rule("bpf_get_cgroup_classid_curr_proto", _BPF | Need.CGROUP_NET_CLASSID)),
    ("task_storage_get", (rule("bpf_task_storage_get_recur_proto", _BPF | Need.RECUR),
                          rule("bpf_task_storage_get_proto", _BPF))),
    ("task_storage_delete", (rule("bpf_task_storage_delete_recur_proto", _BPF | Need.RECUR),
                             rule("bpf_task_storage_delete_proto", _BPF))),
    *same(
        "trace_printk", "get_current_comm", "perf_event_read", "get_current_task",
        "get_current_task_btf", "perf_event_read_value", "send_signal", "send_signal_thread",
        "probe_read_user", "probe_read_user_str", "copy_from_user", "copy_from_user_task",
        "snprintf_btf", "snprintf", "task_pt_regs", "get_branch_snapshot", "trace_vprintk",
        "find_vma",
        needs=_PERFMON,
    ),
    *same("probe_read_kernel", "probe_read_kernel_str",
          needs=_PERFMON | Need.READ_KERNEL_UNLOCKED),
    ("get_task_stack", (rule("bpf_get_task_stack_sleepable_proto", _PERFMON | Need.SLEEPABLE),
                        rule("bpf_get_task_stack_proto", _PERFMON))),
)  # fmt: skip

# get_retval/set_retval make no sense where the hook has no return value to override.
_NO_RETVAL = (
    At.CGROUP_INET_INGRESS, At.CGROUP_INET_EGRESS, At.CGROUP_SOCK_OPS,
    At.CGROUP_UDP4_RECVMSG, At.CGROUP_UDP6_RECVMSG, At.CGROUP_UNIX_RECVMSG,
    At.CGROUP_INET4_GETPEERNAME, At.CGROUP_INET6_GETPEERNAME, At.CGROUP_UNIX_GETPEERNAME,
    At.CGROUP_INET4_GETSOCKNAME, At.CGROUP_INET6_GETSOCKNAME, At.CGROUP_UNIX_GETSOCKNAME,
)  # fmt: skip

CGROUP_COMMON = layer(
    "cgroup_common_func_proto",
    *same("get_local_storage"),
    ("get_retval", rule("bpf_get_retval_proto", not_attach=_NO_RETVAL)),
    ("set_retval", rule("bpf_set_retval_proto", not_attach=_NO_RETVAL)),
    soft=True,
)

TRACING_BASE = layer(
    "bpf_tracing_func_proto",
    ("probe_write_user", rule("bpf_probe_write_user_proto",
                              Need.CAP_SYS_ADMIN | Need.WRITE_USER_UNLOCKED)),
    *simple(("probe_read", "bpf_probe_read_compat_proto"),
            ("probe_read_str", "bpf_probe_read_compat_str_proto"),
            needs=Need.READ_KERNEL_UNLOCKED),
    *simple(("get_func_ip", "bpf_get_func_ip_proto_tracing")),
)  # fmt: skip

_KMULTI = (At.TRACE_KPROBE_MULTI, At.TRACE_KPROBE_SESSION)
_UMULTI = (At.TRACE_UPROBE_MULTI, At.TRACE_UPROBE_SESSION)

KPROBE = layer(
    "kprobe_prog_func_proto",
    *simple(("perf_event_output", "bpf_perf_event_output_proto"),
            ("get_stackid", "bpf_get_stackid_proto")),
    ("get_stack", (rule("bpf_get_stack_sleepable_proto", Need.SLEEPABLE),
                   rule("bpf_get_stack_proto"))),
    ("override_return", rule("bpf_override_return_proto", Need.KPROBE_OVERRIDE)),
    ("get_func_ip", (rule("bpf_get_func_ip_proto_kprobe_multi", attach=_KMULTI),
                     rule("bpf_get_func_ip_proto_uprobe_multi", attach=_UMULTI),
                     rule("bpf_get_func_ip_proto_kprobe"))),
    ("get_attach_cookie", (rule("bpf_get_attach_cookie_proto_kmulti", attach=_KMULTI),
                           rule("bpf_get_attach_cookie_proto_umulti", attach=_UMULTI),
                           rule("bpf_get_attach_cookie_proto_trace"))),
)  # fmt: skip

TRACEPOINT = layer(
    "tp_prog_func_proto",
    *simple(("perf_event_output", "bpf_perf_event_output_proto_tp"),
            ("get_stackid", "bpf_get_stackid_proto_tp"),
            ("get_stack", "bpf_get_stack_proto_tp"),
            ("get_attach_cookie", "bpf_get_attach_cookie_proto_trace")),
)  # fmt: skip

PERF_EVENT = layer(
    "pe_prog_func_proto",
    *simple(("perf_event_output", "bpf_perf_event_output_proto_tp"),
            ("get_stackid", "bpf_get_stackid_proto_pe"),
            ("get_stack", "bpf_get_stack_proto_pe"),
            ("perf_prog_read_value", "bpf_perf_prog_read_value_proto"),
            ("read_branch_records", "bpf_read_branch_records_proto"),
            ("get_attach_cookie", "bpf_get_attach_cookie_proto_pe")),
)  # fmt: skip

RAW_TRACEPOINT = layer(
    "raw_tp_prog_func_proto",
    *simple(("perf_event_output", "bpf_perf_event_output_proto_raw_tp"),
            ("get_stackid", "bpf_get_stackid_proto_raw_tp"),
            ("get_stack", "bpf_get_stack_proto_raw_tp"),
            ("get_attach_cookie", "bpf_get_attach_cookie_proto_tracing")),
)  # fmt: skip

_ITER = (At.TRACE_ITER,)
_SKC_TO = ("tcp6_sock", "tcp_sock", "tcp_timewait_sock", "tcp_request_sock", "udp6_sock",
           "unix_sock", "mptcp_sock")  # fmt: skip

TRACING = layer(
    "tracing_prog_func_proto",
    *simple(("skb_output", "bpf_skb_output_proto"), ("xdp_output", "bpf_xdp_output_proto"),
            *((f"skc_to_{t}", f"bpf_skc_to_{t}_proto") for t in _SKC_TO),
            ("sk_storage_get", "bpf_sk_storage_get_tracing_proto"),
            ("sk_storage_delete", "bpf_sk_storage_delete_tracing_proto"),
            ("sock_from_file", "bpf_sock_from_file_proto"),
            ("get_socket_cookie", "bpf_get_socket_ptr_cookie_proto"),
            ("xdp_get_buff_len", "bpf_xdp_get_buff_len_trace_proto"),
            ("d_path", "bpf_d_path_proto")),
    *((h, rule(f"bpf_{h}_proto", attach=_ITER))
      for h in ("seq_printf", "seq_write", "seq_printf_btf")),
    *((h, rule(f"bpf_{h}_proto", Need.TRAMPOLINE))
      for h in ("get_func_arg", "get_func_ret", "get_func_arg_cnt")),
    ("get_attach_cookie",
     (rule("bpf_get_attach_cookie_proto_tracing", attach=(At.TRACE_RAW_TP,)),
      rule("bpf_get_attach_cookie_proto_tracing", Need.TRAMPOLINE))),
)  # fmt: skip

# bpf_iter_get_func_proto: what an iterator's target adds, tried when all else said NULL.
ITER_TARGETS = layer(
    "bpf_iter_get_func_proto",
    *((h, rule(f"bpf_sk_{h}_proto", attach=_ITER, attach_funcs=("bpf_iter_tcp",
                                                                 "bpf_iter_unix")))
      for h in ("setsockopt", "getsockopt")),
)  # fmt: skip

SYSCALL = layer(
    "syscall_prog_func_proto",
    ("sys_bpf", rule("bpf_sys_bpf_proto", _PERFMON)),
    *same("btf_find_by_name_kind", "sys_close", "kallsyms_lookup_name"),
)

_LSM_CGROUP = (At.LSM_CGROUP,)
_LOCKED_SOCKOPT_HOOKS = ("bpf_lsm_socket_sock_rcv_skb", "bpf_lsm_sock_graft",
                         "bpf_lsm_inet_csk_clone", "bpf_lsm_inet_conn_established")  # fmt: skip

LSM = layer(
    "bpf_lsm_func_proto",
    *same("inode_storage_get", "inode_storage_delete", "sk_storage_get", "sk_storage_delete",
          "spin_lock", "spin_unlock", "bprm_opts_set"),
    *((h, rule(f"bpf_{h}_proto", Need.SLEEPABLE)) for h in ("ima_inode_hash", "ima_file_hash")),
    ("get_attach_cookie", rule("bpf_get_attach_cookie_proto_tracing", Need.TRAMPOLINE)),
    # Which LSM hooks get the locked or unlocked variant depends on the hook (BTF id sets
    # bpf_lsm_locked_sockopt_hooks / bpf_lsm_unlocked_sockopt_hooks).
    *((h, (rule(f"bpf_sk_{h}_proto", attach=_LSM_CGROUP,
                attach_funcs=_LOCKED_SOCKOPT_HOOKS),
           rule(f"bpf_unlocked_sk_{h}_proto", attach=_LSM_CGROUP,
                attach_funcs=("bpf_lsm_socket_post_create", "bpf_lsm_socket_socketpair"))))
      for h in ("setsockopt", "getsockopt")),
)  # fmt: skip

LSM_CGROUP_COMMON = layer(
    "cgroup_common_func_proto",
    ("get_local_storage", rule("bpf_get_local_storage_proto", attach=_LSM_CGROUP)),
    ("get_retval", rule("bpf_get_retval_proto", attach=_LSM_CGROUP)),
    ("set_retval", rule("bpf_set_retval_proto", attach=_LSM_CGROUP)),
    soft=True,
)

TRACE_LAYERS: tuple[Layer, ...] = (
    BASE, CGROUP_COMMON, TRACING_BASE, KPROBE, TRACEPOINT, PERF_EVENT, RAW_TRACEPOINT, TRACING,
    ITER_TARGETS, SYSCALL, LSM, LSM_CGROUP_COMMON,
)  # fmt: skip
