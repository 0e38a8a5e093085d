"""``perf_event_array``: per-CPU output channels for ``bpf_perf_event_output``.

In the kernel each slot holds a perf event file (a ``PERF_COUNT_SW_BPF_OUTPUT`` event opened
on one CPU, usually slot ``i`` on CPU ``i``, as libbpf's ``perf_buffer`` sets it up) and the
helper writes a sample into that event's ring. bpfvm models the events as *readers*: a slot is
either closed or open and bound to one CPU (or to any CPU), and samples queue up in order until
:meth:`PerfEventArrayMap.read` takes them. At creation every slot is open, slot ``i`` bound to
CPU ``i`` when ``i < ncpus`` and to any CPU otherwise.

Output follows ``__bpf_perf_event_output``: the low 32 bits of ``flags`` are the slot
(``BPF_F_CURRENT_CPU`` means the running CPU's), a slot beyond ``max_entries`` gives
``-E2BIG``, a closed one ``-ENOENT`` and one bound to another CPU ``-EOPNOTSUPP``.
"""

from __future__ import annotations

import errno as _errno
import struct
from collections.abc import Iterator

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.array import array_next_key
from bpfvm.runtime.maps.base import BPF_ANY, ENOTSUPP, BpfMap, u32_key

BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CURRENT_CPU = BPF_F_INDEX_MASK
BPF_F_CTXLEN_MASK = 0xFFFFF << 32
ANY_CPU = -1


class PerfEventArrayMap(BpfMap):
    """``BPF_MAP_TYPE_PERF_EVENT_ARRAY``."""

    kind = "perf_event_array"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        # slot -> the CPU its reader is bound to (ANY_CPU: any); absent: closed
        self._open: dict[int, int] = {
            i: i if i < ncpus else ANY_CPU for i in range(self.max_entries)
        }
        self._samples: list[tuple[int, bytes]] = []

    def open(self, index: int, cpu: int | None = None) -> None:
        """Attach a reader to slot ``index``, bound to ``cpu`` (None: any CPU)."""
        if not 0 <= index < self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        self._open[index] = ANY_CPU if cpu is None else cpu

    def close(self, index: int) -> None:
        """Detach slot ``index``'s reader: output to it fails with ``-ENOENT``."""
        self.delete(index)

    def is_open(self, index: int) -> bool:
        return index in self._open

    def output(self, flags: int, data: bytes, cpu: int = 0, *, ctxlen_ok: bool = False) -> int:
        """``bpf_perf_event_output``: 0 or ``-errno``.

        ``ctxlen_ok`` allows the ``BPF_F_CTXLEN_MASK`` bits, as the skb and xdp variants do
        (their helper appends the context bytes to ``data`` itself).
        """
        allowed = BPF_F_INDEX_MASK | (BPF_F_CTXLEN_MASK if ctxlen_ok else 0)
        if flags & ~allowed:
            return -_errno.EINVAL
        index = flags & BPF_F_INDEX_MASK
        if index == BPF_F_CURRENT_CPU:
            index = cpu
        if index >= self.max_entries:
            return -_errno.E2BIG
        bound = self._open.get(index)
        if bound is None:
            return -_errno.ENOENT
        if bound not in (ANY_CPU, cpu):
            return -_errno.EOPNOTSUPP
        self._samples.append((index, bytes(data)))
        return 0

    def read(self) -> list[tuple[int, bytes]]:
        """Every sample written since the last read, in order, as ``(slot, data)``."""
        samples, self._samples = self._samples, []
        return samples

    # --- syscall side: slots as an fd array ------------------------------------------------

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        self._fail(ENOTSUPP, "perf event arrays cannot be looked up")

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        """Open the slot; the value is the reader's CPU as a u32 (``0xffffffff``: any)."""
        assert key is not None
        if flags != BPF_ANY:
            self._fail(_errno.EINVAL, f"invalid flags {flags:#x} for an fd array")
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        if not isinstance(value, bytes) or len(value) != 4:
            self._fail(_errno.EINVAL, "the value is the reader's CPU, a u32")
        cpu = u32_key(value)
        self.open(index, None if cpu == 0xFFFFFFFF else cpu)

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        index = u32_key(key)
        if index >= self.max_entries:
            self._fail(_errno.E2BIG, f"slot {index} beyond max_entries {self.max_entries}")
        if self._open.pop(index, None) is None:
            self._fail(_errno.ENOENT, f"slot {index} is not open")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        return array_next_key(key, self.max_entries)

    def keys(self) -> Iterator[bytes]:
        self._readable()
        for index in range(self.max_entries):
            yield struct.pack("<I", index)

    def __len__(self) -> int:
        return self.max_entries
