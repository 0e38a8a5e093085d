"""Helpers of the packet hooks: XDP buffers and socket buffers (``net/core/filter.c``).

Each helper reads the packet state of the run from ``call.packet`` (a
:class:`~bpfvm.runtime.packet.XdpPacket` or :class:`~bpfvm.runtime.packet.SkbPacket`), checks
its arguments in the kernel's order and returns the kernel's value (``-EINVAL``,
``-EFAULT``, ...). Memory arguments go through ``call.mem``, so a bad pointer is a clean
fault. A helper that moves ``data``/``data_end``/``data_meta`` calls ``sync()``, which
rewrites the context fields (the kernel instead invalidates the program's packet pointers).

Checksums: the test_run socket buffer is ``CHECKSUM_NONE``, so the ``l3``/``l4`` replace
helpers only rewrite the 16-bit checksum field in the packet bytes. ``bpf_csum_diff``
(Linux 6.13 on) takes buffers of any size and returns the 16-bit fold
(``csum_from32to16``) of ``csum_partial`` sums; ``csum_partial`` is the 32-bit
ones'-complement sum of the little-endian words of the zero-padded buffer, zero only for an
all-zero input and otherwise the representative in ``[1, 2**32 - 1]`` (as x86-64 computes
it, in 64-bit words folded to 32 bits).
"""

from __future__ import annotations

import errno
import struct
import zlib
from collections.abc import Mapping

from bpfvm.errors import VmFault
from bpfvm.runtime.helpers.registry import HelperCall, HelperFn
from bpfvm.runtime.packet import (
    ETH_HLEN,
    KMALLOC_MAX_SIZE,
    PAGE_SIZE,
    SKB_MAX_ALLOC,
    SKB_SHINFO_SIZE,
    XDP_DATA_HARD_END,
    XDP_FRAME_SIZE,
    XDP_METADATA_MAX,
    Redirect,
    SkbPacket,
    XdpPacket,
)

EINVAL, EFAULT, ENOMEM, EACCES = errno.EINVAL, errno.EFAULT, errno.ENOMEM, errno.EACCES
ENOTSUPP = 524  # kernel-internal "operation not supported"
M16, M32 = 0xFFFF, 0xFFFFFFFF
INT_MAX = (1 << 31) - 1

XDP_ABORTED, XDP_REDIRECT = 0, 4
TC_ACT_SHOT, TC_ACT_REDIRECT = 2, 7
BPF_F_INGRESS = 1 << 0
BPF_F_RECOMPUTE_CSUM, BPF_F_INVALIDATE_HASH = 1 << 0, 1 << 1
BPF_F_HDR_FIELD_MASK = 0xF
BPF_F_PSEUDO_HDR, BPF_F_MARK_MANGLED_0, BPF_F_MARK_ENFORCE, BPF_F_IPV6 = 16, 32, 64, 128
BPF_HDR_START_MAC, BPF_HDR_START_NET = 0, 1
CSUM_MANGLED_0 = 0xFFFF


def _s32(value: int) -> int:
    value &= M32
    return value - (1 << 32) if value >> 31 else value


def _xdp(call: HelperCall, ctx: int) -> XdpPacket:
    packet = call.packet
    if not isinstance(packet, XdpPacket):
        raise VmFault(call.pc, "this helper needs an XDP packet context")
    if ctx != packet.ctx.addr:
        raise VmFault(call.pc, f"R1 {ctx:#x} is not the XDP context")
    return packet


def _skb(call: HelperCall, ctx: int) -> SkbPacket:
    packet = call.packet
    if not isinstance(packet, SkbPacket):
        raise VmFault(call.pc, "this helper needs a socket buffer context")
    if ctx != packet.ctx.addr:
        raise VmFault(call.pc, f"R1 {ctx:#x} is not the __sk_buff context")
    return packet


# --- ones'-complement arithmetic (include/net/checksum.h, x86 csum_partial) -------------------


def csum_add(csum: int, addend: int) -> int:
    res = (csum + addend) & M32
    return (res + (res < addend)) & M32


def csum_sub(csum: int, addend: int) -> int:
    return csum_add(csum, ~addend & M32)


def csum_fold(csum: int) -> int:
    folded = (csum & M16) + (csum >> 16)
    folded = (folded & M16) + (folded >> 16)
    return ~folded & M16


def _csum16_add(csum: int, addend: int) -> int:
    res = (csum + addend) & M16
    return (res + (res < addend)) & M16


def csum_replace2(check: int, old: int, new: int) -> int:
    return ~_csum16_add(_csum16_add(~check & M16, ~old & M16), new) & M16


def csum_replace4(check: int, old: int, new: int) -> int:
    return csum_fold(csum_add(csum_sub(~check & M32, old), new))


def csum_replace_by_diff(check: int, diff: int) -> int:
    return csum_fold(csum_add(diff, ~check & M32))


def csum_partial(data: bytes, seed: int) -> int:
    """x86-64 ``csum_partial``: the ones'-complement sum of ``data`` and ``seed``."""
    padded = data + bytes(-len(data) % 4)
    total = seed + sum(w for (w,) in struct.iter_unpack("<I", padded))
    return 0 if total == 0 else (total - 1) % M32 + 1


def csum_from32to16(csum: int) -> int:
    """Fold a 32-bit sum to 16 bits with end-around carry (no complement)."""
    return ((csum + ((csum >> 16) | (csum << 16))) & M32) >> 16


# --- XDP --------------------------------------------------------------------------------------


def _xdp_adjust_head(call: HelperCall, ctx: int, offset: int, *_: int) -> int:
    xdp, delta = _xdp(call, ctx), _s32(offset)
    metalen = xdp.metalen
    data = xdp.data + delta
    if data < XDP_FRAME_SIZE + metalen or data > xdp.data_end - ETH_HLEN:
        return -EINVAL
    if metalen:
        xdp.buffer.move(xdp.data_meta + delta, xdp.data_meta, metalen)
    xdp.data_meta += delta
    xdp.data = data
    xdp.sync()
    return 0


def _xdp_adjust_tail(call: HelperCall, ctx: int, offset: int, *_: int) -> int:
    xdp, delta = _xdp(call, ctx), _s32(offset)
    if xdp.frags:  # non-linear buffer: the fragments grow or shrink
        ret = _xdp_frags_shrink(xdp, _s32(-delta)) if delta < 0 else _xdp_frags_grow(xdp, delta)
        xdp.sync()
        return ret
    data_end = xdp.data_end + delta
    if data_end > XDP_DATA_HARD_END or data_end < xdp.data + ETH_HLEN:
        return -EINVAL
    if delta > 0:  # clear the new bytes: they may hold old data
        xdp.buffer.zero(xdp.data_end, delta)
    xdp.data_end = data_end
    xdp.sync()
    return 0


def _xdp_frags_grow(xdp: XdpPacket, delta: int) -> int:
    last = xdp.frags[-1]
    if delta > PAGE_SIZE - len(last):
        return -EINVAL
    last.extend(bytes(delta))
    return 0


def _xdp_frags_shrink(xdp: XdpPacket, delta: int) -> int:
    if delta > xdp.buff_len - ETH_HLEN:
        return -EINVAL
    while xdp.frags and delta > 0:
        last = xdp.frags[-1]
        shrink = min(delta, len(last))
        delta -= shrink
        if shrink == len(last):
            xdp.frags.pop()
        else:
            del last[len(last) - shrink :]
    if not xdp.frags:
        xdp.data_end -= delta
    return 0


def _xdp_adjust_meta(call: HelperCall, ctx: int, offset: int, *_: int) -> int:
    xdp = _xdp(call, ctx)
    meta = xdp.data_meta + _s32(offset)
    if meta < XDP_FRAME_SIZE or meta > xdp.data:
        return -EINVAL
    metalen = xdp.data - meta
    if metalen % 4 or metalen > XDP_METADATA_MAX:
        return -EACCES
    xdp.data_meta = meta
    xdp.sync()
    return 0


def _xdp_bytes_error(xdp: XdpPacket, offset: int, size: int) -> int:
    """``bpf_xdp_pointer``'s checks."""
    if offset > M16 or size > M16:
        return -EFAULT
    if offset + size > xdp.buff_len:
        return -EINVAL
    return 0


def _xdp_load_bytes(call: HelperCall, ctx: int, offset: int, buf: int, size: int, *_: int) -> int:
    xdp, offset, size = _xdp(call, ctx), offset & M32, size & M32
    err = _xdp_bytes_error(xdp, offset, size)
    if not err:
        call.mem.write_bytes(buf, xdp.read(offset, size), call.pc)
    return err


def _xdp_store_bytes(call: HelperCall, ctx: int, offset: int, buf: int, size: int, *_: int) -> int:
    xdp, offset, size = _xdp(call, ctx), offset & M32, size & M32
    err = _xdp_bytes_error(xdp, offset, size)
    if not err:
        xdp.write(offset, call.mem.read_bytes(buf, size, call.pc))
    return err


def _xdp_get_buff_len(call: HelperCall, ctx: int, *_: int) -> int:
    return _xdp(call, ctx).buff_len


# --- socket buffer: bytes ----------------------------------------------------------------------


def _skb_load_bytes(call: HelperCall, ctx: int, offset: int, to: int, size: int, *_: int) -> int:
    skb, offset, size = _skb(call, ctx), offset & M32, size & M32
    if offset > INT_MAX or offset + size > skb.len:
        call.mem.write_bytes(to, bytes(size), call.pc)
        return -EFAULT
    call.mem.write_bytes(to, skb.read(offset, size), call.pc)
    return 0


def _skb_load_bytes_relative(
    call: HelperCall, ctx: int, offset: int, to: int, size: int, start_header: int
) -> int:
    skb, offset, size = _skb(call, ctx), offset & M32, size & M32
    starts = {BPF_HDR_START_MAC: skb.mac_header, BPF_HDR_START_NET: skb.network_header}
    start = starts.get(start_header & M32)
    if offset > M16 or start is None or start + offset + size > skb.tail:
        call.mem.write_bytes(to, bytes(size), call.pc)
        return -EFAULT
    call.mem.write_bytes(to, skb.buffer.read(start + offset, size), call.pc)
    return 0


def _skb_store_bytes(
    call: HelperCall, ctx: int, offset: int, src: int, size: int, flags: int
) -> int:
    skb, offset, size = _skb(call, ctx), offset & M32, size & M32
    if flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return -EINVAL
    if offset > INT_MAX or offset + size > skb.len:  # skb_ensure_writable() fails
        return -EFAULT
    # BPF_F_RECOMPUTE_CSUM only updates skb->csum of CHECKSUM_COMPLETE buffers: nothing here.
    skb.write(offset, call.mem.read_bytes(src, size, call.pc))
    if flags & BPF_F_INVALIDATE_HASH:
        skb.clear_hash()
    skb.sync()
    return 0


def _skb_pull_data(call: HelperCall, ctx: int, size: int, *_: int) -> int:
    skb = _skb(call, ctx)
    size = (size & M32) or skb.len
    skb.sync()
    return -ENOMEM if size > skb.len else 0  # the buffer is linear: nothing to pull


# --- socket buffer: checksums ------------------------------------------------------------------


def _csum_field(skb: SkbPacket, offset: int) -> int | None:
    """The checksum at ``offset`` (``offset > 0xffff || offset & 1`` and unwritable -> None)."""
    if offset > M16 or offset & 1 or offset + 2 > skb.len:
        return None
    value: int = struct.unpack("<H", skb.read(offset, 2))[0]
    return value


def _replace(check: int, frm: int, to: int, size: int) -> int | None:
    """The new checksum for a field of ``size`` bytes (0: ``to`` is a diff), None if invalid."""
    if size == 0:
        return None if frm else csum_replace_by_diff(check, to & M32)
    if size == 2:
        return csum_replace2(check, frm & M16, to & M16)
    if size == 4:
        return csum_replace4(check, frm & M32, to & M32)
    return None


def _l3_csum_replace(call: HelperCall, ctx: int, offset: int, frm: int, to: int, flags: int) -> int:
    skb, offset = _skb(call, ctx), offset & M32
    if flags & ~BPF_F_HDR_FIELD_MASK:
        return -EINVAL
    check = _csum_field(skb, offset)
    if check is None:
        return -EFAULT
    new = _replace(check, frm, to, flags & BPF_F_HDR_FIELD_MASK)
    if new is None:
        return -EINVAL
    skb.write(offset, struct.pack("<H", new))
    return 0


def _l4_csum_replace(call: HelperCall, ctx: int, offset: int, frm: int, to: int, flags: int) -> int:
    skb, offset = _skb(call, ctx), offset & M32
    allowed = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_IPV6
    if flags & ~(allowed | BPF_F_HDR_FIELD_MASK):
        return -EINVAL
    check = _csum_field(skb, offset)
    if check is None:
        return -EFAULT
    mangled_0 = bool(flags & BPF_F_MARK_MANGLED_0)
    if mangled_0 and not flags & BPF_F_MARK_ENFORCE and not check:
        return 0  # a zero UDP checksum means "no checksum": leave it
    # CHECKSUM_NONE: the pseudo-header flag changes nothing but the field itself.
    new = _replace(check, frm, to, flags & BPF_F_HDR_FIELD_MASK)
    if new is None:
        return -EINVAL
    if mangled_0 and not new:
        new = CSUM_MANGLED_0
    skb.write(offset, struct.pack("<H", new))
    return 0


def _csum_diff(call: HelperCall, frm: int, frm_size: int, to: int, to_size: int, seed: int) -> int:
    frm_size, to_size, seed = frm_size & M32, to_size & M32, seed & M32
    old = call.mem.read_bytes(frm, frm_size, call.pc)
    new = call.mem.read_bytes(to, to_size, call.pc)
    if old and new:  # diffing: the new words minus the old ones
        seed = csum_sub(csum_partial(new, seed), csum_partial(old, 0))
    elif new:  # pushing data
        seed = csum_partial(new, seed)
    elif old:  # pulling data
        seed = ~csum_partial(old, ~seed & M32) & M32
    return csum_from32to16(seed)


def _csum_update(call: HelperCall, ctx: int, *_: int) -> int:
    _skb(call, ctx)
    return -ENOTSUPP  # only CHECKSUM_COMPLETE buffers carry skb->csum


# --- socket buffer: geometry and hash ------------------------------------------------------


def _skb_change_head(call: HelperCall, ctx: int, head_room: int, flags: int, *_: int) -> int:
    skb, head_room = _skb(call, ctx), head_room & M32
    new_len = (skb.len + head_room) & M32
    gso = skb.gso_size != 0
    if flags or (not gso and new_len > SKB_MAX_ALLOC) or new_len < skb.len:
        ret = -EINVAL
    elif head_room + skb.buffer.size + SKB_SHINFO_SIZE > KMALLOC_MAX_SIZE:
        ret = -ENOMEM  # skb_cow() cannot allocate such a head
    else:
        skb.push(head_room)
        skb.mac_header = skb.data  # skb_reset_mac_header
        ret = 0
    skb.sync()
    return ret


def _skb_change_tail(call: HelperCall, ctx: int, new_len: int, flags: int, *_: int) -> int:
    skb, new_len = _skb(call, ctx), new_len & M32
    min_len = skb.network_offset & M32  # no transport header, not CHECKSUM_PARTIAL
    if flags or new_len > SKB_MAX_ALLOC or new_len < min_len:
        ret = -EINVAL
    else:
        skb.set_len(new_len)
        if skb.gso_size:  # skb_gso_reset
            skb.gso_size = skb.gso_segs = 0
        ret = 0
    skb.sync()
    return ret


def _get_hash_recalc(call: HelperCall, ctx: int, *_: int) -> int:
    skb = _skb(call, ctx)
    if not skb.sw_hash:
        # The kernel hashes the dissected flow with a random boot-time key; any stable
        # non-zero value is as good a stand-in.
        body = skb.buffer.read(skb.network_header, max(skb.tail - skb.network_header, 0))
        skb.hash, skb.sw_hash = zlib.crc32(body) or 1, True
        skb.sync()
    return skb.hash


def _set_hash(call: HelperCall, ctx: int, value: int, *_: int) -> int:
    skb = _skb(call, ctx)
    skb.hash, skb.sw_hash = value & M32, True
    skb.sync()
    return 0


def _set_hash_invalid(call: HelperCall, ctx: int, *_: int) -> int:
    skb = _skb(call, ctx)
    skb.clear_hash()
    skb.sync()
    return 0


def _redirect(call: HelperCall, ifindex: int, flags: int, *_: int) -> int:
    packet = call.packet
    if isinstance(packet, XdpPacket):
        if flags:
            return XDP_ABORTED
        packet.redirect = Redirect(ifindex & M32, 0)
        return XDP_REDIRECT
    if isinstance(packet, SkbPacket):
        if flags & ~BPF_F_INGRESS:
            return TC_ACT_SHOT
        packet.redirect = Redirect(ifindex & M32, flags)
        return TC_ACT_REDIRECT
    raise VmFault(call.pc, "bpf_redirect needs a packet context")


PACKET_HELPERS: Mapping[str, HelperFn] = {
    "bpf_xdp_adjust_head": _xdp_adjust_head,
    "bpf_xdp_adjust_tail": _xdp_adjust_tail,
    "bpf_xdp_adjust_meta": _xdp_adjust_meta,
    "bpf_xdp_load_bytes": _xdp_load_bytes,
    "bpf_xdp_store_bytes": _xdp_store_bytes,
    "bpf_xdp_get_buff_len": _xdp_get_buff_len,
    "bpf_skb_load_bytes": _skb_load_bytes,
    "bpf_skb_load_bytes_relative": _skb_load_bytes_relative,
    "bpf_skb_store_bytes": _skb_store_bytes,
    "bpf_skb_pull_data": _skb_pull_data,
    "bpf_l3_csum_replace": _l3_csum_replace,
    "bpf_l4_csum_replace": _l4_csum_replace,
    "bpf_csum_diff": _csum_diff,
    "bpf_csum_update": _csum_update,
    "bpf_skb_change_head": _skb_change_head,
    "bpf_skb_change_tail": _skb_change_tail,
    "bpf_get_hash_recalc": _get_hash_recalc,
    "bpf_set_hash": _set_hash,
    "bpf_set_hash_invalid": _set_hash_invalid,
    "bpf_redirect": _redirect,
}
