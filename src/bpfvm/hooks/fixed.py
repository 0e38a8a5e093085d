"""Fixed-up runs: an object's programs through the fixup stage, run on the interpreter or the
JIT with bpfvm's runtime context structures.

:class:`FixedObject` is a :class:`~bpfvm.hooks.test_run.LoadedObject` whose programs are the
xlated ones and whose packet contexts are ``bpfvm_xdp_buff``/``bpfvm_sk_buff``
(:mod:`bpfvm.runtime.ctx_runtime`). A plain ``LoadedObject`` (``--no-verify``) keeps running
the programs as loaded over the UAPI contexts.

* ``engine="interp"``: the interpreter's fixups (ending with ``CALL_ARGS``), then
  :func:`bpfvm.fixups.link` against the object's instantiated maps;
* ``engine="jit"``: the JIT's fixups (``FixupOptions(engine=ENGINE_JIT)``, ending with
  ``jit_subprogs``) and no link: map references stay map indexes, which the JIT resolves
  through its run state (so compiled code is cached by content and its map-kind helper plans
  apply); each program's call table tells it the helper ids, its fixed-up stack depths size
  the native frames (:mod:`bpfvm.vm.jit.xlated`).

The facts come from ``aux(program)`` (the verifier's, through
:func:`bpfvm.fixups.aux_from_verifier`); without it the stand-alone facts are used and the
passes that need the verifier's do nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bpfvm.elf.loader import BpfObject
from bpfvm.errors import InputError
from bpfvm.fixups import (
    ENGINE_INTERP,
    ENGINE_JIT,
    FixupAux,
    FixupOptions,
    MapAddress,
    XlatedProgram,
    fixup,
    link,
)
from bpfvm.hooks.test_run import ENGINES, LoadedObject
from bpfvm.isa.helper_ids import HELPER_NAMES
from bpfvm.program.model import Program
from bpfvm.program.uapi import MapType
from bpfvm.runtime.helpers import HelperRegistry, default_registry
from bpfvm.runtime.maps import BpfMap
from bpfvm.vm.interp import InterpOptions, Interpreter
from bpfvm.vm.jit.layout import JitOptions

AuxSource = Callable[[Program], FixupAux | None]


def map_address(m: BpfMap) -> MapAddress:
    """Where a map's handle lives and, for arrays, its value at key 0 (direct value access)."""
    value = None
    if m.spec.type == MapType.ARRAY and m.spec.key_size == 4:
        value = int(m.prog_lookup(bytes(4), 0)) or None
    return MapAddress(int(m.handle.addr), value)


class FixedObject(LoadedObject):
    """An object whose programs run fixed up (xlated) on the interpreter or the JIT.

    ``fixup_options`` (default: the registry's helpers, the interpreter's stack size) get the
    engine's ``engine`` field whatever they say: the two engines need different final forms.
    ``xlated`` holds each program as the engine runs it (linked for the interpreter only).
    """

    runtime_ctx = True

    def __init__(
        self,
        obj: BpfObject,
        *,
        ncpus: int = 1,
        helpers: HelperRegistry | None = None,
        options: InterpOptions | None = None,
        aux: AuxSource | None = None,
        fixup_options: FixupOptions | None = None,
        engine: str = "interp",
        jit_options: JitOptions | None = None,
    ) -> None:
        if engine not in ENGINES:
            raise InputError(f"unknown engine {engine!r} (choose interp or jit)")
        super().__init__(obj, ncpus=ncpus, helpers=helpers, options=options)
        self.engine = engine
        registry = helpers if helpers is not None else default_registry()
        opts = options or InterpOptions()
        fopts = fixup_options or FixupOptions(
            helper_ids=frozenset(i for i in HELPER_NAMES if i in registry),
            interp_stack_size=opts.stack_size,
        )
        jit = engine == "jit"
        fopts = replace(fopts, engine=ENGINE_JIT if jit else ENGINE_INTERP)
        addresses = [map_address(m) for m in self.map_list]
        self.xlated: dict[str, XlatedProgram] = {}
        for prog in obj.programs:
            facts = aux(prog) if aux is not None else None
            fixed_prog = fixup(prog, facts, fopts)
            self.xlated[prog.name] = fixed_prog if jit else link(fixed_prog, addresses)
        fixed = [self.xlated[p.name] for p in obj.programs]
        tables = [[f.helper_id for f in x.call_table] for x in fixed]
        if jit:
            from bpfvm.vm.jit.engine import JitEngine

            self.vm = JitEngine.for_programs(
                [x.insns for x in fixed],
                registry,
                jit_options,
                maps=self.map_list,
                names=[p.name for p in obj.programs],
                call_tables=tables,
                stack_depths=[max(x.stack_depths, default=0) for x in fixed],
            )
        else:
            self.vm = Interpreter.for_programs(
                [x.insns for x in fixed], registry, opts, maps=self.map_list, call_tables=tables
            )
        self.vm.tail_call_target = self._tail_call_target
