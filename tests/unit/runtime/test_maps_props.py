"""Model-based tests: runtime maps against plain Python models (hypothesis state machines)."""

from __future__ import annotations

import ctypes
import errno
import struct
from collections import deque

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BPF_F_NO_PREALLOC, BpfMap, MapError, create_map

SETTINGS = settings(max_examples=60, stateful_step_count=40, deadline=None)
FLAGS = st.sampled_from([0, 0, 1, 2])
KEYS = st.integers(0, 12).map(lambda i: struct.pack("<I", i * 2654435761 & 0xFFFFFFFF))
VALUES = st.binary(min_size=8, max_size=8)


def outcome(fn: object, *args: object) -> tuple[int, object]:
    """(0, result) or (errno, None), whatever side raised."""
    try:
        return 0, fn(*args)  # type: ignore[operator]
    except MapError as e:
        return e.errno, None


class HashVsDict(RuleBasedStateMachine):
    """A hash map (preallocated or not, any CPU) behaves as a bounded dict."""

    def __init__(self) -> None:
        super().__init__()
        self.capacity = 6
        self.map: BpfMap | None = None
        self.model: dict[bytes, bytes] = {}

    @precondition(lambda self: self.map is None)
    @rule(prealloc=st.booleans())
    def create(self, prealloc: bool) -> None:
        flags = 0 if prealloc else BPF_F_NO_PREALLOC
        self.map = create_map(MapSpec("h", MapType.HASH, 4, 8, self.capacity, flags), ncpus=2)

    def expected_update(self, key: bytes, flags: int) -> int:
        if key in self.model and flags == 1:
            return errno.EEXIST
        if key not in self.model and flags == 2:
            return errno.ENOENT
        if key not in self.model and len(self.model) == self.capacity:
            return errno.E2BIG
        return 0

    @precondition(lambda self: self.map is not None)
    @rule(key=KEYS, value=VALUES, flags=FLAGS)
    def update(self, key: bytes, value: bytes, flags: int) -> None:
        assert self.map is not None
        want = self.expected_update(key, flags)
        assert outcome(self.map.update, key, value, flags)[0] == want
        if not want:
            self.model[key] = value

    @precondition(lambda self: self.map is not None)
    @rule(key=KEYS, value=VALUES, flags=FLAGS, cpu=st.integers(0, 1))
    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> None:
        assert self.map is not None
        want = self.expected_update(key, flags)
        assert self.map.prog_update(key, value, flags, cpu) == -want
        if not want:
            self.model[key] = value

    @precondition(lambda self: self.map is not None)
    @rule(key=KEYS)
    def delete(self, key: bytes) -> None:
        assert self.map is not None
        want = 0 if key in self.model else errno.ENOENT
        assert outcome(self.map.delete, key)[0] == want
        self.model.pop(key, None)

    @precondition(lambda self: self.map is not None)
    @rule(key=KEYS)
    def lookups(self, key: bytes) -> None:
        assert self.map is not None
        assert self.map.lookup(key) == self.model.get(key)
        addr = self.map.prog_lookup(key)
        if key in self.model:
            assert ctypes.string_at(addr, 8) == self.model[key]
        else:
            assert addr == 0

    @precondition(lambda self: self.map is not None)
    @rule(key=KEYS)
    def lookup_and_delete(self, key: bytes) -> None:
        assert self.map is not None
        want = (0, self.model.pop(key)) if key in self.model else (errno.ENOENT, None)
        assert outcome(self.map.lookup_and_delete, key) == want

    @invariant()
    def same_contents(self) -> None:
        if self.map is None:
            return
        walked: list[bytes] = []
        key = self.map.get_next_key(None)
        while key is not None and len(walked) <= self.capacity:
            walked.append(key)
            key = self.map.get_next_key(key)
        assert sorted(walked) == sorted(self.model)
        assert walked == list(self.map.keys())
        assert len(self.map) == len(self.model)
        seen = {ctypes.string_at(k, 4): ctypes.string_at(v, 8) for k, v in self.map.for_each()}
        assert seen == self.model


class ArrayVsList(RuleBasedStateMachine):
    """An array (per-CPU or not) behaves as a fixed list of zero-initialised values."""

    def __init__(self) -> None:
        super().__init__()
        self.map: BpfMap | None = None
        self.model: list[list[bytes]] = []
        self.ncpus = 1

    @precondition(lambda self: self.map is None)
    @rule(percpu=st.booleans(), n=st.integers(1, 5))
    def create(self, percpu: bool, n: int) -> None:
        t = MapType.PERCPU_ARRAY if percpu else MapType.ARRAY
        self.ncpus = 3 if percpu else 1
        self.map = create_map(MapSpec("a", t, 4, 8, n), ncpus=self.ncpus)
        self.model = [[bytes(8)] * self.ncpus for _ in range(n)]

    @precondition(lambda self: self.map is not None)
    @rule(index=st.integers(0, 6), value=VALUES, flags=FLAGS)
    def update(self, index: int, value: bytes, flags: int) -> None:
        assert self.map is not None
        if index >= len(self.model):
            want = errno.E2BIG
        elif flags == 1:
            want = errno.EEXIST
        else:
            want = 0
        assert outcome(self.map.update, index, value, flags)[0] == want
        if not want:
            self.model[index] = [value] * self.ncpus

    @precondition(lambda self: self.map is not None)
    @rule(index=st.integers(0, 6), value=VALUES, cpu=st.integers(0, 2))
    def prog_update(self, index: int, value: bytes, cpu: int) -> None:
        assert self.map is not None
        cpu %= self.ncpus
        want = errno.E2BIG if index >= len(self.model) else 0
        assert self.map.prog_update(struct.pack("<I", index), value, 0, cpu) == -want
        if not want:
            self.model[index][cpu] = value

    @invariant()
    def same_contents(self) -> None:
        if self.map is None:
            return
        for index, values in enumerate(self.model):
            got = self.map.lookup(index)
            assert got == (values if self.ncpus > 1 else values[0])
            for cpu in range(self.ncpus):
                addr = self.map.prog_lookup(struct.pack("<I", index), cpu)
                assert ctypes.string_at(addr, 8) == values[cpu]
        assert self.map.lookup(len(self.model)) is None


class QueueStackVsDeque(RuleBasedStateMachine):
    """Queues and stacks behave as a bounded deque."""

    def __init__(self) -> None:
        super().__init__()
        self.map: BpfMap | None = None
        self.model: deque[bytes] = deque()
        self.stack = False

    @precondition(lambda self: self.map is None)
    @rule(stack=st.booleans())
    def create(self, stack: bool) -> None:
        self.stack = stack
        self.map = create_map(MapSpec("q", MapType.STACK if stack else MapType.QUEUE, 0, 8, 4))

    @precondition(lambda self: self.map is not None)
    @rule(value=VALUES, flags=st.sampled_from([0, 2]))
    def push(self, value: bytes, flags: int) -> None:
        assert self.map is not None
        if len(self.model) == 4 and not flags:
            assert self.map.prog_push(value, flags) == -errno.E2BIG
            return
        if len(self.model) == 4:
            self.model.popleft()
        assert self.map.prog_push(value, flags) == 0
        self.model.append(value)

    @precondition(lambda self: self.map is not None)
    @rule()
    def pop(self) -> None:
        assert self.map is not None
        if not self.model:
            assert self.map.prog_pop() == -errno.ENOENT
            return
        want = self.model.pop() if self.stack else self.model.popleft()
        assert self.map.prog_pop() == want

    @invariant()
    def same_contents(self) -> None:
        if self.map is None:
            return
        assert len(self.map) == len(self.model)
        if self.model:
            assert self.map.prog_peek() == (self.model[-1] if self.stack else self.model[0])


def _prefix(prefixlen: int, data: bytes) -> int:
    return int.from_bytes(data, "big") >> (16 - prefixlen)


class LpmVsBruteForce(RuleBasedStateMachine):
    """An lpm trie answers as a scan for the longest stored prefix of the key."""

    def __init__(self) -> None:
        super().__init__()
        self.map = create_map(MapSpec("t", MapType.LPM_TRIE, 6, 4, 8, BPF_F_NO_PREALLOC))
        self.model: dict[tuple[int, int], bytes] = {}

    @staticmethod
    def key(prefixlen: int, bits: int) -> bytes:
        data = ((bits << (16 - prefixlen)) & 0xFFFF if prefixlen else 0).to_bytes(2, "big")
        return struct.pack("<I", prefixlen) + data

    @rule(prefixlen=st.integers(0, 16), bits=st.integers(0, 0xFFFF), value=VALUES, flags=FLAGS)
    def update(self, prefixlen: int, bits: int, value: bytes, flags: int) -> None:
        ident = (prefixlen, bits & ((1 << prefixlen) - 1))
        if ident in self.model:
            want = errno.EEXIST if flags == 1 else 0
        elif flags == 2:
            want = errno.ENOENT
        else:
            want = errno.ENOSPC if len(self.model) == 8 else 0
        assert outcome(self.map.update, self.key(*ident), value[:4], flags)[0] == want
        if not want:
            self.model[ident] = value[:4]

    @rule(prefixlen=st.integers(0, 16), bits=st.integers(0, 0xFFFF))
    def delete(self, prefixlen: int, bits: int) -> None:
        ident = (prefixlen, bits & ((1 << prefixlen) - 1))
        want = 0 if ident in self.model else errno.ENOENT
        assert outcome(self.map.delete, self.key(*ident))[0] == want
        self.model.pop(ident, None)

    @rule(bits=st.integers(0, 0xFFFF))
    def lookup(self, bits: int) -> None:
        best = None
        for (plen, pbits), value in self.model.items():
            if (bits >> (16 - plen) if plen else 0) == pbits and (best is None or plen > best[0]):
                best = (plen, value)
        got = self.map.lookup(self.key(16, bits))
        assert got == (None if best is None else best[1])

    @invariant()
    def same_keys(self) -> None:
        keys = list(self.map.keys())
        assert sorted(keys) == sorted(self.key(*ident) for ident in self.model)
        lengths = [struct.unpack_from("<I", k)[0] for k in keys]
        for i, key in enumerate(keys):  # post-order: the prefixes a key covers come before it
            for later, length in zip(keys[i + 1 :], lengths[i + 1 :], strict=True):
                covered = _prefix(lengths[i], key[4:]) == _prefix(lengths[i], later[4:])
                assert not (length > lengths[i] and covered)


TestHashVsDict = HashVsDict.TestCase
TestHashVsDict.settings = SETTINGS
TestArrayVsList = ArrayVsList.TestCase
TestArrayVsList.settings = SETTINGS
TestQueueStackVsDeque = QueueStackVsDeque.TestCase
TestQueueStackVsDeque.settings = SETTINGS
TestLpmVsBruteForce = LpmVsBruteForce.TestCase
TestLpmVsBruteForce.settings = SETTINGS
