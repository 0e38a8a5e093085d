"""Packet states reused between the test runs of one object (:class:`PacketPool`).

Building a packet state maps a fresh packet buffer (an anonymous ``MAP_32BIT`` mapping, whose
first touch faults its page in) and allocates its context region: most of the cost of one
``test_run`` call from Python. A :class:`PacketPool` keeps the states it built, keyed by the
constructor and everything it was given but the packet bytes (their length included), and
hands a free one back to the next run of the same shape, reset to exactly what the
constructor made: its attributes (mutable ones copied), its context region and its whole
buffer restored from the snapshot taken right after construction, then the new packet bytes
written where the old ones were (the input always ends where the packet window ends) and
``sync()`` called. A state whose buffer a helper replaced (``pskb_expand_head``) is not
reused. Nothing of one run can reach the next: every byte and field is the pristine one.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, TypeVar

from bpfvm.runtime.packet import SkbPacket, XdpPacket

State = TypeVar("State", XdpPacket, SkbPacket)

POOL_SLOTS = 8  # shapes kept per pool (least recently used dropped)


class _Slot:
    """One pooled state and its pristine snapshot."""

    def __init__(self, state: XdpPacket | SkbPacket, blob_len: int) -> None:
        self.state = state
        self.buffer = state.buffer
        attrs = {k: _fresh(v) for k, v in vars(state).items()}
        # immutable values are shared as they are; mutable ones are copied on every reset
        self.plain = {k: v for k, v in attrs.items() if not isinstance(v, _MUTABLE)}
        self.mutable = [(k, v) for k, v in attrs.items() if isinstance(v, _MUTABLE)]
        self.ctx_bytes = state.ctx.read()
        self.buffer_bytes = state.buffer.read(0, state.buffer.size)
        window = state.window
        self.blob_at = window.addr + window.size - blob_len
        self.blob_len = blob_len
        if not self.buffer.addr <= self.blob_at <= self.buffer.addr + self.buffer.size - blob_len:
            raise ValueError("packet bytes outside the packet buffer")  # not poolable
        self.busy = True

    def reset(self, blob: bytes) -> None:
        state = self.state
        attrs = vars(state)
        attrs.clear()
        attrs.update(self.plain)
        for k, v in self.mutable:
            attrs[k] = _fresh(v)
        state.ctx.write(0, self.ctx_bytes)
        self.buffer.write(0, self.buffer_bytes)
        ctypes.memmove(self.blob_at, blob, self.blob_len)
        state.sync()
        self.busy = True


_MUTABLE = (list, bytearray, dict, set)  # the attribute values _fresh copies


def _fresh(value: Any) -> Any:
    """A copy of a mutable attribute value (lists of fragments), the value itself otherwise."""
    if isinstance(value, list):
        return [bytearray(v) if isinstance(v, bytearray) else v for v in value]
    if isinstance(value, bytearray):
        return bytearray(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return set(value)
    return value


class PacketPool:
    """The packet states of one object's test runs, reused shape by shape."""

    def __init__(self, slots: int = POOL_SLOTS) -> None:
        self.capacity = slots
        self._slots: OrderedDict[Hashable, _Slot] = OrderedDict()
        self.reused = 0

    def new(self, cls: type[State], blob: bytes, *rest: Any) -> State:
        """``cls(blob, *rest)``, or a free pooled state of the same shape reset to it."""
        key = (cls, len(blob), *[tuple(r) if isinstance(r, list) else r for r in rest])
        slot = self._slots.get(key)
        if slot is not None and not slot.busy and slot.state.buffer is slot.buffer:
            self._slots.move_to_end(key)
            slot.reset(blob)
            self.reused += 1
            state: State = slot.state  # type: ignore[assignment]
            return state
        state = cls(blob, *rest)
        if slot is None or not slot.busy:  # an unusable free slot is replaced
            if slot is not None:
                self._drop(key)
            try:
                self._slots[key] = _Slot(state, len(blob))
            except ValueError:
                return state
            while len(self._slots) > self.capacity:
                self._drop(next(iter(self._slots)))
        return state

    def release(self, state: XdpPacket | SkbPacket) -> bool:
        """Give ``state`` back after its run; False when it is not pooled (close it)."""
        for key, slot in self._slots.items():
            if slot.state is state:
                if state.buffer is not slot.buffer:  # reallocated by a helper: not reusable
                    del self._slots[key]
                    return False
                slot.busy = False
                return True
        return False

    def _drop(self, key: Hashable) -> None:
        slot = self._slots.pop(key)
        if not slot.busy and slot.state.buffer is slot.buffer:
            slot.state.close()

    def close(self) -> None:
        """Unmap every free pooled state."""
        for key in list(self._slots):
            self._drop(key)
