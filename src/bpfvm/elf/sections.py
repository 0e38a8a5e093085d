"""Program section names to program and attach types, the way libbpf maps them.

libbpf's ``section_defs`` table matches a ``SEC()`` name against patterns of three forms: a
name ending in ``+`` matches itself or itself followed by ``/`` and an attach target
(``kprobe/do_sys_open``), a name ending in ``/`` matches any name it prefixes, and any other
name only matches exactly. The first matching entry wins. Old objects (iproute2, the 4.x
kernel samples, OVS) use names libbpf 1.x no longer accepts (``socket1``, ``kprobe_foo``,
``xdp_prog``); for those :func:`classify_section` falls back to the pre-1.0 "sloppy" rule: the
longest table entry that prefixes the name, flagged ``legacy``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.program.uapi import AttachType as A
from bpfvm.program.uapi import ProgType as P


@dataclass(frozen=True)
class SecDef:
    pattern: str
    prog_type: P
    attach_type: A | None = None
    sleepable: bool = False
    attach_btf: bool = False  # the target after the "/" names a BTF function or type


@dataclass(frozen=True)
class SectionKind:
    """What a section name says about the programs in it."""

    prog_type: P
    expected_attach_type: A | None
    attach_to: str
    sleepable: bool
    legacy: bool  # matched only by the pre-libbpf-1.0 prefix rule


def _kprobes() -> list[SecDef]:
    out = []
    for name, attach in (
        ("kprobe", None), ("kretprobe", None), ("uprobe", None), ("uretprobe", None),
        ("kprobe.multi", A.TRACE_KPROBE_MULTI), ("kretprobe.multi", A.TRACE_KPROBE_MULTI),
        ("kprobe.session", A.TRACE_KPROBE_SESSION), ("uprobe.multi", A.TRACE_UPROBE_MULTI),
        ("uretprobe.multi", A.TRACE_UPROBE_MULTI), ("uprobe.session", A.TRACE_UPROBE_SESSION),
        ("ksyscall", None), ("kretsyscall", None), ("usdt", None),
    ):  # fmt: skip
        out.append(SecDef(name + "+", P.KPROBE, attach))
        if name.startswith("u"):
            out.append(SecDef(name + ".s+", P.KPROBE, attach, sleepable=True))
    return out


def _tracing() -> list[SecDef]:
    out = [SecDef("tp_btf+", P.TRACING, A.TRACE_RAW_TP, attach_btf=True)]
    for name, attach in (
        ("fentry", A.TRACE_FENTRY), ("fmod_ret", A.MODIFY_RETURN), ("fexit", A.TRACE_FEXIT),
        ("fsession", A.TRACE_FSESSION), ("fentry.multi", A.TRACE_FENTRY_MULTI),
        ("fexit.multi", A.TRACE_FEXIT_MULTI), ("fsession.multi", A.TRACE_FSESSION_MULTI),
    ):  # fmt: skip
        out.append(SecDef(name + "+", P.TRACING, attach, attach_btf=True))
        out.append(SecDef(name + ".s+", P.TRACING, attach, sleepable=True, attach_btf=True))
    out += [
        SecDef("freplace+", P.EXT, None, attach_btf=True),
        SecDef("lsm+", P.LSM, A.LSM_MAC, attach_btf=True),
        SecDef("lsm.s+", P.LSM, A.LSM_MAC, sleepable=True, attach_btf=True),
        SecDef("lsm_cgroup+", P.LSM, A.LSM_CGROUP, attach_btf=True),
        SecDef("iter+", P.TRACING, A.TRACE_ITER, attach_btf=True),
        SecDef("iter.s+", P.TRACING, A.TRACE_ITER, sleepable=True, attach_btf=True),
        SecDef("syscall", P.SYSCALL, None, sleepable=True),
    ]
    return out


def _cgroups() -> list[SecDef]:
    sock_addr = {
        "bind4": A.CGROUP_INET4_BIND, "bind6": A.CGROUP_INET6_BIND,
        "connect4": A.CGROUP_INET4_CONNECT, "connect6": A.CGROUP_INET6_CONNECT,
        "connect_unix": A.CGROUP_UNIX_CONNECT,
        "sendmsg4": A.CGROUP_UDP4_SENDMSG, "sendmsg6": A.CGROUP_UDP6_SENDMSG,
        "sendmsg_unix": A.CGROUP_UNIX_SENDMSG,
        "recvmsg4": A.CGROUP_UDP4_RECVMSG, "recvmsg6": A.CGROUP_UDP6_RECVMSG,
        "recvmsg_unix": A.CGROUP_UNIX_RECVMSG,
        "getpeername4": A.CGROUP_INET4_GETPEERNAME, "getpeername6": A.CGROUP_INET6_GETPEERNAME,
        "getpeername_unix": A.CGROUP_UNIX_GETPEERNAME,
        "getsockname4": A.CGROUP_INET4_GETSOCKNAME, "getsockname6": A.CGROUP_INET6_GETSOCKNAME,
        "getsockname_unix": A.CGROUP_UNIX_GETSOCKNAME,
    }  # fmt: skip
    out = [
        SecDef("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
        SecDef("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
        SecDef("cgroup/skb", P.CGROUP_SKB),
        SecDef("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
        SecDef("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE),
        SecDef("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
        SecDef("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND),
        SecDef("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND),
    ]
    out += [SecDef(f"cgroup/{name}", P.CGROUP_SOCK_ADDR, a) for name, a in sock_addr.items()]
    out += [
        SecDef("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
        SecDef("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT),
        SecDef("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT),
        SecDef("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE),
    ]
    return out


# libbpf's section_defs, in its order (first match wins).
SECTION_DEFS: tuple[SecDef, ...] = (
    SecDef("socket", P.SOCKET_FILTER),
    SecDef("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE),
    SecDef("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT),
    *_kprobes(),
    SecDef("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    SecDef("tc/egress", P.SCHED_CLS, A.TCX_EGRESS),
    SecDef("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS),
    SecDef("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS),
    SecDef("tc", P.SCHED_CLS),
    SecDef("classifier", P.SCHED_CLS),
    SecDef("action", P.SCHED_ACT),
    SecDef("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    SecDef("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    SecDef("tracepoint+", P.TRACEPOINT),
    SecDef("tp+", P.TRACEPOINT),
    SecDef("raw_tracepoint+", P.RAW_TRACEPOINT),
    SecDef("raw_tp+", P.RAW_TRACEPOINT),
    SecDef("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE),
    SecDef("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE),
    *_tracing(),
    SecDef("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP),
    SecDef("xdp/devmap", P.XDP, A.XDP_DEVMAP),
    SecDef("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP),
    SecDef("xdp/cpumap", P.XDP, A.XDP_CPUMAP),
    SecDef("xdp.frags", P.XDP, A.XDP),
    SecDef("xdp", P.XDP, A.XDP),
    SecDef("perf_event", P.PERF_EVENT),
    SecDef("lwt_in", P.LWT_IN),
    SecDef("lwt_out", P.LWT_OUT),
    SecDef("lwt_xmit", P.LWT_XMIT),
    SecDef("lwt_seg6local", P.LWT_SEG6LOCAL),
    SecDef("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS),
    SecDef("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER),
    SecDef("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT),
    SecDef("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT),
    SecDef("sk_skb", P.SK_SKB),
    SecDef("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT),
    SecDef("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2),
    SecDef("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR),
    *_cgroups(),
    SecDef("struct_ops+", P.STRUCT_OPS),
    SecDef("struct_ops.s+", P.STRUCT_OPS, sleepable=True),
    SecDef("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP),
    SecDef("netfilter", P.NETFILTER, A.NETFILTER),
)

# Pre-1.0 names that are not a prefix of a current entry.
_LEGACY_ALIASES: tuple[SecDef, ...] = (
    SecDef("socket_filter", P.SOCKET_FILTER),
    SecDef("cgroup/skb", P.CGROUP_SKB),
    SecDef("xdp_devmap", P.XDP, A.XDP_DEVMAP),
    SecDef("xdp_cpumap", P.XDP, A.XDP_CPUMAP),
    SecDef("lwt_", P.LWT_IN),
)


def _matches(pattern: str, name: str) -> str | None:
    """The attach target if ``name`` matches ``pattern`` under libbpf 1.x rules."""
    if pattern.endswith("+"):
        stem = pattern[:-1]
        if name == stem:
            return ""
        return name[len(stem) + 1 :] if name.startswith(stem + "/") else None
    if pattern.endswith("/"):
        return name[len(pattern) :] if name.startswith(pattern) else None
    return "" if name == pattern else None


def _kind(sec: SecDef, attach_to: str, legacy: bool) -> SectionKind:
    return SectionKind(sec.prog_type, sec.attach_type, attach_to, sec.sleepable, legacy)


def classify_section(name: str) -> SectionKind | None:
    """The program type a section name gives, or None when no rule knows it."""
    for sec in SECTION_DEFS:
        target = _matches(sec.pattern, name)
        if target is not None:
            return _kind(sec, target, legacy=False)
    best: SecDef | None = None
    for sec in (*SECTION_DEFS, *_LEGACY_ALIASES):
        stem = sec.pattern.rstrip("+")
        if name.startswith(stem) and (best is None or len(stem) > len(best.pattern.rstrip("+"))):
            best = sec
    if best is None:
        return None
    rest = name[len(best.pattern.rstrip("+")) :]
    return _kind(best, rest.removeprefix("/"), legacy=True)
