"""The runtime context structures of fixed-up packet programs (``bpfvm_xdp_buff``,
``bpfvm_sk_buff``; layouts in :mod:`bpfvm.fixups.ctx_layout`).

A program run without fixups (``--no-verify``) sees the UAPI context (``struct xdp_md``,
``struct __sk_buff``) and reads the packet pointers from its 32-bit fields, which is why packet
buffers are mapped below 4 GiB. After ``bpf_convert_ctx_accesses`` the program reads the real
64-bit pointers of the runtime structure instead. :class:`RuntimeXdpPacket` and
:class:`RuntimeSkbPacket` are the hooks' packet states with that structure as their context
region: the UAPI struct at offset 0 (what helpers, ``ctx_out`` and any unconverted access use;
its address is still the context address helpers check) and the 64-bit pointers after it,
published by every :meth:`sync` together with the UAPI fields, so both views always agree.
"""

from __future__ import annotations

import struct

from bpfvm.fixups.ctx_layout import SK_BUFF_RT, XDP_BUFF, XDP_DATA_HARD_START, RuntimeCtx
from bpfvm.runtime.memory import Region
from bpfvm.runtime.packet import SkbPacket, XdpPacket

_U64 = struct.Struct("<Q")


def _runtime_region(rt: RuntimeCtx, uapi: Region) -> Region:
    region = Region("ctx", rt.size)
    region.write(0, uapi.read(0, min(uapi.size, rt.uapi.size)))
    return region


def _put(region: Region, rt: RuntimeCtx, name: str, value: int) -> None:
    field = rt.field_for(name)
    region.write(field.offset, _U64.pack(value))


class RuntimeXdpPacket(XdpPacket):
    """An XDP buffer whose context region is a ``bpfvm_xdp_buff``."""

    _runtime = False

    def __init__(
        self,
        linear: bytes,
        meta_len: int,
        frags: list[bytes],
        ingress_ifindex: int,
        rx_queue_index: int,
    ) -> None:
        super().__init__(linear, meta_len, frags, ingress_ifindex, rx_queue_index)
        self.ctx = _runtime_region(XDP_BUFF, self.ctx)
        self._runtime = True
        self.sync()

    def sync(self) -> None:
        super().sync()
        if not self._runtime:
            return
        base = self.buffer.addr
        _put(self.ctx, XDP_BUFF, "data", base + self.data)
        _put(self.ctx, XDP_BUFF, "data_end", base + self.data_end)
        _put(self.ctx, XDP_BUFF, "data_meta", base + self.data_meta)
        self.ctx.write(XDP_DATA_HARD_START, _U64.pack(base))


class RuntimeSkbPacket(SkbPacket):
    """A socket buffer whose context region is a ``bpfvm_sk_buff``."""

    _runtime = False

    def __init__(self, frame: bytes, l2: bool) -> None:
        super().__init__(frame, l2)
        self.ctx = _runtime_region(SK_BUFF_RT, self.ctx)
        self._runtime = True
        self.sync()

    def sync(self) -> None:
        super().sync()
        if not self._runtime:
            return
        base = self.buffer.addr
        _put(self.ctx, SK_BUFF_RT, "data", base + self.data)
        _put(self.ctx, SK_BUFF_RT, "data_end", base + self.tail)
        _put(self.ctx, SK_BUFF_RT, "data_meta", base + self.data)


def runtime_ctx_of(ctx: Region, rt: RuntimeCtx) -> dict[str, int]:
    """The 64-bit pointer fields of a runtime context region (for tests and dumps)."""
    return {name: _U64.unpack_from(ctx.read(f.offset, 8))[0] for name, f in rt.moved.items()}
