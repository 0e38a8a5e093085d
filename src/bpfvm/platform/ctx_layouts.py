"""The context structs programs see, field by field (``include/uapi/linux/bpf.h`` and, for
kprobes, x86-64's ``struct pt_regs``; Linux 6.18).

Offsets follow the C layout rules (natural alignment); ``__bpf_md_ptr`` members are 8-byte
pointers aligned to 8. Arrays are one :class:`CtxField` with ``count`` elements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class CtxField:
    """One member: ``size`` is the element size, the member spans ``size * count`` bytes."""

    name: str
    offset: int
    size: int
    count: int = 1
    pointer: bool = False  # a __bpf_md_ptr member

    @property
    def end(self) -> int:
        return self.offset + self.size * self.count


@dataclass(frozen=True, slots=True)
class CtxLayout:
    name: str
    fields: tuple[CtxField, ...]
    size: int

    def field(self, name: str) -> CtxField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")

    def offsetof(self, name: str) -> int:
        """``offsetof``; ``name`` may index an array (``cb[2]``)."""
        base, _, index = name.partition("[")
        f = self.field(base)
        return f.offset + (int(index.rstrip("]")) * f.size if index else 0)

    def offsetofend(self, name: str) -> int:
        base, _, index = name.partition("[")
        f = self.field(base)
        return self.offsetof(name) + f.size if index else f.end

    def field_at(self, off: int) -> CtxField | None:
        """The member that byte ``off`` belongs to (None in padding or past the end)."""
        for f in self.fields:
            if f.offset <= off < f.end:
                return f
        return None


Member = tuple[str, int] | tuple[str, int, int] | tuple[str, int, int, bool]


def _layout(name: str, members: tuple[Member, ...]) -> CtxLayout:
    """Lay out ``(name, size[, count[, pointer]])`` members with natural alignment."""
    fields = []
    off = 0
    align_max = 1
    for m in members:
        fname, size = m[0], m[1]
        count = m[2] if len(m) > 2 else 1
        pointer = m[3] if len(m) > 3 else False
        off = -(-off // size) * size
        align_max = max(align_max, size)
        fields.append(CtxField(fname, off, size, count, pointer))
        off += size * count
    return CtxLayout(name, tuple(fields), -(-off // align_max) * align_max)


SK_BUFF = _layout("__sk_buff", (
    ("len", 4), ("pkt_type", 4), ("mark", 4), ("queue_mapping", 4), ("protocol", 4),
    ("vlan_present", 4), ("vlan_tci", 4), ("vlan_proto", 4), ("priority", 4),
    ("ingress_ifindex", 4), ("ifindex", 4), ("tc_index", 4), ("cb", 4, 5), ("hash", 4),
    ("tc_classid", 4), ("data", 4), ("data_end", 4), ("napi_id", 4), ("family", 4),
    ("remote_ip4", 4), ("local_ip4", 4), ("remote_ip6", 4, 4), ("local_ip6", 4, 4),
    ("remote_port", 4), ("local_port", 4), ("data_meta", 4), ("flow_keys", 8, 1, True),
    ("tstamp", 8), ("wire_len", 4), ("gso_segs", 4), ("sk", 8, 1, True), ("gso_size", 4),
    ("tstamp_type", 1), ("hwtstamp", 8),
))  # fmt: skip

XDP_MD = _layout("xdp_md", (
    ("data", 4), ("data_end", 4), ("data_meta", 4), ("ingress_ifindex", 4),
    ("rx_queue_index", 4), ("egress_ifindex", 4),
))  # fmt: skip

# x86-64 struct pt_regs, as bpf_user_pt_regs_t / the kprobe context.
PT_REGS = _layout("pt_regs", tuple((r, 8) for r in (
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
    "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
)))  # fmt: skip

PERF_EVENT_DATA = _layout("bpf_perf_event_data", (
    ("regs", 8, len(PT_REGS.fields)), ("sample_period", 8), ("addr", 8),
))  # fmt: skip

MAX_BPF_FUNC_ARGS = 12
RAW_TRACEPOINT_ARGS = CtxLayout(
    "bpf_raw_tracepoint_args", (CtxField("args", 0, 8, MAX_BPF_FUNC_ARGS),), 0
)
"""``__u64 args[0]``: the verifier lets programs read up to MAX_BPF_FUNC_ARGS words."""

TRACING_ARGS = CtxLayout("tracing_args", (CtxField("args", 0, 8, MAX_BPF_FUNC_ARGS),), 0)
"""Trampoline programs (fentry/fexit/fmod_ret, LSM): ``u64 args[nr_args]`` then the return
value; the real layout comes from the traced function's BTF."""

BPF_SOCK = _layout("bpf_sock", (
    ("bound_dev_if", 4), ("family", 4), ("type", 4), ("protocol", 4), ("mark", 4),
    ("priority", 4), ("src_ip4", 4), ("src_ip6", 4, 4), ("src_port", 4), ("dst_port", 2),
    ("", 2), ("dst_ip4", 4), ("dst_ip6", 4, 4), ("state", 4), ("rx_queue_mapping", 4),
))  # fmt: skip

BPF_SOCK_ADDR = _layout("bpf_sock_addr", (
    ("user_family", 4), ("user_ip4", 4), ("user_ip6", 4, 4), ("user_port", 4), ("family", 4),
    ("type", 4), ("protocol", 4), ("msg_src_ip4", 4), ("msg_src_ip6", 4, 4),
    ("sk", 8, 1, True),
))  # fmt: skip

SK_MSG_MD = _layout("sk_msg_md", (
    ("data", 8, 1, True), ("data_end", 8, 1, True), ("family", 4), ("remote_ip4", 4),
    ("local_ip4", 4), ("remote_ip6", 4, 4), ("local_ip6", 4, 4), ("remote_port", 4),
    ("local_port", 4), ("size", 4), ("sk", 8, 1, True),
))  # fmt: skip

SK_REUSEPORT_MD = _layout("sk_reuseport_md", (
    ("data", 8, 1, True), ("data_end", 8, 1, True), ("len", 4), ("eth_protocol", 4),
    ("ip_protocol", 4), ("bind_inany", 4), ("hash", 4), ("sk", 8, 1, True),
    ("migrating_sk", 8, 1, True),
))  # fmt: skip

BPF_SK_LOOKUP = _layout("bpf_sk_lookup", (
    ("sk", 8, 1, True), ("family", 4), ("protocol", 4), ("remote_ip4", 4),
    ("remote_ip6", 4, 4), ("remote_port", 2), ("", 2), ("local_ip4", 4), ("local_ip6", 4, 4),
    ("local_port", 4), ("ingress_ifindex", 4),
))  # fmt: skip

BPF_SOCK_OPS = _layout("bpf_sock_ops", (
    ("op", 4), ("args", 4, 4), ("family", 4), ("remote_ip4", 4), ("local_ip4", 4),
    ("remote_ip6", 4, 4), ("local_ip6", 4, 4), ("remote_port", 4), ("local_port", 4),
    ("is_fullsock", 4), ("snd_cwnd", 4), ("srtt_us", 4), ("bpf_sock_ops_cb_flags", 4),
    ("state", 4), ("rtt_min", 4), ("snd_ssthresh", 4), ("rcv_nxt", 4), ("snd_nxt", 4),
    ("snd_una", 4), ("mss_cache", 4), ("ecn_flags", 4), ("rate_delivered", 4),
    ("rate_interval_us", 4), ("packets_out", 4), ("retrans_out", 4), ("total_retrans", 4),
    ("segs_in", 4), ("data_segs_in", 4), ("segs_out", 4), ("data_segs_out", 4),
    ("lost_out", 4), ("sacked_out", 4), ("sk_txhash", 4), ("bytes_received", 8),
    ("bytes_acked", 8), ("sk", 8, 1, True), ("skb_data", 8, 1, True),
    ("skb_data_end", 8, 1, True), ("skb_len", 4), ("skb_tcp_flags", 4), ("skb_hwtstamp", 8),
))  # fmt: skip

CTX_LAYOUTS: Mapping[str, CtxLayout] = MappingProxyType({
    c.name: c for c in (SK_BUFF, XDP_MD, PT_REGS, PERF_EVENT_DATA, RAW_TRACEPOINT_ARGS,
                        TRACING_ARGS, BPF_SOCK, BPF_SOCK_ADDR, SK_MSG_MD, SK_REUSEPORT_MD,
                        BPF_SK_LOOKUP, BPF_SOCK_OPS)
})  # fmt: skip
