"""``BPF_PROG_TEST_RUN`` for a loaded object: maps instantiated, programs run on the interpreter.

:class:`LoadedObject` is what ``bpf_object__load`` gives a libbpf user: the object's maps
created (global data initialised, prog arrays and map-in-maps filled from their ``.values``)
and every program ready to run. All programs share one interpreter, so a tail call is a jump
between them and they see the same maps.

:meth:`LoadedObject.test_run` follows the kernel's per-type ``test_run``:

- packet programs (XDP, tc, socket filter, cgroup skb, lwt): the context is built from
  ``data_in``/``ctx_in`` as ``net/bpf/test_run.c`` builds it (:mod:`bpfvm.hooks.context`);
- ``syscall``: ``ctx_in`` is copied in and out (no data, no repeat);
- ``raw_tracepoint``: ``ctx_in`` is the u64 argument array (no data);
- tracing, kprobe, tracepoint and perf_event programs cannot be test-run in the kernel;
  bpfvm runs them over ``ctx_in`` as raw context memory (the args array, ``pt_regs`` ...), a
  documented extension for unit tests.

``duration_ns`` is the mean wall time per run, as the kernel reports it.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bpfvm.elf.loader import BpfObject, load_object
from bpfvm.errors import BpfvmError, InputError
from bpfvm.hooks.context import PACKET_PROG_TYPES, TestRunError, build_packet_context
from bpfvm.hooks.pool import PacketPool
from bpfvm.hooks.typed import typed_map
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.runtime.helpers import HelperRegistry
from bpfvm.runtime.maps import BpfMap, ProgArrayMap, create_map
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import InterpOptions, Interpreter
from bpfvm.vm.jit.layout import JitOptions

if TYPE_CHECKING:
    from bpfvm.vm.jit.engine import JitEngine

ENGINES = ("interp", "jit")

MAX_CTX_SIZE = 0xFFFF  # U16_MAX, the syscall program's limit
MAX_RAW_TP_ARGS = 12  # MAX_BPF_FUNC_ARGS


@dataclass
class TestRunResult:
    retval: int
    data_out: bytes = b""
    ctx_out: bytes = b""
    duration_ns: float = 0.0
    trace: list[str] = field(default_factory=list)


class RunContext(Protocol):
    """What one test run hands the engine, and how to read the results back."""

    @property
    def args(self) -> tuple[int, ...]: ...  # r1..r5
    @property
    def regions(self) -> list[Region]: ...
    @property
    def packet(self) -> Region | None: ...  # what LD_ABS/LD_IND read
    @property
    def packet_state(self) -> Any: ...  # HelperCall.packet for the packet helpers
    def finish(self) -> tuple[bytes, bytes]: ...  # (data_out, ctx_out)
    def close(self) -> None: ...


@dataclass
class RawContext:
    """The context of a non-packet program: ``ctx_in`` as plain memory."""

    prog_type: ProgType
    region: Region | None
    packet: Region | None = None
    packet_state: Any = None

    @property
    def args(self) -> tuple[int, ...]:
        return (self.region.addr if self.region is not None else 0,)

    @property
    def regions(self) -> list[Region]:
        return [self.region] if self.region is not None else []

    def finish(self) -> tuple[bytes, bytes]:
        if self.region is None or self.prog_type != ProgType.SYSCALL:
            return b"", b""
        return b"", self.region.read()  # a syscall program's ctx is copied back

    def close(self) -> None:
        pass


def _raw_context(prog: Program, data: bytes, ctx: bytes | None) -> RawContext:
    if data:
        raise TestRunError(errno.EINVAL, f"{prog.prog_type.name.lower()} programs take no data_in")
    if ctx is not None and len(ctx) > MAX_CTX_SIZE:
        raise TestRunError(
            errno.EINVAL, f"ctx_in of {len(ctx)} bytes is larger than {MAX_CTX_SIZE}"
        )
    raw_tp = prog.prog_type == ProgType.RAW_TRACEPOINT
    if raw_tp and ctx is not None and (len(ctx) % 8 or len(ctx) > 8 * MAX_RAW_TP_ARGS):
        raise TestRunError(errno.EINVAL, "raw_tracepoint ctx_in must be at most 12 u64 args")
    if ctx is None:
        return RawContext(prog.prog_type, None)
    writable = prog.prog_type != ProgType.RAW_TRACEPOINT
    return RawContext(prog.prog_type, Region.from_bytes("ctx", ctx, writable=writable))


def build_context(
    prog: Program,
    data: bytes,
    ctx: bytes | None,
    runtime_ctx: bool = False,
    pool: PacketPool | None = None,
) -> RunContext:
    """``runtime_ctx``: packet programs get bpfvm's runtime context structure (fixed-up
    programs, :mod:`bpfvm.runtime.ctx_runtime`) instead of the UAPI struct; ``pool`` reuses
    their packet states between runs."""
    if prog.prog_type in PACKET_PROG_TYPES:
        return build_packet_context(prog.prog_type, data, ctx, runtime_ctx=runtime_ctx, pool=pool)
    return _raw_context(prog, data, ctx)


def _create_maps(specs: Sequence[MapSpec], ncpus: int) -> list[BpfMap]:
    by_name: dict[str, BpfMap] = {}
    out = []
    for spec in specs:
        m = create_map(spec, ncpus)
        by_name[spec.name] = m
        out.append(m)
    for m in out:  # map-in-map `.values`: the named maps become the initial inner maps
        if m.spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            for slot, name in m.spec.init_slots:
                if name not in by_name:
                    raise BpfvmError(f"map '{m.spec.name}': .values names unknown map '{name}'")
                m.update(slot.to_bytes(m.spec.key_size, "little"), by_name[name])
    return out


class LoadedObject:
    """An object's maps and programs, instantiated and ready to run."""

    runtime_ctx = False  # packet contexts are the UAPI structs (programs not fixed up)

    def __init__(
        self,
        obj: BpfObject,
        *,
        ncpus: int = 1,
        helpers: HelperRegistry | None = None,
        options: InterpOptions | None = None,
        engine: str = "interp",
        jit_options: JitOptions | None = None,
    ) -> None:
        """``engine``: ``"interp"`` (the reference interpreter) or ``"jit"`` (native code
        through LLVM, :mod:`bpfvm.vm.jit`; ``jit_options`` tune it)."""
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r} (choose interp or jit)")
        self.engine = engine
        self.object = obj
        self.ncpus = ncpus
        self.map_list = _create_maps(obj.maps, ncpus)
        self.maps = {m.spec.name: m for m in self.map_list}
        self.packets = PacketPool()  # packet states reused by test_run (bpfvm.hooks.pool)
        self.programs = {p.name: p for p in obj.programs}
        self._entry = {p.name: i for i, p in enumerate(obj.programs)}
        self.vm: Interpreter | JitEngine
        if engine == "jit":
            from bpfvm.vm.jit.engine import JitEngine

            self.vm = JitEngine.for_programs(
                [p.insns for p in obj.programs], helpers, jit_options, maps=self.map_list,
                names=[p.name for p in obj.programs],
            )  # fmt: skip
        else:
            self.vm = Interpreter.for_programs(
                [p.insns for p in obj.programs], helpers, options, maps=self.map_list
            )
        self.vm.tail_call_target = self._tail_call_target
        for m in self.map_list:
            if isinstance(m, ProgArrayMap):
                for slot, name in m.spec.init_slots:
                    m.set_prog(slot, self.program(name))

    def program(self, name: str) -> Program:
        if name not in self.programs:
            return self.object.program(name)  # raises with the list of names
        return self.programs[name]

    def map(self, name: str) -> BpfMap:
        if name not in self.maps:
            self.object.map_index(name)  # raises with the list of names
        return self.maps[name]

    typed = typed_map  # .typed(name): a TypedMap of map `name`, keys and values BTF-decoded

    def _tail_call_target(self, map_addr: int, index: int) -> int | None:
        m = self.vm.call.maps.get(map_addr)
        if not isinstance(m, ProgArrayMap) or index >= m.spec.max_entries:
            return None
        prog = m.get_prog(index)
        return self._entry.get(prog.name) if isinstance(prog, Program) else None

    def test_run(
        self,
        name: str,
        data: bytes = b"",
        ctx: bytes | None = None,
        *,
        repeat: int = 1,
        cpu: int = 0,
    ) -> TestRunResult:
        """Run program ``name`` the way ``BPF_PROG_TEST_RUN`` does (``repeat`` 0 means 1)."""
        prog = self.program(name)
        if prog.prog_type == ProgType.SYSCALL and repeat > 1:
            raise TestRunError(errno.EINVAL, "syscall programs can't be repeated")
        if not 0 <= cpu < self.ncpus:
            raise TestRunError(errno.ENXIO, f"cpu {cpu} is not one of the {self.ncpus} CPUs")
        run_ctx = build_context(prog, data, ctx, self.runtime_ctx, self.packets)
        vm = self.vm
        vm.call.cpu = cpu
        vm.call.packet = run_ctx.packet_state
        vm.call.trace = []
        runs = max(repeat, 1)
        try:
            start = time.perf_counter_ns()
            if isinstance(vm, Interpreter):
                for _ in range(runs):
                    result = vm.run(
                        run_ctx.args, run_ctx.regions, run_ctx.packet, self._entry[name]
                    )
                raw = result.retval
            else:  # the JIT loops in native code
                entry = self._entry[name]
                raw = vm.run(
                    run_ctx.args, run_ctx.regions, run_ctx.packet, entry, repeat=runs
                ).retval
            elapsed = time.perf_counter_ns() - start
            data_out, ctx_out = run_ctx.finish()
        finally:
            run_ctx.close()
            vm.call.packet = None
        retval = raw & 0xFFFFFFFF  # attr.test.retval is a __u32
        return TestRunResult(retval, data_out, ctx_out, elapsed / runs, vm.call.trace)

    def test_run_batch(
        self, name: str, packets: Sequence[bytes], ctx: bytes | None = None, *, cpu: int = 0
    ) -> list[TestRunResult]:
        """Run program ``name`` once per packet (same ``ctx_in``); on the JIT, all of them in
        one native call. ``duration_ns`` is the mean over the batch."""
        prog = self.program(name)
        if not 0 <= cpu < self.ncpus:
            raise TestRunError(errno.ENXIO, f"cpu {cpu} is not one of the {self.ncpus} CPUs")
        contexts = [build_context(prog, data, ctx, self.runtime_ctx) for data in packets]
        vm, entry = self.vm, self._entry[name]
        vm.call.cpu = cpu
        vm.call.trace = []
        try:
            start = time.perf_counter_ns()
            if isinstance(vm, Interpreter):
                retvals = []
                for c in contexts:
                    vm.call.packet = c.packet_state
                    retvals.append(vm.run(c.args, c.regions, c.packet, entry).retval)
            else:
                from bpfvm.vm.jit.engine import BatchItem

                items = [BatchItem(c.args, c.regions, c.packet, c.packet_state) for c in contexts]
                retvals = [r.retval for r in vm.run_batch(items, entry)]
            elapsed = (time.perf_counter_ns() - start) / max(len(contexts), 1)
            outs = [c.finish() for c in contexts]
        finally:
            for c in contexts:
                c.close()
            vm.call.packet = None
        return [
            TestRunResult(r & 0xFFFFFFFF, d, x, elapsed, vm.call.trace)
            for r, (d, x) in zip(retvals, outs, strict=True)
        ]


def load(
    path: str, *, ncpus: int = 1, helpers: HelperRegistry | None = None, engine: str = "interp"
) -> LoadedObject:
    """Open an ELF object file and create its maps: what ``bpf_object__open_file`` and
    ``bpf_object__load`` give a libbpf user (without verification, for now)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    return LoadedObject(load_object(data, path), ncpus=ncpus, helpers=helpers, engine=engine)
