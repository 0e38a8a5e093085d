"""``bpfvm run FILE.o``: BPF_PROG_TEST_RUN on a program of an object, with map set-up and dumps."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bpfvm.cli.inputs import bytes_arg, parse_hex, read_file
from bpfvm.elf.loader import BpfObject, load_object
from bpfvm.errors import InputError
from bpfvm.fixups import FixupAux, aux_from_verifier
from bpfvm.hooks.fixed import FixedObject
from bpfvm.hooks.test_run import LoadedObject, TestRunResult
from bpfvm.program.model import Program
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BpfMap, PerfEventArrayMap, QueueMap, RingBufMap, StackMap
from bpfvm.vm.interp import InterpOptions


def jit_available() -> bool:
    """Whether the JIT can run here (llvmlite imports)."""
    try:
        import llvmlite  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(args: argparse.Namespace) -> str:
    """``--engine`` as given; by default the JIT where llvmlite is available, except with
    ``--max-insns`` (an instruction count only the interpreter keeps), else the interpreter.
    Also fills in ``--max-insns``'s default."""
    engine: str | None = getattr(args, "engine", None)
    limit = getattr(args, "max_insns", None)
    if engine is None:
        engine = "jit" if limit is None and jit_available() else "interp"
    args.engine = engine
    args.max_insns = InterpOptions.max_insns if limit is None else limit
    return engine


def add_test_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="ELF programs: the packet (data_in), as HEX or @FILE")
    p.add_argument("--ctx", help="ELF programs: the context (ctx_in), as HEX or @FILE")
    p.add_argument("--repeat", type=int, default=1, help="run this many times (default 1)")
    p.add_argument("--cpu", type=int, default=0, help="the CPU the program runs on")
    p.add_argument("--ncpus", type=int, default=1, help="CPUs of per-CPU maps (default 1)")
    p.add_argument(
        "--map-set", action="append", default=[], metavar="NAME:KEYHEX=VALUEHEX",
        help="set a map element before the run (repeatable; per-CPU maps: every CPU)",
    )  # fmt: skip
    p.add_argument(
        "--map-dump", action="append", default=[], metavar="NAME",
        help="print a map's contents after the run (repeatable)",
    )  # fmt: skip
    p.add_argument("--trace", action="store_true", help="print bpf_trace_printk output to stderr")
    p.add_argument(
        "--no-verify", action="store_true",
        help="ELF programs: run without verification and fixups (on the checked engine)",
    )  # fmt: skip


def _parse_map_set(text: str) -> tuple[str, bytes, bytes]:
    name, sep, rest = text.partition(":")
    key, sep2, value = rest.partition("=")
    if not (sep and sep2 and name):
        raise InputError(f"--map-set {text!r}: expected NAME:KEYHEX=VALUEHEX")
    return (
        name,
        parse_hex(key, f"--map-set {name} key"),
        parse_hex(value, f"--map-set {name} value"),
    )


def apply_map_set(loaded: LoadedObject, text: str) -> None:
    """``NAME:KEYHEX=VALUEHEX``; a queue or stack has no key (``NAME:=VALUEHEX`` pushes)."""
    name, key, value = _parse_map_set(text)
    m = loaded.map(name)
    if m.spec.type in (MapType.QUEUE, MapType.STACK):
        m.update(None, value)
    else:
        m.update(key, value)


def dump_map(m: BpfMap) -> Any:
    """A map's contents as JSON: {KEYHEX: VALUEHEX or [per-CPU VALUEHEX]}. A queue or stack
    gives {"": [values in pop order]} (popping them), a ring buffer or perf buffer the list of
    records not yet consumed."""
    if isinstance(m, QueueMap | StackMap):
        values = []
        while len(m):
            value = m.lookup_and_delete(None)
            assert isinstance(value, bytes)
            values.append(value.hex())
        return {"": values}
    if isinstance(m, RingBufMap):
        return [r.hex() for r in m.consume()]
    if isinstance(m, PerfEventArrayMap):
        return [{"cpu": cpu, "data": r.hex()} for cpu, r in m.read()]
    out: dict[str, Any] = {}
    for key, value in m.items():
        if isinstance(value, list):
            out[key.hex()] = [v.hex() for v in value]
        elif isinstance(value, bytes | bytearray):
            out[key.hex()] = bytes(value).hex()
        else:  # prog arrays and map-in-maps hold programs and maps
            out[key.hex()] = getattr(value, "name", str(value))
    return out


def _print_human(res: TestRunResult, maps: dict[str, Any]) -> None:
    print(f"retval: {res.retval} ({res.retval:#x})")
    if res.data_out:
        print(f"data_out: {res.data_out.hex()}")
    if res.ctx_out:
        print(f"ctx_out: {res.ctx_out.hex()}")
    print(f"duration: {res.duration_ns:.0f} ns/run")
    for name, content in maps.items():
        print(f"map {name}: {json.dumps(content)}")


def verify_object(obj: BpfObject) -> dict[Program, FixupAux]:
    """Verify every program of ``obj`` as loading the object into the kernel would, and return
    the verifier's facts for the fixup stage; a rejection is the kernel's error line."""
    from bpfvm.verifier import verify

    facts = {}
    for prog in obj.programs:
        result = verify(prog)
        if not result.accepted:
            raise InputError(
                f"prog '{prog.name}' is rejected by the verifier: {result.error} "
                "(bpfvm verify shows the log; --no-verify runs it unverified)"
            )
        nslots = sum(i.width for i in prog.insns)
        facts[prog] = aux_from_verifier(result, prog.func_starts, nslots, privileged=True)
    return facts


def test_run_command(args: argparse.Namespace) -> int:
    obj = load_object(read_file(args.file), args.file)
    if args.prog is None:
        if len(obj.programs) != 1:
            names = ", ".join(p.name for p in obj.programs)
            raise InputError(f"{args.file} has {len(obj.programs)} programs ({names}): "
                             "choose one with --prog")  # fmt: skip
        args.prog = obj.programs[0].name
    if args.ncpus < 1:
        raise InputError("--ncpus must be at least 1")
    engine = resolve_engine(args)
    jit_options = None
    if engine == "jit":
        from bpfvm.vm.jit.layout import JitOptions

        jit_options = JitOptions(max_loops=args.max_insns)
    options = InterpOptions(max_insns=args.max_insns)
    facts = None if args.no_verify else verify_object(obj)
    loaded: LoadedObject
    if facts is not None:  # the kernel's path: verified, then fixed up for the engine
        loaded = FixedObject(
            obj, ncpus=args.ncpus, options=options, aux=facts.get, engine=engine,
            jit_options=jit_options,
        )  # fmt: skip
    else:  # --no-verify: the programs as loaded, on the checked engine
        loaded = LoadedObject(
            obj, ncpus=args.ncpus, options=options, engine=engine, jit_options=jit_options
        )
    loaded.program(args.prog)
    for text in args.map_set:
        apply_map_set(loaded, text)
    for name in args.map_dump:
        loaded.map(name)
    data = bytes_arg(args.data, "--data") if args.data else b""
    ctx = bytes_arg(args.ctx, "--ctx") if args.ctx else None
    res = loaded.test_run(args.prog, data, ctx, repeat=args.repeat, cpu=args.cpu)
    maps = {name: dump_map(loaded.map(name)) for name in args.map_dump}
    if args.trace:
        for line in res.trace:
            print(line, file=sys.stderr)
    if args.json:
        out: dict[str, Any] = {
            "retval": res.retval,
            "data_out": res.data_out.hex(),
            "ctx_out": res.ctx_out.hex(),
            "duration_ns": res.duration_ns,
        }
        if maps:
            out["maps"] = maps
        print(json.dumps(out))
    else:
        _print_human(res, maps)
    return 0
