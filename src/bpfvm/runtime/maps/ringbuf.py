"""The BPF ring buffer: ``ringbuf`` (``kernel/bpf/ringbuf.c``) and its user-space consumer.

``max_entries`` is the data size, a power of two and a multiple of the page size. Records are
written at ``producer_pos & mask``, each an 8-byte header and the sample, the whole rounded up
to 8 bytes. The header is the kernel's ``struct bpf_ringbuf_hdr``: a u32 ``len`` whose bit 31
(``BPF_RINGBUF_BUSY_BIT``) is set while the record is reserved and bit 30
(``BPF_RINGBUF_DISCARD_BIT``) once it is discarded, then a u32 ``pg_off`` (the header's page
offset from the start of the kernel's ring buffer object: a page of bookkeeping and the
consumer and producer position pages precede the data, so ``3 + offset // 4096``).

The kernel maps the data pages twice in a row so a record that wraps around the end is
contiguous. bpfvm allocates twice the data size instead: a record is always reserved
contiguously from its start, and when it is committed the part past the end is copied to the
start of the ring, where a consumer reads it. Only the producer can see the difference, and
only in a record it has not committed yet.

A reservation fails when the record would take the producer more than ``size - 1`` bytes
ahead of the consumer, or of the oldest record still being written (``pending_pos``, as in
Linux 6.10 and later). The consumer (:meth:`RingBufMap.consume`) reads as libbpf's
``ring_buffer__consume`` does: records in order, stopping at a busy one, skipping discarded
ones, freeing the space as it goes. Positions live in the handle (``aux0`` consumer,
``aux1`` producer, ``aux2`` pending, ``aux3`` mask) and nowhere else, as does the count of
wakeups (offset 80): the JIT's inline ``bpf_ringbuf_reserve``/``submit``/``discard``
(:mod:`bpfvm.vm.jit.lower_ringbuf`) work on the same words.
"""

from __future__ import annotations

import errno as _errno
import struct

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import (
    ENOTSUPP,
    OFF_AUX0,
    OFF_AUX1,
    OFF_AUX2,
    OFF_AUX3,
    OFF_RINGBUF_WAKEUPS,
    PAGE_SIZE,
    BpfMap,
    round8,
    storage_region,
)
from bpfvm.runtime.memory import Region

BPF_RINGBUF_BUSY_BIT = 1 << 31
BPF_RINGBUF_DISCARD_BIT = 1 << 30
BPF_RINGBUF_HDR_SZ = 8
RINGBUF_MAX_RECORD_SZ = 0xFFFFFFFF // 4
RINGBUF_PGOFF = 1  # pages of struct bpf_ringbuf before consumer_pos
RINGBUF_POS_PAGES = 2

# bpf_ringbuf_query flags, commit flags
BPF_RB_AVAIL_DATA = 0
BPF_RB_RING_SIZE = 1
BPF_RB_CONS_POS = 2
BPF_RB_PROD_POS = 3
BPF_RB_NO_WAKEUP = 1 << 0
BPF_RB_FORCE_WAKEUP = 1 << 1

_HDR = struct.Struct("<II")
_U64 = struct.Struct("<Q")


class _HandleWord:
    """A u64 of the handle as an attribute (the handle is the one copy native code shares)."""

    def __init__(self, off: int, doc: str) -> None:
        self.off = off
        self.__doc__ = doc

    def __get__(self, obj: RingBufMap | None, owner: object = None) -> int:
        if obj is None:
            raise AttributeError("a ring buffer position belongs to a map")
        value: int = _U64.unpack_from(obj.handle.buf, self.off)[0]
        return value

    def __set__(self, obj: RingBufMap, value: int) -> None:
        _U64.pack_into(obj.handle.buf, self.off, value)


class RingBufMap(BpfMap):
    """``BPF_MAP_TYPE_RINGBUF``: programs reserve/submit/output, Python consumes."""

    kind = "ringbuf"
    consumer_pos = _HandleWord(OFF_AUX0, "the consumer position (handle aux0)")
    producer_pos = _HandleWord(OFF_AUX1, "the producer position (handle aux1)")
    pending_pos = _HandleWord(OFF_AUX2, "the oldest record maybe still busy (handle aux2)")
    wakeups = _HandleWord(OFF_RINGBUF_WAKEUPS, "notifications a real consumer would get")

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self.size = self.max_entries
        self.mask = self.size - 1
        self.data: Region = storage_region(spec, "data", 2 * self.size)
        self._set_layout(self.data.addr, 0)
        self._set_handle_u64(OFF_AUX3, self.mask)

    def regions(self) -> list[Region]:
        return [*super().regions(), self.data]

    def _hdr_len(self, pos: int) -> int:
        length: int = _HDR.unpack_from(self.data.buf, pos & self.mask)[0]
        return length

    # --- producer (program side) -----------------------------------------------------------

    def reserve(self, size: int, flags: int = 0) -> int:
        """``bpf_ringbuf_reserve``: the sample's address, or 0 (NULL)."""
        if flags:
            return 0
        return self._reserve(size)

    def _reserve(self, size: int) -> int:
        """``__bpf_ringbuf_reserve``."""
        if size > RINGBUF_MAX_RECORD_SZ:
            return 0
        length = round8(size + BPF_RINGBUF_HDR_SZ)
        if length > self.size:
            return 0
        pend = self.pending_pos
        while pend < self.producer_pos:  # skip records committed since the last reserve
            hdr_len = self._hdr_len(pend)
            if hdr_len & BPF_RINGBUF_BUSY_BIT:
                break
            pend += round8((hdr_len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ)
        self.pending_pos = pend
        new_prod = self.producer_pos + length
        if new_prod - self.consumer_pos > self.mask or new_prod - pend > self.mask:
            return 0
        off = self.producer_pos & self.mask
        pg_off = RINGBUF_PGOFF + RINGBUF_POS_PAGES + off // PAGE_SIZE
        _HDR.pack_into(self.data.buf, off, size | BPF_RINGBUF_BUSY_BIT, pg_off)
        self.producer_pos = new_prod
        return self.data.addr + off + BPF_RINGBUF_HDR_SZ

    def _record_at(self, addr: int) -> tuple[int, int] | None:
        """(offset of the header, sample size) of the reserved sample at ``addr``."""
        off = addr - BPF_RINGBUF_HDR_SZ - self.data.addr
        if off < 0 or off >= self.size or off % 8:
            return None
        hdr_len = self._hdr_len(off)
        if not hdr_len & BPF_RINGBUF_BUSY_BIT:
            return None
        return off, hdr_len & ~BPF_RINGBUF_BUSY_BIT

    def _commit(self, addr: int, flags: int, discard: bool) -> None:
        """``bpf_ringbuf_commit``: clear the busy bit (set discard), fold a wrapped tail."""
        rec = self._record_at(addr)
        if rec is None:
            self._fail(_errno.EINVAL, f"{addr:#x} is not a reserved sample")
        off, size = rec
        end = off + BPF_RINGBUF_HDR_SZ + size
        if end > self.size:  # the part past the end belongs at the start of the ring
            self.data.write(0, self.data.read(self.size, end - self.size))
        new_len = size | (BPF_RINGBUF_DISCARD_BIT if discard else 0)
        struct.pack_into("<I", self.data.buf, off, new_len)
        if flags & BPF_RB_FORCE_WAKEUP or (
            (self.consumer_pos & self.mask) == off and not flags & BPF_RB_NO_WAKEUP
        ):
            self.wakeups += 1

    def submit(self, addr: int, flags: int = 0) -> None:
        """``bpf_ringbuf_submit``."""
        self._commit(addr, flags, False)

    def discard(self, addr: int, flags: int = 0) -> None:
        """``bpf_ringbuf_discard``."""
        self._commit(addr, flags, True)

    def output(self, data: bytes, flags: int = 0) -> int:
        """``bpf_ringbuf_output``: 0, ``-EINVAL`` for bad flags, ``-EAGAIN`` when full."""
        if flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP):
            return -_errno.EINVAL
        addr = self._reserve(len(data))
        if not addr:
            return -_errno.EAGAIN
        self.data.write(addr - self.data.addr, data)
        self._commit(addr, flags, False)
        return 0

    def query(self, flags: int) -> int:
        """``bpf_ringbuf_query``."""
        if flags == BPF_RB_AVAIL_DATA:
            return self.producer_pos - self.consumer_pos
        if flags == BPF_RB_RING_SIZE:
            return self.size
        if flags == BPF_RB_CONS_POS:
            return self.consumer_pos
        if flags == BPF_RB_PROD_POS:
            return self.producer_pos
        return 0

    # --- consumer (user side) ------------------------------------------------------------------

    def consume(self) -> list[bytes]:
        """Every submitted sample not yet consumed, in order; frees their space.

        Stops at the first record still being written (busy), as libbpf does; discarded
        records are skipped.
        """
        out: list[bytes] = []
        cons = self.consumer_pos
        while cons < self.producer_pos:
            hdr_len = self._hdr_len(cons)
            if hdr_len & BPF_RINGBUF_BUSY_BIT:
                break
            size = hdr_len & ~BPF_RINGBUF_DISCARD_BIT
            if not hdr_len & BPF_RINGBUF_DISCARD_BIT:
                start = (cons + BPF_RINGBUF_HDR_SZ) & self.mask
                first = min(size, self.size - start)
                sample = self.data.read(start, first) + self.data.read(0, size - first)
                out.append(sample)
            cons += round8(size + BPF_RINGBUF_HDR_SZ)
            self.consumer_pos = cons
        return out

    def __len__(self) -> int:
        return self.producer_pos - self.consumer_pos

    # --- syscall side: no element operations -------------------------------------------------

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        self._fail(ENOTSUPP, "ring buffers have no elements")

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        self._fail(ENOTSUPP, "ring buffers have no elements")

    def _sys_delete(self, key: bytes | None) -> None:
        self._fail(ENOTSUPP, "ring buffers have no elements")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        self._fail(ENOTSUPP, "ring buffers have no elements")
