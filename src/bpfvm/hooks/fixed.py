"""Fixed-up runs: an object's programs through the fixup stage, linked to its maps, run on the
interpreter with bpfvm's runtime context structures.

:class:`FixedObject` is a :class:`~bpfvm.hooks.test_run.LoadedObject` whose programs are the
xlated ones (:func:`bpfvm.fixups.fixup`, then :func:`bpfvm.fixups.link` against the object's
instantiated maps) and whose packet contexts are ``bpfvm_xdp_buff``/``bpfvm_sk_buff``
(:mod:`bpfvm.runtime.ctx_runtime`). A plain ``LoadedObject`` (``--no-verify``) keeps running
the programs as loaded over the UAPI contexts.

The facts come from ``aux(program)`` (the verifier's, through
:func:`bpfvm.fixups.aux_from_verifier`); without it the stand-alone facts are used and the
passes that need the verifier's do nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from bpfvm.elf.loader import BpfObject
from bpfvm.fixups import FixupAux, FixupOptions, MapAddress, XlatedProgram, fixup, link
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.isa.helper_ids import HELPER_NAMES
from bpfvm.program.model import Program
from bpfvm.program.uapi import MapType
from bpfvm.runtime.helpers import HelperRegistry, default_registry
from bpfvm.runtime.maps import BpfMap
from bpfvm.vm.interp import InterpOptions, Interpreter

AuxSource = Callable[[Program], FixupAux | None]


def map_address(m: BpfMap) -> MapAddress:
    """Where a map's handle lives and, for arrays, its value at key 0 (direct value access)."""
    value = None
    if m.spec.type == MapType.ARRAY and m.spec.key_size == 4:
        value = int(m.prog_lookup(bytes(4), 0)) or None
    return MapAddress(int(m.handle.addr), value)


class FixedObject(LoadedObject):
    """An object whose programs run fixed up (xlated) on the interpreter."""

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
    ) -> None:
        super().__init__(obj, ncpus=ncpus, helpers=helpers, options=options)
        registry = helpers if helpers is not None else default_registry()
        opts = options or InterpOptions()
        fopts = fixup_options or FixupOptions(
            helper_ids=frozenset(i for i in HELPER_NAMES if i in registry),
            interp_stack_size=opts.stack_size,
        )
        addresses = [map_address(m) for m in self.map_list]
        self.xlated: dict[str, XlatedProgram] = {}
        for prog in obj.programs:
            facts = aux(prog) if aux is not None else None
            self.xlated[prog.name] = link(fixup(prog, facts, fopts), addresses)
        fixed = [self.xlated[p.name] for p in obj.programs]
        self.vm = Interpreter.for_programs(
            [x.insns for x in fixed],
            registry,
            opts,
            maps=self.map_list,
            call_tables=[[f.helper_id for f in x.call_table] for x in fixed],
        )
        self.vm.tail_call_target = self._tail_call_target
