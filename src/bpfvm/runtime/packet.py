"""Packet memory of the packet hooks: an XDP buffer and a socket buffer, laid out as
``BPF_PROG_TEST_RUN`` lays them out (``net/bpf/test_run.c``).

Until the fixup stage rewrites context accesses, a program reads ``data``, ``data_end`` and
``data_meta`` straight from the UAPI context (``struct xdp_md``, ``struct __sk_buff``), where
they are 32-bit fields. So every packet buffer is an anonymous mapping made with
``MAP_32BIT``: its addresses fit in 32 bits, and ``ldxw r2, [r1+0]`` zero-extends to the real
address of the packet data.

Layouts (x86-64, 4 KiB pages), all offsets from the start of the mapping:

* XDP (``bpf_prog_test_run_xdp``): one page. ``data_hard_start`` is offset 0 and its first
  ``sizeof(struct xdp_frame)`` (40) bytes are reserved; ``data`` starts at
  ``XDP_PACKET_HEADROOM`` (256) with the metadata, if any, right before it; the last
  ``SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`` (320) bytes are the reserved tailroom, so
  ``data_end`` may grow up to offset 3776. Input beyond the linear part lives in page-sized
  fragments that only helpers reach.
* Socket buffer (``bpf_prog_test_run_skb``): ``NET_SKB_PAD + NET_IP_ALIGN`` (64) bytes of
  headroom, then the frame. ``mac_header`` is the frame start, ``network_header`` 14 bytes on;
  ``data`` is the MAC header for L2 hooks (tc) and the network header otherwise (the kernel
  pulls the Ethernet header). The buffer is reallocated when a helper needs more room, as
  ``pskb_expand_head`` does; the program's packet pointers are invalid after such helpers.

Invariant: after any change of geometry the owner calls ``sync()``, which rewrites the
pointer fields of the context region and retargets the :class:`PacketWindow` (the one region
the program may touch directly: ``[data_meta, data_end)``). The window is also the socket
buffer data that the legacy ``LD_ABS``/``LD_IND`` loads read.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import struct
from dataclasses import dataclass, field

from bpfvm.errors import BpfvmError
from bpfvm.runtime.memory import Region

PAGE_SIZE = 4096
ETH_HLEN = 14
XDP_PACKET_HEADROOM = 256
XDP_FRAME_SIZE = 40  # sizeof(struct xdp_frame): reserved at data_hard_start
SKB_SHINFO_SIZE = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)): reserved tailroom
XDP_DATA_HARD_END = PAGE_SIZE - SKB_SHINFO_SIZE  # xdp_data_hard_end() for frame_sz 4096
XDP_METADATA_MAX = 255  # type_max(skb_shared_info.meta_len)
MAX_SKB_FRAGS = 17
NET_SKB_PAD = 64  # max(32, L1_CACHE_BYTES)
NET_IP_ALIGN = 0  # x86
SKB_MAX_ALLOC = 4 * PAGE_SIZE - SKB_SHINFO_SIZE  # BPF_SKB_MAX_LEN (16064)
KMALLOC_MAX_SIZE = PAGE_SIZE << 10  # larger head allocations fail with -ENOMEM

MAP_32BIT = 0x40  # x86-64 only: place the mapping in the low 2 GiB
_LOW_ADDRESS_LIMIT = 1 << 32


class PacketMemoryError(BpfvmError):
    """No packet buffer with 32-bit addresses can be mapped on this machine."""


# --- memory -----------------------------------------------------------------------------------


def _map_low(size: int) -> tuple[mmap.mmap, int]:
    """An anonymous private read/write mapping of ``size`` bytes below 4 GiB."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    if platform.machine() in ("x86_64", "AMD64"):
        flags |= MAP_32BIT
    for _ in range(4):  # without MAP_32BIT a low address is luck: try a few mappings
        mem = mmap.mmap(-1, size, flags=flags, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        if addr + size <= _LOW_ADDRESS_LIMIT:
            return mem, addr
        mem.close()
    raise PacketMemoryError(
        f"cannot map a packet buffer below 4 GiB on {platform.machine()} "
        "(packet pointers are 32-bit context fields until ctx accesses are rewritten)"
    )


class PacketBuffer:
    """One low (32-bit addressable) anonymous mapping holding a packet and its head/tailroom."""

    def __init__(self, size: int) -> None:
        self.size = max(PAGE_SIZE, -(-size // PAGE_SIZE) * PAGE_SIZE)
        self._mem, self.addr = _map_low(self.size)

    def read(self, off: int, size: int) -> bytes:
        self._check(off, size)
        return self._mem[off : off + size]

    def write(self, off: int, data: bytes) -> None:
        self._check(off, len(data))
        self._mem[off : off + len(data)] = data

    def move(self, dst: int, src: int, size: int) -> None:
        """``memmove`` inside the buffer."""
        self._check(dst, size)
        self._check(src, size)
        self._mem.move(dst, src, size)

    def zero(self, off: int, size: int) -> None:
        self.write(off, bytes(size))

    def close(self) -> None:
        self._mem.close()

    def _check(self, off: int, size: int) -> None:
        if off < 0 or size < 0 or off + size > self.size:
            raise IndexError(f"packet buffer access [{off}, {off + size}) outside {self.size}")


@dataclass(eq=False)
class PacketWindow(Region):
    """The region of a packet the program may access; it follows the packet when it moves."""

    owner: PacketBuffer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:  # the memory belongs to a PacketBuffer: allocate none
        self._bound: tuple[PacketBuffer, int, int] | None = None
        if self.owner is not None:
            self.retarget(self.owner, 0, 0)

    def retarget(self, owner: PacketBuffer, off: int, size: int) -> None:
        if off < 0 or off + size > owner.size:
            raise IndexError(f"packet window [{off}, {off + size}) outside the buffer")
        addr = owner.addr + off
        self.owner = owner
        self.size = size
        self.addr = addr
        bound = self._bound
        if bound is not None and bound[0] is owner and bound[1] == addr and bound[2] == size:
            return  # same memory: the backing array still fits
        # A zero-sized window keeps one byte of backing so that it stays a valid object.
        self.buf = (ctypes.c_char * max(size, 1)).from_address(addr)
        self._bound = (owner, addr, size)


@dataclass(frozen=True)
class Redirect:
    """What ``bpf_redirect`` recorded (``struct bpf_redirect_info``)."""

    ifindex: int
    flags: int


_U32 = struct.Struct("<I")
_U32X3 = struct.Struct("<III")  # three consecutive u32 context fields
M32 = 0xFFFFFFFF


def _u32(region: Region, off: int, value: int) -> None:
    region.write(off, _U32.pack(value & M32))


# --- XDP ----------------------------------------------------------------------------------------

# struct xdp_md
XDP_MD_SIZE = 24
XDP_MD_DATA, XDP_MD_DATA_END, XDP_MD_DATA_META = 0, 4, 8
XDP_MD_INGRESS_IFINDEX, XDP_MD_RX_QUEUE_INDEX, XDP_MD_EGRESS_IFINDEX = 12, 16, 20


class XdpPacket:
    """An ``xdp_buff``: pointers are offsets into one page; fragments hold the rest."""

    def __init__(
        self,
        linear: bytes,
        meta_len: int,
        frags: list[bytes],
        ingress_ifindex: int,
        rx_queue_index: int,
    ) -> None:
        self.buffer = PacketBuffer(PAGE_SIZE)
        self.data_meta = XDP_PACKET_HEADROOM - meta_len
        self.data = XDP_PACKET_HEADROOM
        self.data_end = self.data_meta + len(linear)
        self.buffer.write(self.data_meta, linear)
        self.frags = [bytearray(f) for f in frags]
        self.redirect: Redirect | None = None
        self.ctx = Region("ctx", XDP_MD_SIZE)
        self.window = PacketWindow("packet", 0, True, owner=self.buffer)
        _u32(self.ctx, XDP_MD_INGRESS_IFINDEX, ingress_ifindex)
        _u32(self.ctx, XDP_MD_RX_QUEUE_INDEX, rx_queue_index)
        self.sync()

    # geometry

    def sync(self) -> None:
        """Publish the pointers to the context and the window (after every change)."""
        base = self.buffer.addr
        _U32X3.pack_into(  # data, data_end, data_meta: consecutive fields
            self.ctx.buf, XDP_MD_DATA,
            (base + self.data) & M32, (base + self.data_end) & M32, (base + self.data_meta) & M32,
        )  # fmt: skip
        self.window.retarget(self.buffer, self.data_meta, self.data_end - self.data_meta)

    @property
    def metalen(self) -> int:
        return self.data - self.data_meta

    @property
    def frags_size(self) -> int:
        return sum(len(f) for f in self.frags)

    @property
    def buff_len(self) -> int:
        """``xdp_get_buff_len``: linear data plus fragments."""
        return self.data_end - self.data + self.frags_size

    # bytes, as one sequence from data: the linear part, then the fragments

    def read(self, off: int, size: int) -> bytes:
        linear = self.data_end - self.data
        head = self.buffer.read(self.data + off, min(size, linear - off)) if off < linear else b""
        start = max(off - linear, 0)
        return head + b"".join(self.frags)[start : start + size - len(head)]

    def write(self, off: int, data: bytes) -> None:
        linear = self.data_end - self.data
        if off < linear:
            n = min(len(data), linear - off)
            self.buffer.write(self.data + off, data[:n])
            off, data = linear, data[n:]
        if not data:
            return
        flat = bytearray(b"".join(self.frags))
        flat[off - linear : off - linear + len(data)] = data
        pos = 0
        for frag in self.frags:
            frag[:] = flat[pos : pos + len(frag)]
            pos += len(frag)

    # test_run results

    def data_out(self) -> bytes:
        """What test_run copies out: ``[data_meta, data_end)`` and then the fragments."""
        linear = self.buffer.read(self.data_meta, self.data_end - self.data_meta)
        return linear + b"".join(self.frags)

    def ctx_out(self, ctx_in: bytes) -> bytes:
        """``xdp_convert_buff_to_md``: data and data_end become offsets from data_meta."""
        out = bytearray(ctx_in.ljust(XDP_MD_SIZE, b"\0")[:XDP_MD_SIZE])
        struct.pack_into("<II", out, XDP_MD_DATA, self.metalen, self.data_end - self.data_meta)
        return bytes(out)

    def close(self) -> None:
        self.window.size = 0
        self.buffer.close()


# --- socket buffer ------------------------------------------------------------------------------

# struct __sk_buff
SKB_CTX_SIZE = 192
SKB_LEN, SKB_PKT_TYPE, SKB_MARK, SKB_PROTOCOL = 0, 4, 8, 16
SKB_PRIORITY, SKB_INGRESS_IFINDEX, SKB_IFINDEX = 32, 36, 40
SKB_CB, SKB_CB_SIZE, SKB_HASH = 48, 20, 68
SKB_DATA, SKB_DATA_END = 76, 80
SKB_FAMILY, SKB_REMOTE_IP4, SKB_LOCAL_IP4, SKB_REMOTE_IP6, SKB_LOCAL_IP6 = 88, 92, 96, 100, 116
SKB_DATA_META, SKB_TSTAMP, SKB_WIRE_LEN, SKB_GSO_SEGS = 140, 152, 160, 164
SKB_GSO_SIZE, SKB_HWTSTAMP = 176, 184
# The fields convert_skb_to___skb() copies back to user space: (offset, size).
SKB_CTX_OUT_FIELDS = (
    (SKB_MARK, 4), (SKB_PRIORITY, 4), (SKB_INGRESS_IFINDEX, 4), (SKB_IFINDEX, 4),
    (SKB_TSTAMP, 8), (SKB_CB, SKB_CB_SIZE), (SKB_WIRE_LEN, 4), (SKB_GSO_SEGS, 4),
    (SKB_HWTSTAMP, 8),
)  # fmt: skip


class SkbPacket:
    """A linear ``sk_buff``: head, data and tail are offsets into the current buffer.

    ``ctx`` is the ``__sk_buff`` the program sees; the fields a program may write (mark,
    priority, cb, tstamp, ...) live only there, the rest is written by :meth:`sync` and the
    builder.
    """

    def __init__(self, frame: bytes, l2: bool) -> None:
        self.buffer = PacketBuffer(NET_SKB_PAD + NET_IP_ALIGN + len(frame) + SKB_SHINFO_SIZE)
        self.mac_header = NET_SKB_PAD + NET_IP_ALIGN
        self.network_header = self.mac_header + ETH_HLEN
        self.data = self.mac_header if l2 else self.network_header
        self.tail = self.mac_header + len(frame)
        self.buffer.write(self.mac_header, frame)
        self.l2 = l2
        self.hash = 0
        self.sw_hash = False  # skb->sw_hash / l4_hash: the hash was set, not computed
        self.gso_size = 0
        self.gso_segs = 0
        self.redirect: Redirect | None = None
        self.ctx = Region("ctx", SKB_CTX_SIZE)
        self.window = PacketWindow("packet", 0, True, owner=self.buffer)
        self.sync()

    @property
    def len(self) -> int:
        return self.tail - self.data

    @property
    def network_offset(self) -> int:
        return self.network_header - self.data

    def sync(self) -> None:
        """Publish len, the data pointers (``bpf_compute_data_pointers``), hash and GSO state."""
        base = self.buffer.addr
        buf, put = self.ctx.buf, _U32.pack_into
        put(buf, SKB_LEN, (self.tail - self.data) & M32)
        put(buf, SKB_DATA, (base + self.data) & M32)
        put(buf, SKB_DATA_END, (base + self.tail) & M32)
        put(buf, SKB_DATA_META, (base + self.data) & M32)
        put(buf, SKB_HASH, self.hash & M32)
        put(buf, SKB_GSO_SIZE, self.gso_size & M32)
        put(buf, SKB_GSO_SEGS, self.gso_segs & M32)
        self.window.retarget(self.buffer, self.data, self.len)

    # bytes relative to data

    def read(self, off: int, size: int) -> bytes:
        return self.buffer.read(self.data + off, size)

    def write(self, off: int, data: bytes) -> None:
        self.buffer.write(self.data + off, data)

    # geometry (callers have checked the kernel's limits)

    def push(self, size: int) -> None:
        """``skb_cow`` + ``__skb_push`` + zero the new head bytes."""
        if self.data < size:
            self._expand(size - self.data + NET_SKB_PAD, 0)
        self.data -= size
        self.buffer.zero(self.data, size)

    def set_len(self, new_len: int) -> None:
        """Grow the tail with zeroes (``__skb_grow`` + memset) or trim it."""
        if new_len > self.len:
            room = self.buffer.size - self.tail
            if new_len - self.len > room:
                self._expand(0, new_len - self.len - room + SKB_SHINFO_SIZE)
            self.buffer.zero(self.tail, new_len - self.len)
        self.tail = self.data + new_len

    def _expand(self, head: int, tail: int) -> None:
        """``pskb_expand_head``: a bigger buffer, ``head`` more bytes of headroom."""
        old = self.buffer
        new = PacketBuffer(old.size + head + tail)
        new.write(head, old.read(0, old.size))
        self.buffer = new
        self.mac_header += head
        self.network_header += head
        self.data += head
        self.tail += head
        self.window.retarget(new, self.data, self.len)
        old.close()

    def clear_hash(self) -> None:
        self.hash, self.sw_hash = 0, False

    # test_run results

    def data_out(self) -> bytes:
        """``skb->data`` for ``skb->len`` bytes; non-L2 hooks get a zeroed Ethernet header
        pushed back in front (``bpf_prog_test_run_skb``)."""
        body = self.read(0, self.len)
        return body if self.l2 else bytes(ETH_HLEN) + body

    def ctx_out(self, ctx_in: bytes) -> bytes:
        """``convert_skb_to___skb``: the user's ctx with the copied-back fields replaced."""
        out = bytearray(ctx_in.ljust(SKB_CTX_SIZE, b"\0")[:SKB_CTX_SIZE])
        for off, size in SKB_CTX_OUT_FIELDS:
            out[off : off + size] = self.ctx.read(off, size)
        return bytes(out)

    def close(self) -> None:
        self.window.size = 0
        self.buffer.close()


PacketState = XdpPacket | SkbPacket
