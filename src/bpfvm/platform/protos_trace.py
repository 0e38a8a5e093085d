"""Helper prototypes of the tracing side: ``kernel/trace/bpf_trace.c``, ``kernel/bpf/bpf_lsm.c``
and the tracing variants that ``net/core/filter.c`` exports (Linux 6.18)."""

from __future__ import annotations

from bpfvm.platform.arg_types import (
    ARG_ANYTHING,
    ARG_CONST_MAP_PTR,
    ARG_CONST_SIZE,
    ARG_CONST_SIZE_OR_ZERO,
    ARG_PTR_TO_BTF_ID,
    ARG_PTR_TO_BTF_ID_SOCK_COMMON,
    ARG_PTR_TO_CTX,
    ARG_PTR_TO_FIXED_SIZE_MEM,
    ARG_PTR_TO_MEM,
    ARG_PTR_TO_MEM_OR_NULL,
    ARG_PTR_TO_SOCK_COMMON,
    ARG_PTR_TO_UNINIT_MEM,
    MEM_ALIGNED,
    MEM_RDONLY,
    MEM_UNINIT,
    MEM_WRITE,
    PTR_MAYBE_NULL,
    RET_INTEGER,
    RET_PTR_TO_BTF_ID_OR_NULL,
)
from bpfvm.platform.proto import HelperProto, proto

_MEM_RO = ARG_PTR_TO_MEM | MEM_RDONLY
_MEM_RO_OR_NULL = ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY
_U64_OUT = ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED
_PROBE_READ = (ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE_OR_ZERO, ARG_ANYTHING)
_OUTPUT = (ARG_PTR_TO_CTX, ARG_CONST_MAP_PTR, ARG_ANYTHING, _MEM_RO, ARG_CONST_SIZE_OR_ZERO)
_OUTPUT_BTF = (ARG_PTR_TO_BTF_ID, ARG_CONST_MAP_PTR, ARG_ANYTHING, _MEM_RO,
               ARG_CONST_SIZE_OR_ZERO)  # fmt: skip
_STACKID = (ARG_PTR_TO_CTX, ARG_CONST_MAP_PTR, ARG_ANYTHING)
_STACK = (ARG_PTR_TO_CTX, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE_OR_ZERO, ARG_ANYTHING)

PROBE_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_probe_read_user_proto", "probe_read_user", RET_INTEGER, *_PROBE_READ, gpl=True),
    proto("bpf_probe_read_user_str_proto", "probe_read_user_str", RET_INTEGER, *_PROBE_READ,
          gpl=True),
    proto("bpf_probe_read_kernel_proto", "probe_read_kernel", RET_INTEGER, *_PROBE_READ,
          gpl=True),
    proto("bpf_probe_read_kernel_str_proto", "probe_read_kernel_str", RET_INTEGER,
          *_PROBE_READ, gpl=True),
    proto("bpf_probe_read_compat_proto", "probe_read", RET_INTEGER, *_PROBE_READ, gpl=True),
    proto("bpf_probe_read_compat_str_proto", "probe_read_str", RET_INTEGER, *_PROBE_READ,
          gpl=True),
    proto("bpf_probe_write_user_proto", "probe_write_user", RET_INTEGER,
          ARG_ANYTHING, _MEM_RO, ARG_CONST_SIZE, gpl=True),
    proto("bpf_override_return_proto", "override_return", RET_INTEGER,
          ARG_PTR_TO_CTX, ARG_ANYTHING, gpl=True),
)  # fmt: skip

PRINT_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_trace_printk_proto", "trace_printk", RET_INTEGER, _MEM_RO, ARG_CONST_SIZE,
          gpl=True),
    proto("bpf_trace_vprintk_proto", "trace_vprintk", RET_INTEGER,
          _MEM_RO, ARG_CONST_SIZE, _MEM_RO_OR_NULL, ARG_CONST_SIZE_OR_ZERO, gpl=True),
    proto("bpf_seq_printf_proto", "seq_printf", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, _MEM_RO, ARG_CONST_SIZE, _MEM_RO_OR_NULL, ARG_CONST_SIZE_OR_ZERO,
          gpl=True),
    proto("bpf_seq_write_proto", "seq_write", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, _MEM_RO, ARG_CONST_SIZE_OR_ZERO, gpl=True),
    proto("bpf_seq_printf_btf_proto", "seq_printf_btf", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, _MEM_RO, ARG_CONST_SIZE_OR_ZERO, ARG_ANYTHING, gpl=True),
    proto("bpf_snprintf_btf_proto", "snprintf_btf", RET_INTEGER,
          ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE, _MEM_RO, ARG_CONST_SIZE, ARG_ANYTHING),
)  # fmt: skip

PERF_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_perf_event_read_proto", "perf_event_read", RET_INTEGER,
          ARG_CONST_MAP_PTR, ARG_ANYTHING, gpl=True),
    proto("bpf_perf_event_read_value_proto", "perf_event_read_value", RET_INTEGER,
          ARG_CONST_MAP_PTR, ARG_ANYTHING, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, gpl=True),
    proto("bpf_perf_event_output_proto", "perf_event_output", RET_INTEGER, *_OUTPUT, gpl=True),
    proto("bpf_perf_event_output_proto_tp", "perf_event_output", RET_INTEGER, *_OUTPUT,
          gpl=True),
    proto("bpf_perf_event_output_proto_raw_tp", "perf_event_output", RET_INTEGER, *_OUTPUT,
          gpl=True),
    proto("bpf_event_output_data_proto", "perf_event_output", RET_INTEGER, *_OUTPUT,
          gpl=True),
    proto("bpf_get_stackid_proto_tp", "get_stackid", RET_INTEGER, *_STACKID, gpl=True),
    proto("bpf_get_stackid_proto_raw_tp", "get_stackid", RET_INTEGER, *_STACKID, gpl=True),
    proto("bpf_get_stack_proto_tp", "get_stack", RET_INTEGER, *_STACK, gpl=True),
    proto("bpf_get_stack_proto_raw_tp", "get_stack", RET_INTEGER, *_STACK, gpl=True),
    proto("bpf_perf_prog_read_value_proto", "perf_prog_read_value", RET_INTEGER,
          ARG_PTR_TO_CTX, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, gpl=True),
    proto("bpf_read_branch_records_proto", "read_branch_records", RET_INTEGER,
          ARG_PTR_TO_CTX, ARG_PTR_TO_MEM_OR_NULL | MEM_WRITE, ARG_CONST_SIZE_OR_ZERO,
          ARG_ANYTHING, gpl=True),
    proto("bpf_get_branch_snapshot_proto", "get_branch_snapshot", RET_INTEGER,
          ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE_OR_ZERO, gpl=True),
    proto("bpf_skb_output_proto", "skb_output", RET_INTEGER, *_OUTPUT_BTF, gpl=True),
    proto("bpf_xdp_output_proto", "xdp_output", RET_INTEGER, *_OUTPUT_BTF, gpl=True),
)  # fmt: skip

TASK_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_send_signal_proto", "send_signal", RET_INTEGER, ARG_ANYTHING),
    proto("bpf_send_signal_thread_proto", "send_signal_thread", RET_INTEGER, ARG_ANYTHING),
    proto("bpf_d_path_proto", "d_path", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, ARG_PTR_TO_MEM | MEM_WRITE, ARG_CONST_SIZE_OR_ZERO,
          allowed="bpf_d_path_allowed"),
    proto("bpf_get_func_ip_proto_tracing", "get_func_ip", RET_INTEGER, ARG_PTR_TO_CTX,
          gpl=True),
    proto("bpf_get_func_ip_proto_kprobe", "get_func_ip", RET_INTEGER, ARG_PTR_TO_CTX,
          gpl=True),
    proto("bpf_get_func_ip_proto_kprobe_multi", "get_func_ip", RET_INTEGER, ARG_PTR_TO_CTX),
    proto("bpf_get_func_ip_proto_uprobe_multi", "get_func_ip", RET_INTEGER, ARG_PTR_TO_CTX),
    proto("bpf_get_attach_cookie_proto_trace", "get_attach_cookie", RET_INTEGER,
          ARG_PTR_TO_CTX),
    proto("bpf_get_attach_cookie_proto_kmulti", "get_attach_cookie", RET_INTEGER,
          ARG_PTR_TO_CTX),
    proto("bpf_get_attach_cookie_proto_umulti", "get_attach_cookie", RET_INTEGER,
          ARG_PTR_TO_CTX),
    proto("bpf_get_attach_cookie_proto_pe", "get_attach_cookie", RET_INTEGER, ARG_PTR_TO_CTX),
    proto("bpf_get_attach_cookie_proto_tracing", "get_attach_cookie", RET_INTEGER,
          ARG_PTR_TO_CTX),
    proto("bpf_get_func_arg_proto", "get_func_arg", RET_INTEGER,
          ARG_PTR_TO_CTX, ARG_ANYTHING, _U64_OUT, sizes=((3, 8),)),
    proto("bpf_get_func_ret_proto", "get_func_ret", RET_INTEGER,
          ARG_PTR_TO_CTX, _U64_OUT, sizes=((2, 8),)),
    proto("bpf_get_func_arg_cnt_proto", "get_func_arg_cnt", RET_INTEGER, ARG_PTR_TO_CTX),
    proto("bpf_xdp_get_buff_len_trace_proto", "xdp_get_buff_len", RET_INTEGER,
          ARG_PTR_TO_BTF_ID),
    proto("bpf_get_socket_ptr_cookie_proto", "get_socket_cookie", RET_INTEGER,
          ARG_PTR_TO_BTF_ID_SOCK_COMMON | PTR_MAYBE_NULL),
    proto("bpf_sock_from_file_proto", "sock_from_file", RET_PTR_TO_BTF_ID_OR_NULL,
          ARG_PTR_TO_BTF_ID),
)  # fmt: skip

_SKC_TO = ("tcp6_sock", "tcp_sock", "tcp_timewait_sock", "tcp_request_sock", "udp6_sock",
           "unix_sock")  # fmt: skip

SOCK_CAST_PROTOS: tuple[HelperProto, ...] = (
    *(
        proto(f"bpf_skc_to_{t}_proto", f"skc_to_{t}", RET_PTR_TO_BTF_ID_OR_NULL,
              ARG_PTR_TO_BTF_ID_SOCK_COMMON)
        for t in _SKC_TO
    ),
    # The mptcp cast takes a plain sock_common pointer, unlike its siblings.
    proto("bpf_skc_to_mptcp_sock_proto", "skc_to_mptcp_sock", RET_PTR_TO_BTF_ID_OR_NULL,
          ARG_PTR_TO_SOCK_COMMON),
)  # fmt: skip

LSM_PROTOS: tuple[HelperProto, ...] = (
    proto("bpf_bprm_opts_set_proto", "bprm_opts_set", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, ARG_ANYTHING),
    proto("bpf_ima_inode_hash_proto", "ima_inode_hash", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, sleep=True,
          allowed="bpf_ima_inode_hash_allowed"),
    proto("bpf_ima_file_hash_proto", "ima_file_hash", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, ARG_PTR_TO_UNINIT_MEM, ARG_CONST_SIZE, sleep=True,
          allowed="bpf_ima_inode_hash_allowed"),
    proto("bpf_tcp_send_ack_proto", "tcp_send_ack", RET_INTEGER,
          ARG_PTR_TO_BTF_ID, ARG_ANYTHING),
)  # fmt: skip

TRACE_PROTOS: tuple[HelperProto, ...] = (
    PROBE_PROTOS + PRINT_PROTOS + PERF_PROTOS + TASK_PROTOS + SOCK_CAST_PROTOS + LSM_PROTOS
)
