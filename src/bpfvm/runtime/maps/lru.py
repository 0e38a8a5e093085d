"""The kernel's LRU element lists (``kernel/bpf/bpf_lru_list.c``), step for step.

An LRU hash map preallocates ``max_entries`` elements and never fails an update for lack of
room: taking a free element may evict another. Which element goes is decided by these lists,
so bpfvm runs the kernel's algorithm on the same data structures, with intrusive doubly
linked lists over element indices (``prev``/``next`` arrays, list heads as sentinel indices
after the elements):

* **common LRU** (the default): a global list set (active, inactive, free) plus, per CPU, a
  local free list and a local pending list. An update takes an element from its CPU's local
  free list, refilling it first with up to ``target_free`` elements from the global free list
  or, failing that, by shrinking the inactive list (evicting unreferenced elements from its
  tail; if none qualifies, the tail of inactive, else of active, regardless of its ref bit).
  New elements wait on the local pending list and join the global lists at the next refill.
  When everything is exhausted, free or pending elements are stolen from the CPUs in turn.
* **per-CPU LRU** (``BPF_F_NO_COMMON_LRU``): each CPU owns ``max_entries / ncpus`` elements
  and its own three lists; a shrink frees up to 4 at a time.

A lookup from a program sets the element's ref bit (the syscall side does not), and rotations
give referenced elements another round on the active list. The ref bits may live in native
memory (the hash map's control block), where the JIT's inline lookup sets them. Everything
here is deterministic for a given sequence of operations and CPUs; the kernel's only
nondeterminism comes from concurrent CPUs, which bpfvm does not have. ``target_free`` is that
of Linux 6.18: ``clamp(max_entries / ncpus / 2, 1, 128)``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator

ACTIVE, INACTIVE, FREE, LOCAL_FREE, LOCAL_PENDING = range(5)
_COUNTED = (ACTIVE, INACTIVE)  # NR_BPF_LRU_LIST_COUNT: only these lists keep counts

LOCAL_FREE_TARGET = 128
LOCAL_NR_SCANS = LOCAL_FREE_TARGET
PERCPU_FREE_TARGET = 4
PERCPU_NR_SCANS = PERCPU_FREE_TARGET


class _LruList:
    """``struct bpf_lru_list``: three list heads, two counts, the inactive rotation cursor."""

    def __init__(self, heads: int) -> None:
        self.heads = (heads, heads + 1, heads + 2)  # ACTIVE, INACTIVE, FREE sentinels
        self.counts = [0, 0]
        self.next_inactive_rotation = self.heads[INACTIVE]


class _LocalList:
    """``struct bpf_lru_locallist``: a CPU's free and pending lists."""

    def __init__(self, heads: int, cpu: int) -> None:
        self.free = heads
        self.pending = heads + 1
        self.next_steal = cpu


class BpfLru:
    """LRU lists over elements ``0 .. nr_elems-1``.

    ``del_from_htab(elem)`` unlinks an element chosen for eviction from the hash table and
    says whether it was there (``htab_lru_map_delete_node``). ``ref``: where the ref bits
    live, one byte per element (a hash map passes its native index's, which the JIT's inline
    lookup sets); a private buffer if omitted.
    """

    def __init__(
        self,
        nr_elems: int,
        ncpus: int,
        percpu: bool,
        del_from_htab: Callable[[int], bool],
        ref: memoryview | None = None,
    ) -> None:
        self.nr_elems = nr_elems
        self.ncpus = ncpus
        self.percpu = percpu
        self.del_from_htab = del_from_htab
        nheads = 3 * ncpus if percpu else 3 + 2 * ncpus
        total = nr_elems + nheads
        # every list head starts empty (pointing at itself); elements are linked below
        self.prev = array("q", range(total))
        self.next = array("q", range(total))
        self.type = bytearray([FREE]) * nr_elems
        if ref is not None and len(ref) < nr_elems:
            raise ValueError(f"{len(ref)} ref bits for {nr_elems} elements")
        self.ref: bytearray | memoryview = bytearray(nr_elems) if ref is None else ref
        self.ref[:nr_elems] = bytes(nr_elems)
        self.cpu = array("H", bytes(2 * nr_elems))
        if percpu:
            self.percpu_lists = [_LruList(nr_elems + 3 * c) for c in range(ncpus)]
            self.nr_scans = PERCPU_NR_SCANS
            per_cpu = nr_elems // ncpus
            for cpu, lst in enumerate(self.percpu_lists):  # bpf_percpu_lru_populate
                lo, hi = cpu * per_cpu, (cpu + 1) * per_cpu
                self.cpu[lo:hi] = array("H", [cpu]) * (hi - lo)
                self._populate(lst.heads[FREE], lo, hi)
        else:
            self.common = _LruList(nr_elems)
            self.local = [_LocalList(nr_elems + 3 + 2 * c, c) for c in range(ncpus)]
            self.nr_scans = LOCAL_NR_SCANS
            self._populate(self.common.heads[FREE], 0, nr_elems)  # bpf_common_lru_populate
            self.target_free = min(max(nr_elems // ncpus // 2, 1), LOCAL_FREE_TARGET)

    def _populate(self, head: int, lo: int, hi: int) -> None:
        """``list_add`` of elements ``lo .. hi-1`` in turn: the list reads ``hi-1 .. lo``."""
        if lo >= hi:
            return
        self.next[lo + 1 : hi] = array("q", range(lo, hi - 1))
        self.next[lo] = head
        self.prev[lo : hi - 1] = array("q", range(lo + 1, hi))
        self.prev[hi - 1] = head
        self.next[head] = hi - 1
        self.prev[head] = lo

    # --- list primitives (<linux/list.h>) ---------------------------------------------------------

    def _list_del(self, node: int) -> None:
        p, n = self.prev[node], self.next[node]
        self.next[p] = n
        self.prev[n] = p

    def _list_add(self, node: int, head: int) -> None:
        first = self.next[head]
        self.prev[node] = head
        self.next[node] = first
        self.prev[first] = node
        self.next[head] = node

    def _list_move(self, node: int, head: int) -> None:
        self._list_del(node)
        self._list_add(node, head)

    def _empty(self, head: int) -> bool:
        return self.next[head] == head

    def _reverse(self, head: int) -> Iterator[int]:
        """``list_for_each_entry_safe_reverse``: tail to head, the node may move."""
        node = self.prev[head]
        while node != head:
            before = self.prev[node]
            yield node
            node = before

    def entries(self, head: int) -> list[int]:
        """The nodes of a list, head first (for tests and debugging)."""
        out, node = [], self.next[head]
        while node != head:
            out.append(node)
            node = self.next[node]
        return out

    # --- moves between lists ----------------------------------------------------------------------

    def _move_to_free(self, lst: _LruList, node: int, free_head: int, tgt: int) -> None:
        if node == lst.next_inactive_rotation:
            lst.next_inactive_rotation = self.prev[node]
        if self.type[node] in _COUNTED:
            lst.counts[self.type[node]] -= 1
        self.type[node] = tgt
        self._list_move(node, free_head)

    def _move_in(self, lst: _LruList, node: int, tgt: int) -> None:
        lst.counts[tgt] += 1
        self.type[node] = tgt
        self.ref[node] = 0
        self._list_move(node, lst.heads[tgt])

    def _move(self, lst: _LruList, node: int, tgt: int) -> None:
        if self.type[node] != tgt:
            if self.type[node] in _COUNTED:
                lst.counts[self.type[node]] -= 1
            if tgt in _COUNTED:
                lst.counts[tgt] += 1
            self.type[node] = tgt
        self.ref[node] = 0
        if node == lst.next_inactive_rotation:
            lst.next_inactive_rotation = self.prev[node]
        self._list_move(node, lst.heads[tgt])

    # --- rotation and shrinking -------------------------------------------------------------------

    def _rotate_active(self, lst: _LruList) -> None:
        head = lst.heads[ACTIVE]
        first = self.next[head]
        for i, node in enumerate(self._reverse(head), 1):
            self._move(lst, node, ACTIVE if self.ref[node] else INACTIVE)
            if i == self.nr_scans or node == first:
                break

    def _rotate_inactive(self, lst: _LruList) -> None:
        inactive = lst.heads[INACTIVE]
        if self._empty(inactive):
            return
        last = self.next[lst.next_inactive_rotation]
        if last == inactive:
            last = self.next[last]
        cur, nxt, i = lst.next_inactive_rotation, inactive, 0
        while i < self.nr_scans:
            if cur == inactive:
                cur = self.prev[cur]
                continue
            nxt = self.prev[cur]
            if self.ref[cur]:
                self._move(lst, cur, ACTIVE)
            if cur == last:
                break
            cur = nxt
            i += 1
        lst.next_inactive_rotation = nxt

    def _rotate(self, lst: _LruList) -> None:
        if lst.counts[INACTIVE] < lst.counts[ACTIVE]:
            self._rotate_active(lst)
        self._rotate_inactive(lst)

    def _shrink_inactive(self, lst: _LruList, tgt_nshrink: int, free_head: int, tgt: int) -> int:
        nshrinked = 0
        for i, node in enumerate(self._reverse(lst.heads[INACTIVE]), 1):
            if self.ref[node]:
                self._move(lst, node, ACTIVE)
            elif self.del_from_htab(node):
                self._move_to_free(lst, node, free_head, tgt)
                nshrinked += 1
                if nshrinked == tgt_nshrink:
                    break
            if i == self.nr_scans:
                break
        return nshrinked

    def _shrink(self, lst: _LruList, tgt_nshrink: int, free_head: int, tgt: int) -> int:
        nshrinked = self._shrink_inactive(lst, tgt_nshrink, free_head, tgt)
        if nshrinked:
            return nshrinked
        head = lst.heads[INACTIVE]
        if self._empty(head):
            head = lst.heads[ACTIVE]
        for node in self._reverse(head):
            if self.del_from_htab(node):
                self._move_to_free(lst, node, free_head, tgt)
                return 1
        return 0

    # --- the common LRU ---------------------------------------------------------------------------

    def _flush_local(self, loc: _LocalList) -> None:
        for node in self._reverse(loc.pending):
            self._move_in(self.common, node, ACTIVE if self.ref[node] else INACTIVE)

    def _pop_free_to_local(self, loc: _LocalList) -> None:
        lst = self.common
        self._flush_local(loc)
        self._rotate(lst)
        nfree = 0
        node = self.next[lst.heads[FREE]]
        while node != lst.heads[FREE]:
            after = self.next[node]
            self._move_to_free(lst, node, loc.free, LOCAL_FREE)
            nfree += 1
            if nfree == self.target_free:
                break
            node = after
        if nfree < self.target_free:
            self._shrink(lst, self.target_free - nfree, loc.free, LOCAL_FREE)

    def _local_pop_free(self, loc: _LocalList) -> int | None:
        node = self.next[loc.free]
        if node == loc.free:
            return None
        self._list_del(node)
        return node

    def _local_pop_pending(self, loc: _LocalList) -> int | None:
        for force in (False, True):
            node = self.prev[loc.pending]
            while node != loc.pending:
                if (force or not self.ref[node]) and self.del_from_htab(node):
                    self._list_del(node)
                    return node
                node = self.prev[node]
        return None

    def _add_pending(self, loc: _LocalList, cpu: int, node: int) -> None:
        self.cpu[node] = cpu
        self.type[node] = LOCAL_PENDING
        self.ref[node] = 0
        self._list_add(node, loc.pending)

    def _common_pop_free(self, cpu: int) -> int | None:
        loc = self.local[cpu]
        node = self._local_pop_free(loc)
        if node is None:
            self._pop_free_to_local(loc)
            node = self._local_pop_free(loc)
        if node is not None:
            self._add_pending(loc, cpu, node)
            return node
        first = steal = loc.next_steal
        while True:
            victim = self.local[steal]
            node = self._local_pop_free(victim)
            if node is None:
                node = self._local_pop_pending(victim)
            steal = (steal + 1) % self.ncpus
            if node is not None or steal == first:
                break
        loc.next_steal = steal
        if node is not None:
            self._add_pending(loc, cpu, node)
        return node

    def _common_push_free(self, node: int) -> None:
        if self.type[node] == LOCAL_PENDING:
            loc = self.local[self.cpu[node]]
            self.type[node] = LOCAL_FREE
            self.ref[node] = 0
            self._list_move(node, loc.free)
            return
        self._move(self.common, node, FREE)

    # --- the per-CPU LRU --------------------------------------------------------------------------

    def _percpu_pop_free(self, cpu: int) -> int | None:
        lst = self.percpu_lists[cpu]
        self._rotate(lst)
        free = lst.heads[FREE]
        if self._empty(free):
            self._shrink(lst, PERCPU_FREE_TARGET, free, FREE)
        if self._empty(free):
            return None
        node = self.next[free]
        self.ref[node] = 0
        self._move(lst, node, INACTIVE)
        return node

    # --- interface --------------------------------------------------------------------------------

    def pop_free(self, cpu: int) -> int | None:
        """``bpf_lru_pop_free``: a free element for an insert on ``cpu`` (evicting if need be)."""
        if self.percpu:
            return self._percpu_pop_free(cpu)
        return self._common_pop_free(cpu)

    def push_free(self, node: int) -> None:
        """``bpf_lru_push_free``: give back an element that left the hash table."""
        if self.percpu:
            self._move(self.percpu_lists[self.cpu[node]], node, FREE)
        else:
            self._common_push_free(node)

    def set_ref(self, node: int) -> None:
        """``bpf_lru_node_set_ref``: the element was used."""
        self.ref[node] = 1
