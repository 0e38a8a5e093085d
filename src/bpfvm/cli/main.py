"""``bpfvm`` command-line entry point: argument parsing and dispatch.

Every :class:`~bpfvm.errors.BpfvmError` is printed as one line on stderr with exit status 1;
anything else escaping a command is a bug and is reported as such (still without a
traceback unless ``BPFVM_DEBUG`` is set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from bpfvm.asm.disasm import listing
from bpfvm.cli.inputs import (
    is_elf_file,
    load_programs,
    parse_hex,
    programs_from_bytes,
    read_file,
)
from bpfvm.cli.test_run import add_test_run_arguments, resolve_engine, test_run_command
from bpfvm.cli.verify import add_verify_parser
from bpfvm.cli.xlated import add_xlated_parser
from bpfvm.errors import BpfvmError, InputError
from bpfvm.isa.codec import decode, encode
from bpfvm.vm.interp import InterpOptions, run_program


def _cmd_asm(args: argparse.Namespace) -> int:
    progs = load_programs(args.file, None)
    code = encode(progs[0].insns)
    if args.output:
        with open(args.output, "wb") as fh:
            fh.write(code)
    else:
        sys.stdout.write(code.hex() + "\n")
    return 0


def _cmd_disasm(args: argparse.Namespace) -> int:
    progs = load_programs(args.file, args.hex, args.prog, validate=not args.no_validate)
    for i, prog in enumerate(progs):
        if len(progs) > 1:
            print(("\n" if i else "") + f"{prog.name}:")
        print(listing(prog.insns))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.file and is_elf_file(args.file) and args.mem is None:
        return test_run_command(args)
    for flag in ("data", "ctx", "map_set", "map_dump"):
        if getattr(args, flag):
            raise InputError(f"--{flag.replace('_', '-')} needs an ELF object (FILE.o)")
    progs = load_programs(args.file, args.hex, args.prog)
    if len(progs) != 1:
        names = ", ".join(p.name for p in progs)
        raise InputError(f"the object has {len(progs)} programs ({names}): choose one with --prog")
    mem = parse_hex(args.mem, "--mem") if args.mem else b""
    if resolve_engine(args) == "jit":
        from bpfvm.vm.jit.engine import JitOptions, jit_run_program

        jitted = jit_run_program(progs[0].insns, mem, options=JitOptions(max_loops=args.max_insns))
        retval, executed = jitted.retval, jitted.insns_executed  # 0: the JIT does not count
    else:
        result = run_program(progs[0].insns, mem, options=InterpOptions(max_insns=args.max_insns))
        retval, executed = result.retval, result.insns_executed
    if args.json:
        print(json.dumps({"retval": retval, "insns_executed": executed}))
    else:
        print(f"{retval:#x}")
    return 0


def _cmd_conformance_plugin(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read()
    if args.elf:
        if not data.startswith(b"\x7fELF"):
            raise InputError("--elf given but stdin is not an ELF object")
        insns = programs_from_bytes(data, "<stdin>")[0].insns
    else:
        insns = decode(data)
    mem = parse_hex(args.memory, "memory") if args.memory else b""
    if args.jit:
        from bpfvm.vm.jit.engine import jit_run_program

        print(f"{jit_run_program(insns, mem).retval:x}")
    else:
        print(f"{run_program(insns, mem).retval:x}")
    return 0


def _cmd_jited(args: argparse.Namespace) -> int:
    """Native code of a program, like ``bpftool prog dump jited``."""
    from bpfvm.vm.jit.engine import JitEngine

    if args.file and is_elf_file(args.file) and args.hex is None:
        from bpfvm.elf.loader import load_object
        from bpfvm.hooks.test_run import LoadedObject

        obj = load_object(read_file(args.file), args.file)
        loaded = LoadedObject(obj, engine="jit")
        names = [p.name for p in obj.programs] if args.prog is None else [args.prog]
        for name in names:
            loaded.program(name)
        assert isinstance(loaded.vm, JitEngine)
        for i, name in enumerate(names):
            entry = [p.name for p in obj.programs].index(name)
            text = loaded.vm.ir if args.ir else loaded.vm.assembly(entry)
            print(("\n" if i else "") + f"{name}:\n{text}")
        return 0
    progs = load_programs(args.file, args.hex, args.prog)
    for i, prog in enumerate(progs):
        engine = JitEngine(prog.insns)
        text = engine.ir if args.ir else engine.assembly(0)
        print(("\n" if i else "") + f"{prog.name}:\n{text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bpfvm", description="Userspace eBPF toolchain.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("asm", help="assemble kernel-syntax or uBPF-dialect text to bytecode")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="write raw bytes here (default: hex on stdout)")
    p.set_defaults(func=_cmd_asm)

    p = sub.add_parser("disasm", help="disassemble raw bytes, hex, asm text or an ELF object")
    p.add_argument("file", nargs="?")
    p.add_argument("--hex", help="the program as hex bytes")
    p.add_argument("--prog", help="only this program of an ELF object")
    p.add_argument(
        "--no-validate",
        action="store_true",
        help="print instructions even when their encoding is invalid",
    )
    p.set_defaults(func=_cmd_disasm)

    add_xlated_parser(sub)

    p = sub.add_parser(
        "run",
        help="run a program: an ELF object's program as BPF_PROG_TEST_RUN does, or raw code "
        "over --mem",
    )
    p.add_argument("file", nargs="?")
    p.add_argument("--hex", help="the program as hex bytes")
    p.add_argument("--prog", help="the program to run, in an ELF object")
    p.add_argument("--mem", help="raw programs: memory passed in r1 (length in r2), as hex")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument(
        "--engine", choices=("interp", "jit"), default=None,
        help="run on the LLVM JIT (the default where llvmlite is installed, unless --max-insns "
        "is given) or the interpreter",
    )  # fmt: skip
    add_test_run_arguments(p)
    p.add_argument(
        "--max-insns",
        type=int,
        default=None,
        help=f"stop a run after this many instructions (default {InterpOptions.max_insns}; "
        "the interpreter counts instructions, the JIT loop back-edges)",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "conformance-plugin", help="bpf_conformance plugin: program on stdin, memory hex in argv"
    )
    p.add_argument("memory", nargs="?", default="")
    p.add_argument("--elf", action="store_true", help="stdin is an ELF object")
    p.add_argument("--jit", action="store_true", help="run on the LLVM JIT")
    p.set_defaults(func=_cmd_conformance_plugin)

    p = sub.add_parser("jited", help="print a program's native code (bpftool prog dump jited)")
    p.add_argument("file", nargs="?")
    p.add_argument("--hex", help="the program as hex bytes")
    p.add_argument("--prog", help="only this program of an ELF object")
    p.add_argument("--ir", action="store_true", help="print the optimised LLVM IR instead")
    p.set_defaults(func=_cmd_jited)

    add_verify_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BpfvmError as exc:
        print(f"bpfvm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug in bpfvm: still one line, unless debugging
        if os.environ.get("BPFVM_DEBUG"):
            raise
        print(f"bpfvm: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
