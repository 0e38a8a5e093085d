"""Which helpers each program type may call (its ``get_func_proto``), modelled as layers."""

from __future__ import annotations

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.platform import Cap, KernelConfig, Lockdown, ProgEnv, available_helpers, func_proto
from bpfvm.platform.func_rules import Layer, Need, layer, resolve, rule
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import ProgType as Pt


def _id(name: str) -> int:
    return HELPER_IDS[f"bpf_{name}"]


def _symbol(pt: Pt, helper: str, env: ProgEnv | None = None) -> str | None:
    p = func_proto(pt, _id(helper), env)
    return p.symbol if p else None


def test_program_types_get_their_own_variants() -> None:
    assert _symbol(Pt.SOCKET_FILTER, "perf_event_output") == "bpf_skb_event_output_proto"
    assert _symbol(Pt.XDP, "perf_event_output") == "bpf_xdp_event_output_proto"
    assert _symbol(Pt.KPROBE, "perf_event_output") == "bpf_perf_event_output_proto"
    assert _symbol(Pt.TRACEPOINT, "get_stack") == "bpf_get_stack_proto_tp"
    assert _symbol(Pt.XDP, "redirect") == "bpf_xdp_redirect_proto"
    assert _symbol(Pt.SCHED_CLS, "sk_lookup_tcp") == "bpf_tc_sk_lookup_tcp_proto"
    assert _symbol(Pt.CGROUP_SKB, "sk_lookup_tcp") == "bpf_sk_lookup_tcp_proto"


def test_unavailable_helpers() -> None:
    assert func_proto(Pt.SOCKET_FILTER, _id("skb_store_bytes")) is None
    assert func_proto(Pt.XDP, _id("skb_load_bytes")) is None
    assert func_proto(Pt.KPROBE, _id("skb_load_bytes")) is None
    assert func_proto(Pt.SOCKET_FILTER, 0) is None
    assert func_proto(Pt.SOCKET_FILTER, 9999) is None


def test_capability_tiers_of_the_base_set() -> None:
    bpf_only = ProgEnv(caps=Cap.BPF | Cap.NET_ADMIN)
    assert func_proto(Pt.SOCKET_FILTER, _id("map_lookup_elem"), ProgEnv(caps=Cap(0)))
    assert func_proto(Pt.SOCKET_FILTER, _id("loop"), ProgEnv(caps=Cap(0))) is None
    assert func_proto(Pt.SOCKET_FILTER, _id("loop"), bpf_only)
    assert func_proto(Pt.SOCKET_FILTER, _id("probe_read_kernel"), bpf_only) is None
    assert func_proto(Pt.SOCKET_FILTER, _id("skc_to_tcp_sock"), bpf_only) is None
    assert func_proto(Pt.SOCKET_FILTER, _id("probe_read_kernel"))
    # CAP_SYS_ADMIN implies the others (bpf_token_capable)
    assert func_proto(Pt.SOCKET_FILTER, _id("probe_read_kernel"), ProgEnv(caps=Cap.SYS_ADMIN))


def test_kernel_config_and_lockdown() -> None:
    locked = ProgEnv(config=KernelConfig(lockdown=Lockdown.INTEGRITY, kprobe_override=False))
    assert func_proto(Pt.KPROBE, _id("probe_write_user")) is not None
    assert func_proto(Pt.KPROBE, _id("probe_write_user"), locked) is None
    assert func_proto(Pt.KPROBE, _id("probe_read_kernel"), locked) is not None
    confidential = ProgEnv(config=KernelConfig(lockdown=Lockdown.CONFIDENTIALITY))
    assert func_proto(Pt.KPROBE, _id("probe_read_kernel"), confidential) is None
    assert func_proto(Pt.KPROBE, _id("override_return")) is not None
    assert func_proto(Pt.KPROBE, _id("override_return"), locked) is None
    cfg = KernelConfig.from_kconfig(
        "CONFIG_BPF=y\nCONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y\n# CONFIG_XFRM is not set\n"
    )
    assert cfg.lockdown is Lockdown.INTEGRITY and not cfg.xfrm and not cfg.kprobe_override


def test_attach_type_and_sleepable_variants() -> None:
    kmulti = ProgEnv(expected_attach_type=At.TRACE_KPROBE_MULTI)
    assert _symbol(Pt.KPROBE, "get_func_ip", kmulti) == "bpf_get_func_ip_proto_kprobe_multi"
    assert _symbol(Pt.KPROBE, "get_func_ip") == "bpf_get_func_ip_proto_kprobe"
    sleepable = ProgEnv(sleepable=True)
    assert _symbol(Pt.KPROBE, "get_stack", sleepable) == "bpf_get_stack_sleepable_proto"
    assert _symbol(Pt.SYSCALL, "get_task_stack", sleepable) == "bpf_get_task_stack_sleepable_proto"
    fentry = ProgEnv(expected_attach_type=At.TRACE_FENTRY)
    tp_btf = ProgEnv(expected_attach_type=At.TRACE_RAW_TP)
    iter_tcp = ProgEnv(expected_attach_type=At.TRACE_ITER, attach_func="bpf_iter_tcp")
    assert func_proto(Pt.TRACING, _id("get_func_arg"), fentry)
    assert func_proto(Pt.TRACING, _id("get_func_arg"), tp_btf) is None
    assert func_proto(Pt.TRACING, _id("get_attach_cookie"), tp_btf)
    assert func_proto(Pt.TRACING, _id("seq_printf"), iter_tcp)
    assert func_proto(Pt.TRACING, _id("seq_printf"), tp_btf) is None
    assert _symbol(Pt.TRACING, "setsockopt", iter_tcp) == "bpf_sk_setsockopt_proto"
    assert func_proto(Pt.TRACING, _id("setsockopt"), fentry) is None


def test_cgroup_common_is_a_soft_layer() -> None:
    ingress = ProgEnv(expected_attach_type=At.CGROUP_INET_INGRESS)
    assert func_proto(Pt.CGROUP_SKB, _id("get_local_storage"), ingress)
    assert func_proto(Pt.CGROUP_SKB, _id("get_retval"), ingress) is None
    assert func_proto(Pt.CGROUP_SOCK, _id("get_retval"))  # sock_create has a retval
    lsm_cgroup = ProgEnv(expected_attach_type=At.LSM_CGROUP)
    assert func_proto(Pt.LSM, _id("set_retval"), lsm_cgroup)
    assert func_proto(Pt.LSM, _id("set_retval")) is None


def test_resolve_walks_layers_like_the_kernel() -> None:
    lookup = _id("map_lookup_elem")
    first: Layer = layer("first", ("map_lookup_elem", rule(None)))
    gated: Layer = layer(
        "gated", ("map_lookup_elem", rule("bpf_map_lookup_elem_proto", Need.CAP_BPF))
    )
    soft: Layer = layer("soft", ("map_lookup_elem", rule(None)), soft=True)
    base: Layer = layer("base", ("map_lookup_elem", rule("bpf_map_lookup_elem_proto")))
    env, none = ProgEnv(), Need.NONE
    assert resolve((first, base), lookup, env, 0, none) is None  # explicit NULL stops the walk
    assert resolve((soft, base), lookup, env, 0, none) is not None  # a soft NULL does not
    assert resolve((gated, base), lookup, ProgEnv(caps=Cap(0)), 0, none) is None
    assert resolve((gated, base), lookup, env, 0, none) is not None
    assert resolve((), lookup, env, 0, none) is None


def test_available_helpers_counts() -> None:
    counts = {pt: len(available_helpers(pt)) for pt in (Pt.SOCKET_FILTER, Pt.SCHED_CLS, Pt.XDP)}
    assert counts[Pt.SCHED_CLS] > counts[Pt.XDP] > counts[Pt.SOCKET_FILTER] > 80
