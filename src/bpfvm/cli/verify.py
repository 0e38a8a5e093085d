"""``bpfvm verify``: run the verifier on an ELF object's programs or on a raw program.

``bpfvm verify FILE.o [--prog NAME]`` verifies the programs of an object as libbpf would load
them; ``bpfvm verify --prog-type TYPE [--maps MAPS_JSON] (--hex HEX | FILE.s | FILE.bin)``
verifies one raw program, whose ``ld_imm64`` map references (``src=1/2``) index the maps of
``MAPS_JSON`` (a list of ``{"type", "key_size", "value_size", "max_entries"}``; ``type`` is a
kernel map type name such as ``"hash"`` or its number). ``--log-level 1|2`` prints the kernel's
verifier log; ``--json`` prints one JSON object per program. The kernel modelled is the running
one (``/proc/config.gz``, ``/sys/kernel/security/lockdown``) unless ``--kernel-config FILE`` (a
``.config``, plain or gzip) or ``--lockdown none|integrity|confidentiality`` say otherwise; with
neither readable, every option is on and there is no lockdown. Exit status: 0 when every program
is accepted, 1 when one is rejected, 2 when the input cannot be used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from bpfvm.cli.inputs import assemble_text, is_elf_file, parse_hex, read_file
from bpfvm.elf.loader import load_object
from bpfvm.errors import BpfvmError, InputError
from bpfvm.isa.codec import decode
from bpfvm.platform.env import KernelConfig, Lockdown, running_kernel_config
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.verifier import VerifierResult, prog_env, verify

EXIT_REJECTED = 1
EXIT_BAD_INPUT = 2


def add_verify_parser(sub: Any) -> None:
    """Register the ``verify`` subcommand on the top-level subparsers."""
    p = sub.add_parser("verify", help="verify programs as the Linux 6.18 verifier does")
    p.add_argument("file", nargs="?", help="an ELF object, assembly text (.s) or raw bytes")
    p.add_argument("--prog", help="ELF objects: only this program")
    p.add_argument("--hex", help="a raw program as hex bytes")
    p.add_argument("--prog-type", help="raw programs: the program type (xdp, socket_filter, ...)")
    p.add_argument("--maps", help="raw programs: a JSON file listing the maps")
    p.add_argument("--license", default="GPL", help="raw programs: the license (default GPL)")
    p.add_argument("--log-level", type=int, choices=(0, 1, 2), default=0)
    p.add_argument("--json", action="store_true", help="one JSON object per program")
    p.add_argument(
        "--kernel-config",
        metavar="FILE",
        help="the kernel .config (plain or gzip) to model (default: /proc/config.gz)",
    )
    p.add_argument(
        "--lockdown",
        choices=("none", "integrity", "confidentiality"),
        help="the lockdown level (default: the running kernel's, or what the config forces)",
    )
    p.add_argument(
        "--kernel", action="store_true",
        help="also load each program into the running kernel (needs root) and show both verdicts",
    )  # fmt: skip
    p.set_defaults(func=verify_command)


def verify_command(args: argparse.Namespace) -> int:
    try:
        programs = _programs(args)
    except BpfvmError as exc:
        print(f"bpfvm: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        config = _kernel_config(args)
    except BpfvmError as exc:
        print(f"bpfvm: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    status = 0
    for prog in programs:
        result = verify(prog, log_level=args.log_level, env=prog_env(prog, config))
        _report(prog, result, args)
        if not result.accepted:
            status = EXIT_REJECTED
        if args.kernel:
            _report_kernel(prog, result)
    return status


def _report_kernel(prog: Program, ours: VerifierResult) -> None:
    """The running kernel's verdict on the same program, next to bpfvm's."""
    from bpfvm.kernel.loader import load_program
    from bpfvm.kernel.syscall import KernelUnavailable

    try:
        theirs = load_program(prog)
    except KernelUnavailable as exc:
        print(f"{prog.name}: kernel: unavailable ({exc})")
        return
    if theirs.unavailable:
        print(f"{prog.name}: kernel: unavailable ({theirs.unavailable})")
        return
    verdict = "accepted" if theirs.accepted else f"rejected: {theirs.error}"
    same = ours.accepted == theirs.accepted and (ours.accepted or ours.error == theirs.error)
    agreement = "same verdict" if same else "DIFFERENT verdict"
    print(f"{prog.name}: kernel: {verdict} (processed {theirs.processed_insns} insns; {agreement})")


def _kernel_config(args: argparse.Namespace) -> KernelConfig:
    config = running_kernel_config()
    if getattr(args, "kernel_config", None):
        path = args.kernel_config
        read = KernelConfig.running(path, lockdown_path="/nonexistent")
        if read is None:
            raise InputError(f"{path}: cannot read the kernel configuration")
        config = read
    if getattr(args, "lockdown", None):
        config = dataclasses.replace(config, lockdown=Lockdown[args.lockdown.upper()])
    return config


def _report(prog: Program, result: VerifierResult, args: argparse.Namespace) -> None:
    if args.json:
        print(
            json.dumps(
                {
                    "name": prog.name,
                    "accepted": result.accepted,
                    "error": result.error,
                    "processed_insns": result.processed_insns,
                    "log": result.log,
                }
            )
        )
        return
    if args.log_level:
        sys.stdout.write(result.log)
    verdict = "accepted" if result.accepted else f"rejected: {result.error}"
    print(f"{prog.name}: {verdict} (processed {result.processed_insns} insns)")


def _programs(args: argparse.Namespace) -> list[Program]:
    if args.file is not None and args.hex is not None:
        raise InputError("give either FILE or --hex, not both")
    if args.file is not None and is_elf_file(args.file):
        if args.prog_type or args.maps:
            raise InputError("--prog-type and --maps apply to raw programs, not ELF objects")
        obj = load_object(read_file(args.file), args.file)
        progs = list(obj.programs)
        if args.prog is not None:
            progs = [p for p in progs if args.prog in (p.name, p.section)]
            if not progs:
                raise InputError(f"{args.file}: no program named {args.prog!r}")
        return progs
    if args.prog is not None:
        raise InputError("--prog only applies to ELF objects")
    if args.prog_type is None:
        raise InputError("raw programs need --prog-type")
    prog_type = _prog_type(args.prog_type)
    maps = _maps(args.maps) if args.maps else ()
    if args.hex is not None:
        name, insns = "<hex>", decode(parse_hex(args.hex))
    elif args.file is not None:
        name, insns = args.file, _raw_insns(args.file)
    else:
        raise InputError("no program given (FILE or --hex)")
    return [Program(name, tuple(insns), prog_type, license=args.license, maps=maps)]


def _raw_insns(path: str) -> list[Any]:
    data = read_file(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text and text.strip():
        return assemble_text(text, path)
    return decode(data)


def _prog_type(name: str) -> ProgType:
    key = name.strip().upper().replace("-", "_")
    if key.isdigit():
        try:
            return ProgType(int(key))
        except ValueError:
            pass
    aliases = {"TC": "SCHED_CLS", "SOCKET": "SOCKET_FILTER", "CGROUP_SKB": "CGROUP_SKB"}
    key = aliases.get(key, key)
    try:
        return ProgType[key]
    except KeyError:
        raise InputError(f"unknown program type {name!r}") from None


def _maps(path: str) -> tuple[MapSpec, ...]:
    try:
        entries = json.loads(read_file(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not JSON: {exc}") from None
    if not isinstance(entries, list):
        raise InputError(f"{path}: expected a JSON list of maps")
    specs = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise InputError(f"{path}: map #{i} is not an object")
        try:
            specs.append(
                MapSpec(
                    str(e.get("name", "")),
                    _map_type(e["type"]),
                    int(e["key_size"]),
                    int(e["value_size"]),
                    int(e["max_entries"]),
                    int(e.get("map_flags", 0)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: map #{i}: {exc}") from None
    return tuple(specs)


def _map_type(value: Any) -> MapType:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return MapType(int(value))
    try:
        return MapType[str(value).upper().replace("-", "_")]
    except KeyError:
        raise InputError(f"unknown map type {value!r}") from None
