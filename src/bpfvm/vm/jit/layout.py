"""What the lowering and the engine agree on: the native run state, fault kinds, options.

The JIT's code and the Python side of a run talk through one native block, the **run state**
(``struct bpf_jit_run`` below, one per :class:`~bpfvm.vm.jit.engine.JitEngine`). Every
lowered function takes a pointer to it. Its fields, in order (all 8 bytes, little-endian):

* ``status``: 0 while running, :data:`ST_EXITED` when the program ended early with
  ``retval`` (an out-of-bounds ``LD_ABS``), :data:`ST_FAULT` after a fault. Native code checks
  it after every call that can fail and returns at once when it is set.
* ``fault_kind``/``fault_pc``/``fault_addr``/``fault_size``/``fault_arg``: what went wrong,
  which the engine turns into the interpreter's :class:`~bpfvm.errors.VmFault`.
* ``regions``/``nregions``: the checked region table, ``nregions`` triples
  ``(start, end, flags)`` (:data:`RF_WRITABLE`), scanned from the last entry back as the
  interpreter's :class:`~bpfvm.runtime.memory.AddressSpace` scans.
* ``pkt_addr``/``pkt_len``/``has_pkt``: the socket buffer ``LD_ABS``/``LD_IND`` read.
* ``cpu``, ``depth`` (the frame depth at the current Python helper call), ``tail_calls``,
  ``rng`` (``bpf_get_prandom_u32``'s xorshift state), ``batch_index``.
* ``helper_cb``/``tail_cb``/``lookup_cb``/``clock_gettime``: native function pointers.
* ``site_cache``: per memory-access site, the ``(start, end)`` of the region it hit last.
* ``maps``/``map_values``: map handle addresses and direct-value addresses by map index.
* ``prog_tables``: by map index, 0 or a snapshot of a prog_array taken at the start of the run
  (``max_entries`` program indexes, -1 for an empty slot); programs cannot change a prog_array,
  so a tail call through a known map needs no Python.
* ``frames``: for each call depth, the lowest address of that frame's stack if the frame's
  address escaped (else 0): the stack memory the program may reach through a pointer.

Nothing about the engine's addresses is compiled into the code, so compiled modules are
cached by content (program bytes, map kinds, options) and shared by engines.
"""

from __future__ import annotations

from dataclasses import dataclass

STATE_FIELDS: tuple[str, ...] = (
    "status",
    "retval",
    "fault_kind",
    "fault_pc",
    "fault_addr",
    "fault_size",
    "fault_arg",
    "regions",
    "nregions",
    "pkt_addr",
    "pkt_len",
    "has_pkt",
    "cpu",
    "depth",
    "tail_calls",
    "rng",
    "batch_index",
    "helper_cb",
    "tail_cb",
    "lookup_cb",
    "clock_gettime",
    "site_cache",
    "maps",
    "map_values",
    "prog_tables",
)
MAX_CALL_FRAMES = 8
FIELD = {name: i for i, name in enumerate(STATE_FIELDS)}
FRAMES_FIELD = len(STATE_FIELDS)  # then u64 frames[MAX_CALL_FRAMES]

BATCH_FIELDS: tuple[str, ...] = (
    "r1", "r2", "r3", "r4", "r5", "regions", "nregions", "pkt_addr", "pkt_len", "has_pkt",
    "retval",
)  # fmt: skip
"""One item of a batch run (``struct bpf_jit_batch_item``)."""
BATCH = {name: i for i, name in enumerate(BATCH_FIELDS)}

# status
ST_RUNNING = 0
ST_EXITED = 1
ST_FAULT = 2

# fault kinds
FK_READ = 1  # invalid read of fault_size bytes at fault_addr
FK_WRITE = 2  # invalid write
FK_READONLY = 3  # write into a read-only region (found by address)
FK_MESSAGE = 4  # messages[fault_arg], "{n}" replaced by fault_addr
FK_PYTHON = 5  # an exception from a Python helper, kept by the engine

# access modes of the checked-memory slow path
MODE_READ = 0
MODE_WRITE = 1
MODE_RMW = 2  # atomics: must be readable (else a read fault) and writable
MODE_CMPXCHG = 3  # like RMW, but a read-only region is reported (2), not a fault

RF_WRITABLE = 1

CALLBACK_BASE = 0xCA11_0000_0000_0000  # the interpreter's tag for function references
MAX_TAIL_CALL_CNT = 33
STACK_SIZE = 512
MAX_STACK_ARGS = 7
BPF_MAX_LOOPS = 8 * 1024 * 1024
EMPTY_CACHE = 0xFF  # site cache bytes: start = end = ~0 matches nothing

# helper ids the JIT treats specially
BPF_FUNC_MAP_LOOKUP_ELEM = 1
BPF_FUNC_MAP_UPDATE_ELEM = 2
BPF_FUNC_MAP_DELETE_ELEM = 3
BPF_FUNC_KTIME_GET_NS = 5
BPF_FUNC_GET_PRANDOM_U32 = 7
BPF_FUNC_GET_SMP_PROCESSOR_ID = 8
BPF_FUNC_TAIL_CALL = 12
BPF_FUNC_GET_NUMA_NODE_ID = 42
BPF_FUNC_KTIME_GET_BOOT_NS = 125
BPF_FUNC_KTIME_GET_COARSE_NS = 160
BPF_FUNC_LOOP = 181

CLOCKS = {
    BPF_FUNC_KTIME_GET_NS: 1,  # CLOCK_MONOTONIC
    BPF_FUNC_KTIME_GET_BOOT_NS: 7,  # CLOCK_BOOTTIME
    BPF_FUNC_KTIME_GET_COARSE_NS: 6,  # CLOCK_MONOTONIC_COARSE
}

# map kinds the lowering inlines helpers for
MK_OTHER = "other"
MK_ARRAY = "array"  # array and percpu_array: data + cpu * percpu_stride + index * stride
MK_HASH = "hash"  # hash and percpu_hash: searched in the map's native index (lower_hash)
MK_LRU_HASH = "lru_hash"  # lru_hash and lru_percpu_hash: the same search, plus the ref bit


@dataclass(frozen=True)
class MapDesc:
    """What the lowering may assume of map ``i`` (its address comes from the run state)."""

    kind: str = MK_OTHER
    key_size: int = 0
    value_size: int = 0
    rdonly_prog: bool = False


@dataclass(frozen=True)
class JitOptions:
    """How programs are compiled.

    ``checked``: every load, store and atomic whose address the lowering cannot prove to be
    inside the current stack frame is checked against the run's region table (turn off only
    for verified programs). ``max_loops``: loop back-edges one function invocation may take
    before the run faults (None: unbounded); the JIT's stand-in for the interpreter's
    instruction limit. ``opt_level``: LLVM's speed level (2 = O2, 3 = O3). ``zero_stack``:
    each frame starts zeroed, as in the interpreter.
    """

    checked: bool = True
    max_loops: int | None = 100_000_000
    opt_level: int = 2
    zero_stack: bool = True
