"""Native memory regions and the checked address space the interpreter runs over.

Everything a program can touch (stack frames, ctx, packet, map values, ...) lives in native
memory owned by a :class:`Region` (a ctypes buffer), so a pointer held in a BPF register is a
real address that native code (the JIT) can use directly. The interpreter never dereferences
such an address itself: :class:`AddressSpace` translates every access into (region, offset)
and refuses any access that is not wholly inside one live region, so an unverified program
that strays gets a :class:`~bpfvm.errors.VmFault` with its pc, never host memory.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

from bpfvm.errors import VmFault

_UNSIGNED = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I"),
             8: struct.Struct("<Q")}  # fmt: skip


@dataclass(eq=False)
class Region:
    """A block of native memory a program may access."""

    name: str
    size: int
    writable: bool = True
    buf: ctypes.Array[ctypes.c_char] = field(init=False, repr=False)
    addr: int = field(init=False)

    def __post_init__(self) -> None:
        # One spare byte keeps a zero-sized region at a distinct, valid address.
        self.buf = ctypes.create_string_buffer(self.size + 1)
        self.addr = ctypes.addressof(self.buf)

    @classmethod
    def from_bytes(cls, name: str, data: bytes, writable: bool = True) -> Region:
        region = cls(name, len(data), writable)
        ctypes.memmove(region.buf, data, len(data))
        return region

    def read(self, off: int = 0, size: int | None = None) -> bytes:
        size = self.size - off if size is None else size
        return ctypes.string_at(self.addr + off, size)

    def write(self, off: int, data: bytes) -> None:
        if off < 0 or off + len(data) > self.size:
            raise ValueError(f"write of {len(data)} bytes at {off} outside region {self.name}")
        ctypes.memmove(self.addr + off, data, len(data))

    @property
    def end(self) -> int:
        return self.addr + self.size


class AddressSpace:
    """The set of live regions; every load and store is checked against it."""

    def __init__(self) -> None:
        self._regions: list[Region] = []
        self._last: Region | None = None

    def map(self, region: Region) -> Region:
        self._regions.append(region)
        return region

    def unmap(self, region: Region) -> None:
        self._regions.remove(region)
        if self._last is region:
            self._last = None

    def clear(self) -> None:
        self._regions.clear()
        self._last = None

    @property
    def regions(self) -> tuple[Region, ...]:
        return tuple(self._regions)

    def find(self, addr: int, size: int) -> tuple[Region, int] | None:
        """The region wholly containing ``[addr, addr+size)`` and the offset in it."""
        last = self._last
        if last is not None and last.addr <= addr and addr + size <= last.end:
            return last, addr - last.addr
        for region in reversed(self._regions):
            if region.addr <= addr and addr + size <= region.end:
                self._last = region
                return region, addr - region.addr
        return None

    def _resolve(self, addr: int, size: int, pc: int, write: bool) -> tuple[Region, int]:
        hit = self.find(addr, size)
        what = "write" if write else "read"
        if hit is None:
            raise VmFault(pc, f"invalid {what} of {size} bytes at address {addr:#x}")
        if write and not hit[0].writable:
            raise VmFault(pc, f"write of {size} bytes into read-only {hit[0].name}")
        return hit

    def load(self, addr: int, size: int, pc: int) -> int:
        last = self._last  # fast path: the region of the previous access
        if last is not None and last.addr <= addr and addr + size <= last.addr + last.size:
            value: int = _UNSIGNED[size].unpack_from(last.buf, addr - last.addr)[0]
            return value
        region, off = self._resolve(addr, size, pc, False)
        value = _UNSIGNED[size].unpack_from(region.buf, off)[0]
        return value

    def store(self, addr: int, size: int, value: int, pc: int) -> None:
        value &= (1 << (8 * size)) - 1
        last = self._last
        if (
            last is not None
            and last.writable
            and last.addr <= addr
            and addr + size <= last.addr + last.size
        ):
            _UNSIGNED[size].pack_into(last.buf, addr - last.addr, value)
            return
        region, off = self._resolve(addr, size, pc, True)
        _UNSIGNED[size].pack_into(region.buf, off, value)

    def read_bytes(self, addr: int, size: int, pc: int) -> bytes:
        """A copy of ``size`` bytes at ``addr`` (for helpers taking memory arguments)."""
        if size == 0:
            return b""
        region, off = self._resolve(addr, size, pc, False)
        return region.read(off, size)

    def write_bytes(self, addr: int, data: bytes, pc: int) -> None:
        if not data:
            return
        region, off = self._resolve(addr, len(data), pc, True)
        region.write(off, data)
