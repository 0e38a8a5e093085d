"""Longest-prefix-match tries: ``lpm_trie`` (``kernel/bpf/lpm_trie.c``).

A key is ``struct bpf_lpm_trie_key_u8``: a host-endian u32 ``prefixlen`` followed by
``key_size - 4`` data bytes read most significant bit first. The trie is the kernel's: a binary
Patricia trie whose nodes hold a prefix; "intermediate" nodes (no value) exist only to branch
and always have two children. A lookup walks down while the node's prefix matches the key and
returns the last real node on the way (the longest match). Updates and deletes restructure it
exactly as the kernel does, so ``get_next_key`` (post-order: more specific prefixes first,
children before parents, left before right) returns keys in the kernel's order.

Values live in a native slab of ``max_entries + 1`` slots (one spare because a replaced value
gets a new slot while the old one is still linked): never-used slots first, then freed ones,
oldest first.
"""

from __future__ import annotations

import errno as _errno
import struct
from collections import deque

from bpfvm.program.model import MapSpec
from bpfvm.runtime.maps.base import (
    BPF_EXIST,
    BPF_NOEXIST,
    BpfMap,
    round8,
    storage_region,
)
from bpfvm.runtime.memory import Region

LPM_DATA_SIZE_MIN = 1
LPM_DATA_SIZE_MAX = 256


class _Node:
    __slots__ = ("child", "data", "im", "prefixlen", "slot")

    def __init__(self, prefixlen: int, data: bytes, slot: int) -> None:
        self.prefixlen = prefixlen
        self.data = data
        self.slot = slot  # value slot; -1 for an intermediate node
        self.im = slot < 0
        self.child: list[_Node | None] = [None, None]


def _extract_bit(data: bytes, index: int) -> int:
    return data[index // 8] >> (7 - index % 8) & 1


class LpmTrieMap(BpfMap):
    """``BPF_MAP_TYPE_LPM_TRIE``."""

    kind = "lpm_trie"

    def __init__(self, spec: MapSpec, ncpus: int) -> None:
        super().__init__(spec, ncpus)
        self.data_size = self.key_size - 4
        self.max_prefixlen = self.data_size * 8
        self.value_stride = round8(self.value_size)
        nslots = self.max_entries + 1
        self.value_area: Region = storage_region(
            spec, "values", nslots * self.value_stride, writable=not self.rdonly_prog
        )
        self._set_layout(self.value_area.addr, self.value_stride)
        self._nslots = nslots
        self._fresh = 0  # slots below this were handed out at least once
        self._free: deque[int] = deque()  # freed slots, reused first in, first out
        self.root: _Node | None = None
        self.n_entries = 0

    def regions(self) -> list[Region]:
        return [*super().regions(), self.value_area]

    def __len__(self) -> int:
        return self.n_entries

    def _split(self, key: bytes) -> tuple[int, bytes]:
        prefixlen: int = struct.unpack_from("<I", key)[0]
        return prefixlen, bytes(key[4 : 4 + self.data_size])

    def _match(self, node: _Node, prefixlen: int, data: bytes) -> int:
        """``longest_prefix_match``: common leading bits, at most both prefix lengths."""
        limit = min(node.prefixlen, prefixlen)
        diff = int.from_bytes(node.data, "big") ^ int.from_bytes(data, "big")
        return min(self.max_prefixlen - diff.bit_length(), limit)

    def _value_addr(self, slot: int) -> int:
        return self.value_area.addr + slot * self.value_stride

    def _new_value(self, value: bytes) -> int:
        if self._fresh < self._nslots:
            slot = self._fresh
            self._fresh += 1
        else:
            slot = self._free.popleft()
        self.value_area.write(slot * self.value_stride, value)
        return slot

    # --- the trie -----------------------------------------------------------------------------

    def _lookup(self, prefixlen: int, data: bytes) -> _Node | None:
        """``trie_lookup_elem``."""
        if prefixlen > self.max_prefixlen:
            return None
        found, node = None, self.root
        while node is not None:
            matchlen = self._match(node, prefixlen, data)
            if matchlen == self.max_prefixlen:
                return node
            if matchlen < node.prefixlen:
                break
            if not node.im:
                found = node
            node = node.child[_extract_bit(data, node.prefixlen)]
        return found

    def _check_add(self, flags: int) -> int:
        """``trie_check_add_elem``: a new entry is about to be counted."""
        if flags == BPF_EXIST:
            return -_errno.ENOENT
        if self.n_entries == self.max_entries:
            return -_errno.ENOSPC
        self.n_entries += 1
        return 0

    def _update(self, key: bytes, value: bytes, flags: int) -> int:
        """``trie_update_elem``."""
        if flags > BPF_EXIST:
            return -_errno.EINVAL
        prefixlen, data = self._split(key)
        if prefixlen > self.max_prefixlen:
            return -_errno.EINVAL
        parent: _Node | None = None
        side = 0
        node = self.root
        matchlen = 0
        while node is not None:
            matchlen = self._match(node, prefixlen, data)
            if node.prefixlen != matchlen or node.prefixlen == prefixlen:
                break
            parent, side = node, _extract_bit(data, node.prefixlen)
            node = node.child[side]

        def attach(new: _Node) -> None:
            if parent is None:
                self.root = new
            else:
                parent.child[side] = new

        if node is None:
            err = self._check_add(flags)
            if not err:
                attach(_Node(prefixlen, data, self._new_value(value)))
            return err
        if node.prefixlen == matchlen:  # the same prefix: replace the node
            if not node.im:
                if flags == BPF_NOEXIST:
                    return -_errno.EEXIST
            else:
                err = self._check_add(flags)
                if err:
                    return err
            new = _Node(prefixlen, data, self._new_value(value))
            new.child = node.child
            attach(new)
            if not node.im:
                self._free.append(node.slot)
            return 0
        err = self._check_add(flags)
        if err:
            return err
        new = _Node(prefixlen, data, self._new_value(value))
        if matchlen == prefixlen:  # the new prefix contains the node's: insert above it
            new.child[_extract_bit(node.data, matchlen)] = node
            attach(new)
            return 0
        im = _Node(matchlen, node.data, -1)
        if _extract_bit(data, matchlen):
            im.child = [node, new]
        else:
            im.child = [new, node]
        attach(im)
        return 0

    def _delete(self, key: bytes) -> int:
        """``trie_delete_elem``."""
        prefixlen, data = self._split(key)
        if prefixlen > self.max_prefixlen:
            return -_errno.EINVAL
        # (holder, side) of the slot pointing at node, and of the one pointing at parent
        trim: tuple[_Node | None, int] = (None, 0)
        trim2 = trim
        parent: _Node | None = None
        node = self.root
        matchlen = 0
        while node is not None:
            matchlen = self._match(node, prefixlen, data)
            if node.prefixlen != matchlen or node.prefixlen == prefixlen:
                break
            parent, trim2 = node, trim
            side = _extract_bit(data, node.prefixlen)
            trim = (node, side)
            node = node.child[side]
        if node is None or node.prefixlen != prefixlen or node.prefixlen != matchlen or node.im:
            return -_errno.ENOENT
        self.n_entries -= 1
        self._free.append(node.slot)
        if node.child[0] is not None and node.child[1] is not None:
            node.im, node.slot = True, -1
            return 0

        def assign(where: tuple[_Node | None, int], new: _Node | None) -> None:
            holder, side = where
            if holder is None:
                self.root = new
            else:
                holder.child[side] = new

        if parent is not None and parent.im and node.child == [None, None]:
            sibling = parent.child[1] if node is parent.child[0] else parent.child[0]
            assign(trim2, sibling)
            return 0
        assign(trim, node.child[0] if node.child[0] is not None else node.child[1])
        return 0

    def _next_key(self, key: bytes | None) -> bytes | None:
        """``trie_get_next_key``: post-order successor; the leftmost for an unknown key."""
        search_root = self.root
        if search_root is None:
            return None
        next_node: _Node | None = None
        prefixlen, data = self._split(key) if key is not None else (self.max_prefixlen + 1, b"")
        if prefixlen <= self.max_prefixlen:
            stack: list[_Node] = []
            node: _Node | None = search_root
            matchlen = 0
            while node is not None:
                stack.append(node)
                matchlen = self._match(node, prefixlen, data)
                if node.prefixlen != matchlen or node.prefixlen == prefixlen:
                    break
                node = node.child[_extract_bit(data, node.prefixlen)]
            exact = (
                node is not None
                and node.prefixlen == prefixlen
                and node.prefixlen == matchlen
                and not node.im
            )
            if exact:
                cur = stack.pop()
                while stack:
                    up = stack[-1]
                    if up.child[0] is cur and up.child[1] is not None:
                        search_root = up.child[1]
                        break
                    if not up.im:
                        return self._key_of(up)
                    cur = stack.pop()
                else:
                    return None
        node = search_root
        while node is not None:  # the leftmost real node, in post-order
            if node.im:
                node = node.child[0]
            else:
                next_node = node
                node = node.child[0] if node.child[0] is not None else node.child[1]
        assert next_node is not None
        return self._key_of(next_node)

    def _key_of(self, node: _Node) -> bytes:
        return struct.pack("<I", node.prefixlen) + node.data

    # --- program side -------------------------------------------------------------------------

    def prog_lookup(self, key: bytes, cpu: int = 0) -> int:
        prefixlen, data = self._split(bytes(key))
        node = self._lookup(prefixlen, data)
        return 0 if node is None else self._value_addr(node.slot)

    def prog_update(self, key: bytes, value: bytes, flags: int = 0, cpu: int = 0) -> int:
        if self.rdonly_prog:
            return -_errno.EPERM
        return self._update(bytes(key), bytes(value[: self.value_size]), flags)

    def prog_delete(self, key: bytes, cpu: int = 0) -> int:
        if self.rdonly_prog:
            return -_errno.EPERM
        return self._delete(bytes(key))

    # --- syscall side ---------------------------------------------------------------------------

    def _sys_lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        assert key is not None
        node = self._lookup(*self._split(key))
        if node is None:
            return None
        return self.value_area.read(node.slot * self.value_stride, self.value_size)

    def _sys_update(self, key: bytes | None, value: object, flags: int) -> None:
        assert key is not None
        if not isinstance(value, bytes | bytearray | memoryview):
            self._fail(_errno.EINVAL, f"value must be bytes, not {type(value).__name__}")
        err = self._update(key, self._value(bytes(value)), flags)
        if err:
            self._fail(-err, f"update of {key.hex()} failed")

    def _sys_delete(self, key: bytes | None) -> None:
        assert key is not None
        err = self._delete(key)
        if err:
            self._fail(-err, f"delete of {key.hex()} failed")

    def _sys_get_next_key(self, key: bytes | None) -> bytes | None:
        return self._next_key(key)
