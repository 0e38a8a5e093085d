"""The Python side of a native run: the run state, region tables, callbacks, faults.

:class:`RunState` is the ctypes image of ``struct bpf_jit_run`` (:mod:`.layout`).
:class:`RegionTable` is one run's checked region table: the maps' regions then the run's own,
in the interpreter's order, as native ``(start, end, flags)`` triples. Packet helpers move the
packet window (``bpf_xdp_adjust_head`` and friends), so after every Python helper the table
is refreshed from the :class:`~bpfvm.runtime.memory.Region` objects; a change rewrites the
table, the packet fields and invalidates every site cache. The table is followed by the packet
descriptor native packet helpers work on (:mod:`.packet_desc`): pulled into the Python packet
state before every Python helper and after the run, pushed again when a Python helper moved
the packet.

Stack frames live on the native stack. A frame whose address escaped is registered in
``state.frames``; the helpers' :class:`JitAddressSpace` finds the registered frames of the
live call chain (as :class:`FrameRegion` views) when no region holds an address, so helpers
read keys and write results on the stack through the same checks as in the interpreter.
"""

from __future__ import annotations

import ctypes
import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bpfvm.errors import VmFault
from bpfvm.runtime.memory import AddressSpace, Region
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit.packet_desc import NDESC, pull, push

M64 = (1 << 64) - 1


class RunState(ctypes.Structure):
    _fields_ = [
        *[(name, ctypes.c_uint64) for name in L.STATE_FIELDS],
        ("frames", ctypes.c_uint64 * L.MAX_CALL_FRAMES),
    ]


BatchItemArray = ctypes.c_uint64 * len(L.BATCH_FIELDS)

HELPER_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * 7)
TAIL_CB = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
LOOKUP_CB = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)
RUN_FN = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * 5)
REPEAT_FN = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * 6)
BATCH_FN = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64)
CALLBACK_FN = ctypes.PYFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, *[ctypes.c_uint64] * 6)


@dataclass
class RunResult:
    """The result of a run. ``insns_executed`` is always 0: native code does not count
    instructions (the interpreter's runaway guard is the JIT's loop budget)."""

    retval: int
    insns_executed: int = 0


@dataclass
class BatchItem:
    """One input of :meth:`JitEngine.run_batch`: r1.., its regions and packet."""

    args: Sequence[int]
    regions: Sequence[Region] = ()
    packet: Region | None = None
    packet_state: Any = None


class Unwind(BaseException):
    """A callback's run stopped (fault or early exit, already in the run state): unwind the
    Python helper that invoked it without letting it catch this."""


@dataclass(eq=False)
class FrameRegion(Region):
    """A view of a registered native stack frame (memory owned by the native stack)."""

    at: int = 0

    def __post_init__(self) -> None:
        self.buf = (ctypes.c_char * max(self.size, 1)).from_address(self.at)
        self.addr = self.at


class JitAddressSpace(AddressSpace):
    """The helpers' address space: the run's regions, and the registered native stack frames
    of the live call chain (``state.frames[0..state.depth]``), found on demand and never
    cached (a frame dies when its function returns)."""

    def __init__(self) -> None:
        super().__init__()
        self.state: RunState | None = None
        self._views: dict[tuple[int, int], FrameRegion] = {}

    def find(self, addr: int, size: int) -> tuple[Region, int] | None:
        hit = super().find(addr, size)
        if hit is not None or self.state is None:
            return hit
        frames = self.state.frames
        for d in range(min(self.state.depth, L.MAX_CALL_FRAMES - 1) + 1):
            lo = frames[d]
            if lo and lo <= addr and addr + size <= lo + L.STACK_SIZE:
                return self._view(d, lo), addr - lo
        return None

    def _view(self, depth: int, lo: int) -> FrameRegion:
        view = self._views.get((depth, lo))
        if view is None:
            if len(self._views) > 64:
                self._views.clear()
            view = FrameRegion(f"stack[{depth}]", L.STACK_SIZE, True, at=lo)
            self._views[(depth, lo)] = view
        return view


class RegionTable:
    """The native region table of one run (or one batch item)."""

    def __init__(
        self,
        fixed: Sequence[Region],
        own: Sequence[Region],
        packet: Region | None,
        packet_state: Any = None,
        nsites: int = 0,
    ):
        self.regions = [*fixed, *own]
        self.first_own = len(fixed)
        self.packet = packet
        self.packet_state = packet_state
        self.nsites = nsites
        self.desc_at = 3 * len(self.regions)  # the packet descriptor follows the rows
        rows: list[ctypes.c_uint64 | int] = []
        for region in self.regions:  # one native (start, end, flags) triple per region
            addr = region.addr
            rows += (addr, addr + region.size, L.RF_WRITABLE if region.writable else 0)
        self.array = (ctypes.c_uint64 * (self.desc_at + NDESC))()
        self.array[: self.desc_at] = rows
        self.geometry = [(region.addr, region.size) for region in own]
        self.push_packet()

    def matches(
        self, fixed: Sequence[Region], own: Sequence[Region], packet: Region | None, state: Any
    ) -> bool:
        """Whether this table was built over the very same region objects and packet state
        (a pooled packet state handed back for the next run)."""
        regions = self.regions
        return (
            packet is self.packet
            and state is self.packet_state
            and self.first_own == len(fixed)
            and len(regions) == len(fixed) + len(own)
            and all(map(operator.is_, regions, itertools.chain(fixed, own)))
        )

    def renew(self) -> None:
        """Ready the table for another run over the same objects: rewrite the rows of the
        regions that moved and describe the packet state anew (as it is now, whatever the
        previous run left in the descriptor)."""
        self.changed()
        push(self.array, self.desc_at, self.regions, self.packet_state, self.nsites)

    def push_packet(self) -> None:
        """Describe the packet state for native packet helpers (after pulling any change
        native code made, so nothing is lost)."""
        self.pull_packet()
        push(self.array, self.desc_at, self.regions, self.packet_state, self.nsites)

    def pull_packet(self) -> bool:
        """Publish what native packet helpers moved to the packet state; True if anything."""
        if not pull(self.array, self.desc_at, self.packet_state):
            return False
        self.changed()
        return True

    def _put(self, i: int, region: Region) -> None:
        a = self.array
        a[3 * i] = region.addr
        a[3 * i + 1] = region.addr + region.size
        a[3 * i + 2] = L.RF_WRITABLE if region.writable else 0
        if i >= self.first_own:
            if len(self.geometry) <= i - self.first_own:
                self.geometry.append((region.addr, region.size))
            else:
                self.geometry[i - self.first_own] = (region.addr, region.size)

    def changed(self) -> bool:
        """Re-read the run's own regions; True when one moved or resized."""
        moved = False
        for j, region in enumerate(self.regions[self.first_own :]):
            if self.geometry[j] != (region.addr, region.size):
                self._put(self.first_own + j, region)
                moved = True
        return moved

    @property
    def addr(self) -> int:
        return ctypes.addressof(self.array)

    def packet_fields(self) -> tuple[int, int, int]:
        p = self.packet
        return (0, 0, 0) if p is None else (p.addr, p.size, 1)

    def name_at(self, addr: int, size: int) -> str:
        for region in reversed(self.regions):
            if region.addr <= addr and addr + size <= region.end:
                return region.name
        return "memory"


class NativeRun:
    """The run state of one engine and what Python helpers see of the native frames."""

    def __init__(
        self, nsites: int, maps: Sequence[Any], value_maps: set[int], mem: JitAddressSpace
    ) -> None:
        self.state = RunState()
        self.addr = ctypes.addressof(self.state)
        self.sites = (ctypes.c_uint64 * max(2 * nsites, 2))()
        self.nsites = nsites
        self.map_addrs = (ctypes.c_uint64 * max(len(maps), 1))()
        self.map_values = (ctypes.c_uint64 * max(len(maps), 1))()
        for i, m in enumerate(maps):
            self.map_addrs[i] = m.handle.addr
            if i in value_maps:  # what a BPF_PSEUDO_MAP_VALUE load resolves to
                self.map_values[i] = int(m.prog_lookup(bytes(4), 0)) & M64
        self.prog_tables = (ctypes.c_uint64 * max(len(maps), 1))()
        self._snapshots: list[Any] = []
        st = self.state
        st.prog_tables = ctypes.addressof(self.prog_tables)
        st.site_cache = ctypes.addressof(self.sites)
        st.maps = ctypes.addressof(self.map_addrs)
        st.map_values = ctypes.addressof(self.map_values)
        self.mem = mem
        mem.state = self.state
        self.table: RegionTable | None = None

    def activate(self, table: RegionTable) -> None:
        """Make ``table`` the live one: native fields, caches, the helpers' address space."""
        reused = table is self.table  # the helpers' address space already maps its regions
        self.table = table
        st = self.state
        st.regions = table.addr
        st.nregions = len(table.regions)
        st.pkt_addr, st.pkt_len, st.has_pkt = table.packet_fields()
        self.invalidate()
        if reused:
            return
        self.mem.clear()
        for region in table.regions:
            self.mem.map(region)

    def snapshot_prog_arrays(
        self, maps: Sequence[Any], indexes: Sequence[int], resolve: Any, limit: int = 4096
    ) -> None:
        """Take this run's snapshot of the prog_arrays tail calls go through: program index
        per slot (-1: empty), from the engine's resolver (``tail_call_target``)."""
        from bpfvm.runtime.maps import ProgArrayMap

        self._snapshots = []
        for i in indexes:
            m = maps[i]
            if resolve is None or not isinstance(m, ProgArrayMap) or m.max_entries > limit:
                self.prog_tables[i] = 0
                continue
            slots = []
            for k in range(m.max_entries):
                target = resolve(m.handle.addr, k)
                slots.append(-1 if target is None else target)
            table = (ctypes.c_int64 * max(len(slots), 1))(*slots)
            self._snapshots.append(table)
            self.prog_tables[i] = ctypes.addressof(table)

    def invalidate(self) -> None:
        ctypes.memset(self.sites, L.EMPTY_CACHE, ctypes.sizeof(self.sites))

    def refresh(self) -> None:
        """After a Python helper: follow packet regions that moved."""
        table = self.table
        if table is not None and table.changed():
            st = self.state
            st.pkt_addr, st.pkt_len, st.has_pkt = table.packet_fields()
            self.invalidate()
            # every change of packet geometry moves the window: describe the packet anew
            table.push_packet()

    def pull(self) -> None:
        """Before a Python helper and after a run: publish the packet geometry native packet
        helpers changed to the Python packet state (``sync()``)."""
        if self.table is not None:
            self.table.pull_packet()

    def fault(self, messages: Sequence[str]) -> VmFault:
        """The interpreter's fault for what the run state records."""
        st = self.state
        pc, addr, size = st.fault_pc, st.fault_addr, st.fault_size
        kind = st.fault_kind
        if kind in (L.FK_READ, L.FK_WRITE):
            what = "read" if kind == L.FK_READ else "write"
            return VmFault(pc, f"invalid {what} of {size} bytes at address {addr:#x}")
        if kind == L.FK_READONLY:
            name = self.table.name_at(addr, size) if self.table is not None else "memory"
            return VmFault(pc, f"write of {size} bytes into read-only {name}")
        if kind == L.FK_MESSAGE and st.fault_arg < len(messages):
            return VmFault(pc, messages[st.fault_arg].replace("{n}", str(addr)))
        return VmFault(pc, f"native fault of kind {kind}")


@dataclass
class BatchState:
    """The tables and packet states of a batch run, switched by ``state.batch_index``."""

    tables: list[RegionTable]
    packet_states: list[Any]
    items: ctypes.Array[Any]
    current: int = -1
    results: list[int] = field(default_factory=list)
