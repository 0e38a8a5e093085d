"""``bpfvm xlated FILE [--prog NAME]``: the fixed-up program, like ``bpftool prog dump
xlated``.

The facts come from the verifier when it is available and accepts the program; when the
verifier cannot be used (not built yet, or ``--no-verify``) the passes that need its facts are
skipped and the header says so. A program the verifier rejects, or that a fixup refuses, is an
error (the kernel would not load it).
"""

from __future__ import annotations

import argparse
from typing import Any

from bpfvm.cli.inputs import load_programs, read_file
from bpfvm.elf.loader import load_object
from bpfvm.errors import InputError
from bpfvm.fixups import (
    ENGINE_INTERP,
    ENGINE_JIT,
    FixupAux,
    FixupOptions,
    XlatedProgram,
    aux_from_verifier,
    fixup,
)
from bpfvm.fixups.analysis import subprog_starts
from bpfvm.fixups.dump import dump_xlated
from bpfvm.program.model import Program


def add_xlated_parser(sub: Any) -> None:
    p = sub.add_parser(
        "xlated", help="the fixed-up (xlated) program, like bpftool prog dump xlated"
    )
    p.add_argument("file")
    p.add_argument("--prog", help="only this program of an ELF object")
    p.add_argument("--engine", choices=(ENGINE_INTERP, ENGINE_JIT), default=ENGINE_INTERP)
    p.add_argument(
        "--unprivileged", action="store_true", help="fix up as for an unprivileged loader"
    )
    p.add_argument("--no-verify", action="store_true", help="do not ask the verifier for facts")
    p.add_argument("--linum", action="store_true", help="add file:line:col to source lines")
    p.set_defaults(func=xlated_command)


def _programs(path: str, name: str | None) -> list[Program]:
    data = read_file(path)
    if data.startswith(b"\x7fELF"):
        obj = load_object(data, path)
        progs = list(obj.programs)
        if name is not None:
            progs = [p for p in progs if name in (p.name, p.section)]
            if not progs:
                raise InputError(f"{path}: no program named {name!r}")
        return progs
    return [
        Program(s.name, tuple(s.insns), func_starts=subprog_starts(s.insns))
        for s in load_programs(path, None, name)
    ]


def verifier_facts(prog: Program, privileged: bool) -> tuple[FixupAux | None, str]:
    """The verifier's facts, or None and why they are missing."""
    try:
        from bpfvm import verifier

        verify = verifier.verify
    except (ImportError, AttributeError):
        return None, "the verifier is not available"
    try:
        result = verify(prog)
    except NotImplementedError as exc:
        return None, f"the verifier cannot check this program yet ({exc})"
    if not getattr(result, "accepted", False):
        raise InputError(f"{prog.name}: the verifier rejects the program: {result.error}")
    nslots = sum(i.width for i in prog.insns)
    try:
        return aux_from_verifier(result, prog.func_starts, nslots, privileged), ""
    except ValueError as exc:
        return None, f"the verifier's facts are unusable ({exc})"


def header(prog: XlatedProgram, why: str, engine: str) -> list[str]:
    facts = prog.aux.source
    lines = [f"; {prog.name}: {len(prog.insns)} insns, {prog.nslots} slots, engine {engine}"]
    if why:
        lines.append(f"; facts: {facts} ({why}); only passes that need no verifier facts acted")
    else:
        lines.append(f"; facts: {facts}")
    lines.append(f"; passes: {', '.join(prog.passes)}")
    lines.extend(f"; skipped: {n}" for n in prog.notes if not n.startswith("no verifier"))
    if prog.source.maps:
        names = " ".join(f"{i}={m.name}" for i, m in enumerate(prog.source.maps))
        lines.append(f"; maps: {names}")
    depths = ", ".join(str(d) for d in prog.stack_depths)
    lines.append(f"; stack depth per function: {depths}")
    return lines


def xlated_command(args: argparse.Namespace) -> int:
    privileged = not args.unprivileged
    for i, prog in enumerate(_programs(args.file, args.prog)):
        aux, why = (None, "--no-verify") if args.no_verify else verifier_facts(prog, privileged)
        if aux is None and not privileged:
            from bpfvm.fixups import standalone_aux

            aux = standalone_aux(prog, privileged=False)
        xp = fixup(prog, aux, FixupOptions(engine=args.engine))
        if i:
            print()
        print("\n".join(header(xp, why, args.engine)))
        print(dump_xlated(xp, linum=args.linum))
    return 0
