"""Which context loads and stores a program type allows: each type's ``*_is_valid_access``
(net/core/filter.c, kernel/trace/bpf_trace.c, kernel/bpf/syscall.c; Linux 6.18).

:func:`check_ctx_access` answers for one access ``(off, size)``, a load or a store (of a scalar,
by ``BPF_STX`` or ``BPF_ST``): None is the verifier's ``invalid bpf_context access off=%d
size=%d``; otherwise a :class:`CtxAccess` says which register type a load produces (a packet
pointer, a socket pointer, or a scalar) and the size of the field load the kernel converts it to
(``ctx_field_size``: a narrow load reads the whole field and masks). Checks the verifier makes
before asking ``is_valid_access`` are not repeated here: atomic operations on the context are
always rejected (``BPF_ATOMIC stores into R%d ctx is not allowed``), and so is an access through
a context pointer with a non-zero offset.

Trampoline programs (fentry/fexit/fmod_ret, LSM) are modelled only coarsely: the kernel decides
their accesses from the traced function's BTF (``btf_ctx_access``), which bpfvm does not read
here; :func:`check_ctx_access` accepts 8-byte-aligned reads of the first 12 argument words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from bpfvm.platform.access_info import AccessInfo, narrow_ok
from bpfvm.platform.arg_types import (
    PTR_TO_FLOW_KEYS,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_SOCK_COMMON_OR_NULL,
    PTR_TO_TP_BUFFER,
    SCALAR_VALUE,
    RegType,
)
from bpfvm.platform.ctx_access_sock import sock_valid_access
from bpfvm.platform.ctx_layouts import (
    MAX_BPF_FUNC_ARGS,
    PERF_EVENT_DATA,
    PT_REGS,
    SK_BUFF,
    XDP_MD,
)
from bpfvm.platform.env import Cap, ProgEnv
from bpfvm.platform.prog_types import PROG_TYPES
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import ProgType as Pt

PERF_MAX_TRACE_SIZE = 8192
U16_MAX = 0xFFFF


@dataclass(frozen=True, slots=True)
class CtxAccess:
    """An allowed context access.

    ``reg_type``: what a load puts in the destination register (SCALAR_VALUE for stores and
    plain fields). ``field_size``: the width of the field load the kernel emits; larger than
    ``size`` for a narrow load.
    """

    reg_type: RegType
    size: int
    field_size: int

    @property
    def narrow(self) -> bool:
        return self.size < self.field_size


def _r(name: str) -> range:
    """``bpf_ctx_range``: the byte offsets of a __sk_buff member (or ``a..b`` members)."""
    first, _, last = name.partition("..")
    return range(SK_BUFF.offsetof(first), SK_BUFF.offsetofend(last or first))


_CB = _r("cb[0]..cb[4]")
_DATA, _DATA_END, _DATA_META = _r("data"), _r("data_end"), _r("data_meta")
_IP_FIELDS = (_r("remote_ip6[0]..remote_ip6[3]"), _r("local_ip6[0]..local_ip6[3]"),
              _r("remote_ip4"), _r("local_ip4"))  # fmt: skip
_FLOW_KEYS, _HWTSTAMP, _TSTAMP, _SK = _r("flow_keys"), _r("hwtstamp"), _r("tstamp"), _r("sk")
_TSTAMP_TYPE = SK_BUFF.offsetof("tstamp_type")
_TSTAMP_TYPE_PAD = range(SK_BUFF.offsetofend("tstamp_type"), SK_BUFF.offsetof("hwtstamp"))
_TC_CLASSID, _WIRE_LEN, _MARK, _PRIORITY = (
    _r("tc_classid"),
    _r("wire_len"),
    _r("mark"),
    _r("priority"),
)
_FAMILY_TO_LOCAL_PORT = _r("family..local_port")
_TC_INDEX, _QUEUE_MAPPING = _r("tc_index"), _r("queue_mapping")


def _in(off: int, *ranges: range) -> bool:
    return any(off in r for r in ranges)


def _skb(off: int, size: int, write: bool, info: AccessInfo) -> bool:
    """``bpf_skb_is_valid_access``."""
    if off < 0 or off >= SK_BUFF.size or off % size:
        return False
    if off in _CB:
        return off + size <= _CB.stop
    if _in(off, _DATA, _DATA_META, _DATA_END) or _in(off, *_IP_FIELDS):
        return size == 4
    if off in _FLOW_KEYS or off == _TSTAMP_TYPE or off in _TSTAMP_TYPE_PAD:
        return False
    if off in _HWTSTAMP:
        return not write and size == 8
    if off in _TSTAMP:
        return size == 8
    if off in _SK:
        info.reg_type = PTR_TO_SOCK_COMMON_OR_NULL
        return not write and size == 8
    if write:
        return size == 4
    info.field_size = 4
    return narrow_ok(size, 4)


def _sk_filter(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if _in(off, _TC_CLASSID, _DATA, _DATA_META, _DATA_END, _FAMILY_TO_LOCAL_PORT, _TSTAMP,
           _WIRE_LEN, _HWTSTAMP):  # fmt: skip
        return False
    if write and off not in _CB:
        return False
    return _skb(off, size, write, info)


def _cap_bpf(env: ProgEnv) -> bool:
    return bool(env.caps & (Cap.BPF | Cap.SYS_ADMIN))


def _data_ptrs(off: int, info: AccessInfo, meta: bool = False) -> None:
    if off in _DATA:
        info.reg_type = PTR_TO_PACKET
    elif off in _DATA_END:
        info.reg_type = PTR_TO_PACKET_END
    elif meta and off in _DATA_META:
        info.reg_type = PTR_TO_PACKET_META


def _cg_skb(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if _in(off, _TC_CLASSID, _DATA_META, _WIRE_LEN):
        return False
    if _in(off, _DATA, _DATA_END) and not _cap_bpf(env):
        return False
    if write and not (_in(off, _MARK, _PRIORITY, _CB) or (off in _TSTAMP and _cap_bpf(env))):
        return False
    _data_ptrs(off, info)
    return _skb(off, size, write, info)


def _tc_cls_act(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    writable = (_MARK, _TC_INDEX, _PRIORITY, _TC_CLASSID, _CB, _TSTAMP, _QUEUE_MAPPING)
    if write and not _in(off, *writable):
        return False
    _data_ptrs(off, info, meta=True)
    if off in _FAMILY_TO_LOCAL_PORT:
        return False
    if off == _TSTAMP_TYPE:
        return size == 1
    return _skb(off, size, write, info)


def _lwt(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if _in(off, _TC_CLASSID, _FAMILY_TO_LOCAL_PORT, _DATA_META, _TSTAMP, _WIRE_LEN, _HWTSTAMP):
        return False
    if write and not _in(off, _MARK, _PRIORITY, _CB):
        return False
    _data_ptrs(off, info)
    return _skb(off, size, write, info)


def _sk_skb(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if _in(off, _TC_CLASSID, _DATA_META, _TSTAMP, _WIRE_LEN, _HWTSTAMP):
        return False
    if write and not _in(off, _TC_INDEX, _PRIORITY):
        return False
    if off in _MARK:
        return False
    _data_ptrs(off, info)
    return _skb(off, size, write, info)


def _flow_dissector(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off < 0 or off >= SK_BUFF.size or off % size or write:
        return False
    if _in(off, _DATA, _DATA_END):
        _data_ptrs(off, info)
        return size == 4
    if off in _FLOW_KEYS:
        info.reg_type = PTR_TO_FLOW_KEYS
        return size == 8
    return False


def _xdp(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off == XDP_MD.offsetof("egress_ifindex") and env.expected_attach_type != At.XDP_DEVMAP:
        return False
    if write:  # rx_queue_index is writable only for offloaded programs
        return False
    info.reg_type = {
        XDP_MD.offsetof("data"): PTR_TO_PACKET,
        XDP_MD.offsetof("data_meta"): PTR_TO_PACKET_META,
        XDP_MD.offsetof("data_end"): PTR_TO_PACKET_END,
    }.get(off, SCALAR_VALUE)
    return 0 <= off < XDP_MD.size and off % size == 0 and size == 4


def _kprobe(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    return 0 <= off < PT_REGS.size and not write and off % size == 0
    # (off + size <= sizeof(pt_regs) follows from alignment on 64-bit)


def _tracepoint(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    return 8 <= off < PERF_MAX_TRACE_SIZE and not write and off % size == 0


def _perf_event(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off < 0 or off >= PERF_EVENT_DATA.size or write or off % size:
        return False
    if off >= PERF_EVENT_DATA.offsetof("sample_period"):  # sample_period, addr
        info.field_size = 8
        return narrow_ok(size, 8)
    return size == 8


def _raw_tp(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    """``bpf_tracing_ctx_access``."""
    return 0 <= off < 8 * MAX_BPF_FUNC_ARGS and not write and off % size == 0


def _raw_tp_writable(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    if off == 0:
        if size != 8 or write:
            return False
        info.reg_type = PTR_TO_TP_BUFFER
    return _raw_tp(off, size, write, env, info)


def _tracing(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    return _raw_tp(off, size, write, env, info) and off % 8 == 0


def _syscall(off: int, size: int, write: bool, env: ProgEnv, info: AccessInfo) -> bool:
    return 0 <= off < U16_MAX and off % size == 0


ValidAccess = Callable[[int, int, bool, ProgEnv, AccessInfo], bool]

IS_VALID_ACCESS: Mapping[Pt, ValidAccess] = MappingProxyType({
    Pt.SOCKET_FILTER: _sk_filter,
    Pt.SCHED_CLS: _tc_cls_act,
    Pt.SCHED_ACT: _tc_cls_act,
    Pt.XDP: _xdp,
    Pt.CGROUP_SKB: _cg_skb,
    Pt.LWT_IN: _lwt,
    Pt.LWT_OUT: _lwt,
    Pt.LWT_XMIT: _lwt,
    Pt.LWT_SEG6LOCAL: _lwt,
    Pt.SK_SKB: _sk_skb,
    Pt.FLOW_DISSECTOR: _flow_dissector,
    Pt.KPROBE: _kprobe,
    Pt.TRACEPOINT: _tracepoint,
    Pt.PERF_EVENT: _perf_event,
    Pt.RAW_TRACEPOINT: _raw_tp,
    Pt.RAW_TRACEPOINT_WRITABLE: _raw_tp_writable,
    Pt.TRACING: _tracing,
    Pt.LSM: _tracing,
    Pt.SYSCALL: _syscall,
    **{pt: sock_valid_access(pt) for pt in (Pt.CGROUP_SOCK, Pt.CGROUP_SOCK_ADDR, Pt.SK_MSG,
                                             Pt.SK_REUSEPORT, Pt.SK_LOOKUP, Pt.SOCK_OPS)},
})  # fmt: skip
"""Each program type's ``is_valid_access``, as ``f(off, size, write, env, info) -> bool``."""


def check_ctx_access(
    prog_type: int, off: int, size: int, write: bool, env: ProgEnv | None = None
) -> CtxAccess | None:
    """Whether a ``size``-byte load (or store) at context offset ``off`` is allowed.

    None is the kernel's ``invalid bpf_context access off=%d size=%d``.
    """
    if size not in (1, 2, 4, 8):
        raise ValueError(f"bad access size {size}")
    valid = IS_VALID_ACCESS.get(Pt(prog_type))
    if valid is None:
        raise KeyError(f"program type {prog_type} has no modelled context")
    env = env or ProgEnv()
    spec = PROG_TYPES.get(Pt(prog_type))
    if spec is not None:  # the attach type the kernel works with (after its fixup)
        env = replace(env, expected_attach_type=spec.attach_type(env.expected_attach_type))
    info = AccessInfo()
    if not valid(off, size, write, env, info):
        return None
    reg = SCALAR_VALUE if write else info.reg_type
    return CtxAccess(reg, size, info.field_size or size)
