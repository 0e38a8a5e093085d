"""bpfvm's runtime context structures: what a fixed-up program's r1 points to.

The kernel's ``convert_ctx_access`` turns an access to a UAPI context field (``struct
xdp_md``, ``struct __sk_buff``) into an access to the kernel object behind it (``struct
xdp_buff``, ``struct sk_buff``). bpfvm's runtime objects are these structures: the UAPI struct
itself at offset 0 (so helpers, ``ctx_out`` and unconverted accesses keep working, and the
context address a helper checks is the same), followed by the **64-bit** packet pointers. So
the one conversion that matters is the kernel's: ``data``/``data_end``/``data_meta`` are 32-bit
UAPI fields but real 64-bit pointers at run time, and packet memory no longer has to live
below 4 GiB for a converted program.

``struct bpfvm_xdp_buff`` (56 bytes)::

    0   struct xdp_md md       (data, data_end, data_meta as 32-bit copies)
    24  u64 data
    32  u64 data_end
    40  u64 data_meta
    48  u64 data_hard_start

``struct bpfvm_sk_buff`` (216 bytes)::

    0   struct __sk_buff md    (192 bytes; data, data_end, data_meta as 32-bit copies)
    192 u64 data
    200 u64 data_end
    208 u64 data_meta

These are the tables :mod:`bpfvm.runtime.ctx_runtime` builds from and
:mod:`bpfvm.fixups.passes.ctx_access` converts with; both import them from here (the fixups
sit below the runtime in the package layering).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bpfvm.platform.ctx_layouts import SK_BUFF, XDP_MD, CtxLayout
from bpfvm.program.uapi import ProgType as Pt


@dataclass(frozen=True, slots=True)
class RuntimeField:
    """Where a UAPI field lives in the runtime structure."""

    offset: int
    size: int


@dataclass(frozen=True)
class RuntimeCtx:
    """One runtime context structure and the conversion table of its UAPI fields."""

    name: str
    uapi: CtxLayout
    size: int
    moved: Mapping[str, RuntimeField]  # UAPI fields stored elsewhere (the packet pointers)

    def field_for(self, name: str) -> RuntimeField:
        """The runtime place of UAPI field ``name`` (unmoved fields stay where they are)."""
        if name in self.moved:
            return self.moved[name]
        f = self.uapi.field(name)
        return RuntimeField(f.offset, f.size)


XDP_BUFF = RuntimeCtx(
    "bpfvm_xdp_buff",
    XDP_MD,
    56,
    MappingProxyType({
        "data": RuntimeField(24, 8),
        "data_end": RuntimeField(32, 8),
        "data_meta": RuntimeField(40, 8),
    }),
)  # fmt: skip
XDP_DATA_HARD_START = 48

SK_BUFF_RT = RuntimeCtx(
    "bpfvm_sk_buff",
    SK_BUFF,
    216,
    MappingProxyType({
        "data": RuntimeField(192, 8),
        "data_end": RuntimeField(200, 8),
        "data_meta": RuntimeField(208, 8),
    }),
)  # fmt: skip

SKB_PROG_TYPES = frozenset({
    Pt.SOCKET_FILTER, Pt.SCHED_CLS, Pt.SCHED_ACT, Pt.CGROUP_SKB, Pt.LWT_IN, Pt.LWT_OUT,
    Pt.LWT_XMIT,
})  # fmt: skip

RUNTIME_CTX: Mapping[int, RuntimeCtx] = MappingProxyType(
    {Pt.XDP: XDP_BUFF, **{t: SK_BUFF_RT for t in SKB_PROG_TYPES}}
)
"""Program type -> its runtime context (types not listed see their UAPI memory as is)."""
