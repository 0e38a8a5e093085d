"""The JIT engine: compile lowered modules with LLVM, cache them, run them natively.

This is the only module that imports ``llvmlite.binding``. Compilation: the module
:mod:`.lower` built is parsed, optimised with LLVM's new pass manager at O2 (or O3) for the
host CPU (its name and features), and handed to MCJIT; the entry points' addresses become
ctypes functions.

Compiled code knows no addresses of a particular run (maps, regions and callbacks are read
from the run state), so :class:`JitCache` keys compiled modules by a hash of the programs'
bytes, the map kinds, the inlined helpers and the options, and any number of engines share
one compiled module. The process-wide default cache is the one piece of shared state; pass
your own :class:`JitCache` to isolate.

:class:`JitEngine` mirrors :class:`~bpfvm.vm.interp.Interpreter`: ``for_programs``, ``call``
(the :class:`~bpfvm.runtime.helpers.HelperCall` helpers see), ``tail_call_target``,
``invoke`` and ``run(args, regions, packet, entry)``, plus ``repeat`` (the loop runs in native
code) and :meth:`JitEngine.run_batch` (many inputs, one native call).
``JitEngine.python_calls`` counts every entry from native code into Python (helper, lookup
and tail-call callbacks): 0 after a run whose helpers were all inlined.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import llvmlite.binding as llvm

from bpfvm.errors import InputError, VmFault
from bpfvm.isa.codec import encode
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import PseudoSrc
from bpfvm.program.uapi import MapType
from bpfvm.runtime.helpers import HelperCall, HelperRegistry, default_registry, describe_missing
from bpfvm.runtime.memory import Region
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit import native as N
from bpfvm.vm.jit.cfg import INLINABLE
from bpfvm.vm.jit.layout import JitOptions
from bpfvm.vm.jit.lower import LOWERING_VERSION, Lowered, lower_programs
from bpfvm.vm.jit.native import BatchItem, RunResult
from bpfvm.vm.jit.xlated import frame_size, jit_insns

__all__ = [
    "BatchItem",
    "JitCache",
    "JitEngine",
    "JitOptions",
    "JitProgram",
    "RunResult",
    "default_cache",
    "jit_run_program",
]


@dataclass
class JitProgram:
    """Compiled code of a set of programs (one object): the MCJIT engine owning the code, the
    lowering's metadata and the entry points' addresses. Immutable once built and shared by
    every :class:`JitEngine` whose programs, map kinds and options hash the same."""

    engine: Any
    lowered: Lowered
    ir_text: str
    addresses: dict[str, int]
    asm: str | None = None
    keep: list[Any] = field(default_factory=list)


class JitCache:
    """Compiled modules by content hash (least recently used dropped beyond ``capacity``)."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._modules: OrderedDict[str, JitProgram] = OrderedDict()
        self._machine: Any = None
        self.compiles = 0

    def machine(self) -> Any:
        """A new target machine for the host CPU (each MCJIT engine owns its own)."""
        if self._machine is None:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            self._machine = (
                llvm.Target.from_default_triple(),
                llvm.get_host_cpu_name(),
                llvm.get_host_cpu_features().flatten(),
            )
        target, cpu, features = self._machine
        return target.create_target_machine(
            cpu=cpu, features=features, opt=3, codemodel="jitdefault"
        )

    def get(self, key: str, build: Callable[[], Lowered], opt_level: int) -> JitProgram:
        found = self._modules.get(key)
        if found is not None:
            self._modules.move_to_end(key)
            return found
        compiled = self._compile(build(), opt_level)
        self._modules[key] = compiled
        while len(self._modules) > self.capacity:
            self._modules.popitem(last=False)
        return compiled

    def _compile(self, lowered: Lowered, opt_level: int) -> JitProgram:
        self.compiles += 1
        machine = self.machine()
        mod = llvm.parse_assembly(str(lowered.module))
        mod.triple = llvm.get_process_triple()
        mod.data_layout = str(machine.target_data)
        mod.verify()
        tuning = llvm.create_pipeline_tuning_options(speed_level=opt_level)
        builder = llvm.create_pass_builder(machine, tuning)
        builder.getModulePassManager().run(mod, builder)
        ir_text = str(mod)
        engine = llvm.create_mcjit_compiler(mod, machine)
        engine.finalize_object()
        names = [f"{e}__{kind}" for e in lowered.entries for kind in ("run", "repeat", "batch")]
        names += list(lowered.callbacks.values())
        addresses = {name: engine.get_function_address(name) for name in names}
        return JitProgram(engine, lowered, ir_text, addresses)

    def assembly(self, compiled: JitProgram) -> str:
        if compiled.asm is None:
            compiled.asm = self.machine().emit_assembly(llvm.parse_assembly(compiled.ir_text))
        return compiled.asm


_DEFAULT: list[JitCache] = []


def default_cache() -> JitCache:
    """The process-wide cache (created on first use)."""
    if not _DEFAULT:
        _DEFAULT.append(JitCache())
    return _DEFAULT[0]


def _map_desc(m: Any) -> L.MapDesc:
    from bpfvm.runtime.maps import (
        ArrayMap,
        HashMap,
        LruHashMap,
        LruPercpuHashMap,
        PercpuArrayMap,
        PercpuHashMap,
    )

    if type(m) in (ArrayMap, PercpuArrayMap) and m.spec.type in (
        MapType.ARRAY,
        MapType.PERCPU_ARRAY,
    ):
        return L.MapDesc(L.MK_ARRAY, m.key_size, m.value_size, bool(m.rdonly_prog))
    if type(m) in (HashMap, PercpuHashMap) and m.spec.type in (
        MapType.HASH,
        MapType.PERCPU_HASH,
    ):  # their native index (runtime.maps.hash_index) is searched and changed inline
        return L.MapDesc(L.MK_HASH, m.key_size, m.value_size, bool(m.rdonly_prog))
    if type(m) in (LruHashMap, LruPercpuHashMap) and m.spec.type in (
        MapType.LRU_HASH,
        MapType.LRU_PERCPU_HASH,
    ):  # lookups search the same index inline and set the LRU ref bit
        return L.MapDesc(L.MK_LRU_HASH, m.key_size, m.value_size, bool(m.rdonly_prog))
    return L.MapDesc(L.MK_OTHER, m.key_size, m.value_size, bool(m.rdonly_prog))


def _inline_ids(helpers: HelperRegistry) -> frozenset[int]:
    """Helpers inlined: only where the registry holds bpfvm's own implementation."""
    stock = default_registry()
    return frozenset(h for h in INLINABLE if helpers.get(h) is not None and
                     helpers.get(h) is stock.get(h))  # fmt: skip


def _libc_clock_gettime() -> int:
    """The address of libc's ``clock_gettime`` (the process already has libc loaded)."""
    libc = ctypes.CDLL(None)
    return ctypes.cast(libc.clock_gettime, ctypes.c_void_p).value or 0


class JitEngine:
    """Runs one program (or the programs of one object) natively; reusable, not re-entrant."""

    def __init__(
        self,
        insns: Sequence[Insn],
        helpers: HelperRegistry | None = None,
        options: JitOptions | None = None,
        maps: Sequence[Any] = (),
        *,
        cache: JitCache | None = None,
    ) -> None:
        self._setup([list(insns)], ["prog"], helpers, options, maps, cache)

    @classmethod
    def for_programs(
        cls,
        programs: Sequence[Sequence[Insn]],
        helpers: HelperRegistry | None = None,
        options: JitOptions | None = None,
        maps: Sequence[Any] = (),
        *,
        names: Sequence[str] | None = None,
        cache: JitCache | None = None,
        call_tables: Sequence[Sequence[int] | None] | None = None,
        stack_depths: Sequence[int] | None = None,
    ) -> JitEngine:
        """One engine for several programs sharing maps; ``run(entry=i)`` runs the i-th.

        As :meth:`Interpreter.for_programs <bpfvm.vm.interp.Interpreter.for_programs>`,
        ``call_tables[i]`` not None marks program i as fixed up for the JIT (``bpfvm.fixups``
        with ``engine=ENGINE_JIT``, before ``link``): its helper calls index that table of
        helper ids, ``JMP|TAIL_CALL`` is the tail call, r12 the fixups' scratch register
        (:mod:`bpfvm.vm.jit.xlated`). ``stack_depths[i]``: the deepest (fixed-up) stack depth
        of program i's subprograms, which sizes its native frames (at least 512 bytes)."""
        engine = cls.__new__(cls)
        progs = [list(p) for p in programs]
        tables = list(call_tables) if call_tables is not None else [None] * len(progs)
        if len(tables) != len(progs):
            raise InputError(f"{len(tables)} call tables for {len(progs)} programs")
        progs = [
            p if tbl is None else jit_insns(p, tbl) for p, tbl in zip(progs, tables, strict=True)
        ]
        frames = None
        if stack_depths is not None:
            frames = [frame_size([d]) for d in stack_depths]
        labels = list(names) if names is not None else [f"prog{i}" for i in range(len(progs))]
        engine._setup(progs, labels, helpers, options, maps, cache, tables, frames)
        return engine

    def _setup(
        self,
        programs: list[list[Insn]],
        names: list[str],
        helpers: HelperRegistry | None,
        options: JitOptions | None,
        maps: Sequence[Any],
        cache: JitCache | None,
        call_tables: Sequence[Sequence[int] | None] = (),
        frames: Sequence[int] | None = None,
    ) -> None:
        self.programs = programs
        self.maps = list(maps)
        self.helpers = helpers if helpers is not None else default_registry()
        self.options = options or JitOptions()
        self.cache = cache if cache is not None else default_cache()
        self.mem = N.JitAddressSpace()
        self.call = HelperCall(self.mem, invoke=self.invoke)
        self.call.maps = {m.handle.addr: m for m in self.maps}
        self.tail_call_target: Callable[[int, int], int | None] | None = None
        descs = [_map_desc(m) for m in self.maps]
        inline = _inline_ids(self.helpers)
        tables = [None if tbl is None else list(tbl) for tbl in call_tables]
        fingerprint = (LOWERING_VERSION, [encode(p) for p in programs], names, descs,
                       sorted(inline), self.options, tables, frames)  # fmt: skip
        key = hashlib.sha256(repr(fingerprint).encode()).hexdigest()
        self.compiled = self.cache.get(
            key,
            lambda: lower_programs(programs, names, descs, inline, self.options, frames),
            self.options.opt_level,
        )
        lowered = self.compiled.lowered
        value_maps = {
            i.imm for p in programs for i in p if i.width == 2 and i.src == PseudoSrc.MAP_VALUE
        }
        self.native = N.NativeRun(lowered.nsites, self.maps, value_maps, self.mem)
        self._pending: BaseException | None = None
        self._batch: N.BatchState | None = None
        self._table: N.RegionTable | None = None  # the last run's, reused for the same objects
        self.python_calls = 0  # entries from native code into Python (helpers, lookups, ...)
        self._bind(lowered)

    def _bind(self, lowered: Lowered) -> None:
        addr = self.compiled.addresses
        self._run = [N.RUN_FN(addr[f"{e}__run"]) for e in lowered.entries]
        self._repeat = [N.REPEAT_FN(addr[f"{e}__repeat"]) for e in lowered.entries]
        self._batch_fns = [N.BATCH_FN(addr[f"{e}__batch"]) for e in lowered.entries]
        self._callbacks = {s: N.CALLBACK_FN(addr[n]) for s, n in lowered.callbacks.items()}
        self._helper_cb = N.HELPER_CB(self._on_helper)
        self._tail_cb = N.TAIL_CB(self._on_tail_call)
        self._lookup_cb = N.LOOKUP_CB(self._on_lookup)
        st = self.native.state
        st.helper_cb = ctypes.cast(self._helper_cb, ctypes.c_void_p).value or 0
        st.tail_cb = ctypes.cast(self._tail_cb, ctypes.c_void_p).value or 0
        st.lookup_cb = ctypes.cast(self._lookup_cb, ctypes.c_void_p).value or 0
        st.clock_gettime = _libc_clock_gettime()
        st.rng = self.call.rng.getrandbits(64) | 1

    # -- running -------------------------------------------------------------------------

    def _fixed_regions(self) -> list[Region]:
        return [region for m in self.maps for region in m.regions()]

    def run(
        self,
        args: Sequence[int] = (),
        regions: Sequence[Region] = (),
        packet: Region | None = None,
        entry: int = 0,
        *,
        repeat: int = 1,
    ) -> RunResult:
        """Run program ``entry`` with r1.. = ``args`` (``repeat`` times in native code)."""
        fixed, state = self._fixed_regions(), self.call.packet
        table = self._table
        if table is not None and table.matches(fixed, regions, packet, state):
            table.renew()  # same objects as the previous run (pooled packet state)
        else:
            table = N.RegionTable(fixed, regions, packet, state, self.native.nsites)
            self._table = table
        self._batch = None
        self.native.activate(table)
        self._snapshot()
        self.native.state.cpu = self.call.cpu
        argv = [a & N.M64 for a in args[:5]]
        argv += [0] * (5 - len(argv))
        if repeat > 1:
            r0 = self._repeat[entry](self.native.addr, *argv, repeat)
        else:
            r0 = self._run[entry](self.native.addr, *argv)
        self.native.pull()
        self._check()
        return RunResult(r0)

    def run_batch(self, items: Sequence[BatchItem], entry: int = 0) -> list[RunResult]:
        """Run program ``entry`` once per item, all in one native call; a fault stops the
        batch and is raised."""
        fixed = self._fixed_regions()
        nsites = self.native.nsites
        tables = [
            N.RegionTable(fixed, it.regions, it.packet, it.packet_state, nsites) for it in items
        ]
        array = (N.BatchItemArray * max(len(items), 1))()
        for k, (it, table) in enumerate(zip(items, tables, strict=True)):
            row = array[k]
            for i, value in enumerate(list(it.args[:5]) + [0] * (5 - len(it.args[:5]))):
                row[L.BATCH[f"r{i + 1}"]] = value & N.M64
            row[L.BATCH["regions"]] = table.addr
            row[L.BATCH["nregions"]] = len(table.regions)
            pkt = table.packet_fields()
            row[L.BATCH["pkt_addr"]], row[L.BATCH["pkt_len"]], row[L.BATCH["has_pkt"]] = pkt
        self._batch = N.BatchState(tables, [it.packet_state for it in items], array)
        self._snapshot()
        self.native.state.cpu = self.call.cpu
        if tables:
            self._switch(0)
        done = self._batch_fns[entry](self.native.addr, ctypes.addressof(array), len(items))
        for table in tables:
            table.pull_packet()
        if done < len(items):
            self._switch(done)
            self._check()
        return [RunResult(array[k][L.BATCH["retval"]]) for k in range(len(items))]

    def _snapshot(self) -> None:
        tail_maps = self.compiled.lowered.tail_maps
        if tail_maps:
            self.native.snapshot_prog_arrays(self.maps, tail_maps, self.tail_call_target)

    def _switch(self, index: int) -> None:
        batch = self._batch
        if batch is None or batch.current == index:
            return
        batch.current = index
        self.native.activate(batch.tables[index])
        self.call.packet = batch.packet_states[index]

    def _check(self) -> None:
        if self.native.state.status != L.ST_FAULT:
            return
        if self.native.state.fault_kind == L.FK_PYTHON and self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        raise self.native.fault(self.compiled.lowered.messages)

    # -- callbacks from native code ------------------------------------------------------

    def _record(self, exc: BaseException) -> None:
        st = self.native.state
        self._pending = exc
        st.status = L.ST_FAULT
        st.fault_kind = L.FK_PYTHON
        st.fault_pc = exc.pc if isinstance(exc, VmFault) else 0

    def _on_helper(self, state: int, helper_id: int, pc: int, *regs: int) -> int:
        self.python_calls += 1
        try:
            st = self.native.state
            if self._batch is not None:
                self._switch(st.batch_index)
            self.native.pull()
            fn = self.helpers.get(helper_id)
            if fn is None:
                raise VmFault(pc, describe_missing(helper_id))
            self.call.pc = pc
            r0 = fn(self.call, *regs) & N.M64
            self.native.refresh()
            return r0
        except N.Unwind:
            return 0
        except BaseException as exc:  # never let an exception cross into native code
            self._record(exc)
            return 0

    def _on_tail_call(self, state: int, map_addr: int, index: int) -> int:
        self.python_calls += 1
        try:
            resolve = self.tail_call_target
            target = None if resolve is None else resolve(map_addr, index)
            return -1 if target is None else target
        except BaseException as exc:
            self._record(exc)
            return -1

    def _on_lookup(self, state: int, index: int, key: int) -> int:
        """``bpf_map_lookup_elem`` on map ``index``, the key already checked natively."""
        self.python_calls += 1
        try:
            m = self.maps[index]
            return int(m.prog_lookup(ctypes.string_at(key, m.key_size), self.call.cpu)) & N.M64
        except BaseException as exc:
            self._record(exc)
            return 0

    def invoke(self, func: int, args: Sequence[int]) -> int:
        """Run the callback ``func`` (a function reference) natively in a new frame with
        r1.. = ``args`` and return its r0 (``bpf_loop``, ``bpf_for_each_map_elem``)."""
        pc = self.call.pc
        thunk = self._callbacks.get(func - L.CALLBACK_BASE)
        if thunk is None:
            raise VmFault(pc, f"invalid callback address {func:#x}")
        st = self.native.state
        depth = st.depth + 1
        if depth >= L.MAX_CALL_FRAMES:
            raise VmFault(pc, f"the call stack of {depth + 1} frames is too deep")
        argv = [(list(args[:5]) + [0] * 5)[i] & N.M64 for i in range(5)]
        saved = st.depth
        r0: int = thunk(self.native.addr, depth, *argv)
        st.depth = saved
        self.call.pc = pc
        if st.status != L.ST_RUNNING:
            raise N.Unwind()
        return r0

    # -- inspection ----------------------------------------------------------------------

    @property
    def ir(self) -> str:
        """The optimised LLVM IR of the module."""
        return self.compiled.ir_text

    def assembly(self, entry: int | None = None) -> str:
        """Native assembly: the whole module, or the functions of program ``entry``."""
        asm = self.cache.assembly(self.compiled)
        if entry is None:
            return asm
        lowered = self.compiled.lowered
        names = lowered.prog_functions[entry]
        if not re.search(rf"^{re.escape(names[0])}:", asm, re.M):  # inlined everywhere
            names = [f"{lowered.entries[entry]}__run", *names[1:]]
        return _functions_of(asm, names)


def _functions_of(asm: str, names: Sequence[str]) -> str:
    """The parts of an assembly listing that define the functions ``names``."""
    wanted = set(names)
    out: list[str] = []
    current: str | None = None
    for line in asm.splitlines():
        label = re.match(r"^([A-Za-z_.$][\w.$]*):", line)
        if label and label.group(1) in wanted:
            current = label.group(1)
            out.append(line)
            continue
        if current is not None:
            out.append(line)
            if line.strip().startswith(".size") and current in line:
                current = None
                out.append("")
    return "\n".join(out)


def jit_run_program(
    insns: Sequence[Insn],
    mem: bytes = b"",
    helpers: HelperRegistry | None = None,
    options: JitOptions | None = None,
) -> RunResult:
    """:func:`bpfvm.vm.interp.run_program` on the JIT: r1 = the memory buffer, r2 = its
    length."""
    engine = JitEngine(insns, helpers, options)
    region = Region.from_bytes("mem", mem)
    return engine.run((region.addr, len(mem)), (region,))
