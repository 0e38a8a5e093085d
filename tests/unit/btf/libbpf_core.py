"""libbpf as a CO-RE oracle: the instructions libbpf produces after relocating an object.

``bpf_object__open_file`` with ``btf_custom_path`` (the target BTF), then ``bpf_object__load``
with a custom SEC() handler whose ``prog_prepare_load_fn`` runs after all relocations and just
before the program would enter the kernel: it copies ``bpf_program__insns()`` and fails, so
nothing is loaded. One program is loaded per open (others have autoload off). libbpf 1.1 still
probes the kernel with ``bpf()`` first; :class:`Unavailable` is raised when that, or libbpf
itself, is missing, so tests can skip.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

PREFIXES = ("raw_tracepoint/", "fentry/", "tp_btf/", "tc")
BPF_PROG_TYPE_KPROBE = 2
_ABORT = -125  # -ECANCELED: recognisable in the load result


class Unavailable(Exception):
    pass


class _OpenOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("object_name", ctypes.c_char_p),
        ("relaxed_maps", ctypes.c_bool),
        ("pin_root_path", ctypes.c_char_p),
        ("_attach_prog_fd", ctypes.c_uint32),
        ("kconfig", ctypes.c_char_p),
        ("btf_custom_path", ctypes.c_char_p),
    ]


_PREPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long)
_PRINT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class _HandlerOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("cookie", ctypes.c_long),
        ("prog_setup_fn", ctypes.c_void_p),
        ("prog_prepare_load_fn", _PREPARE),
        ("prog_attach_fn", ctypes.c_void_p),
    ]


def _lib() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libbpf.so.1")
    except OSError as exc:
        raise Unavailable(f"libbpf.so.1: {exc}") from None
    lib.bpf_object__open_file.restype = ctypes.c_void_p
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(_OpenOpts)]
    lib.bpf_object__next_program.restype = ctypes.c_void_p
    lib.bpf_object__next_program.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.bpf_program__name.restype = ctypes.c_char_p
    lib.bpf_program__name.argtypes = [ctypes.c_void_p]
    lib.bpf_program__insns.restype = ctypes.c_void_p
    lib.bpf_program__insns.argtypes = [ctypes.c_void_p]
    lib.bpf_program__insn_cnt.restype = ctypes.c_size_t
    lib.bpf_program__insn_cnt.argtypes = [ctypes.c_void_p]
    lib.bpf_program__set_autoload.argtypes = [ctypes.c_void_p, ctypes.c_bool]
    lib.bpf_object__load.argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    lib.libbpf_register_prog_handler.argtypes = [
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(_HandlerOpts),
    ]
    lib.libbpf_unregister_prog_handler.argtypes = [ctypes.c_int]
    lib.libbpf_set_print.restype = ctypes.c_void_p
    lib.libbpf_set_print.argtypes = [ctypes.c_void_p]
    return lib


def _quiet(level: int, fmt: bytes, args: int) -> int:
    return 0


_QUIET = _PRINT(_quiet)


class _Session:
    """libbpf with our SEC() handlers, registered once per process: libbpf 1.1 frees its
    handler table when the last handler is unregistered but keeps the dangling pointer, so
    registering again later corrupts the heap."""

    def __init__(self) -> None:
        self.lib = _lib()
        self.captured: dict[str, bytes] = {}
        self.callback = _PREPARE(self._prepare)
        self.opts = _HandlerOpts(ctypes.sizeof(_HandlerOpts), 0, None, self.callback, None)
        self.lib.libbpf_set_print(ctypes.cast(_QUIET, ctypes.c_void_p))
        for prefix in PREFIXES:
            if (
                self.lib.libbpf_register_prog_handler(
                    prefix.encode(), BPF_PROG_TYPE_KPROBE, 0, self.opts
                )
                < 0
            ):
                raise Unavailable(f"cannot register a libbpf handler for {prefix}")

    def _prepare(self, prog: int, opts: int, cookie: int) -> int:
        lib = self.lib
        count = lib.bpf_program__insn_cnt(prog)
        name = lib.bpf_program__name(prog).decode()
        self.captured[name] = ctypes.string_at(lib.bpf_program__insns(prog), 8 * count)
        return _ABORT


_SESSION: list[_Session] = []


def relocated_programs(obj: Path, target_btf: Path) -> dict[str, bytes]:
    """Program name -> instruction bytes after libbpf's CO-RE relocation against
    ``target_btf``, computed in a child process: the SEC() handlers abort every load of
    their sections, so they must never be registered in the process running other tests
    (libbpf offers no safe way to unregister them)."""
    code = (
        "import json, sys; from pathlib import Path;"
        "from tests.unit.btf.libbpf_core import Unavailable, _relocated_here;"
        "\ntry: out = {k: v.hex() for k, v in _relocated_here(Path(sys.argv[1]), "
        "Path(sys.argv[2])).items()}\nexcept Unavailable as e: out = {'': str(e)}\n"
        "print(json.dumps(out))"
    )
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-c", code, str(obj), str(target_btf)],
        capture_output=True, text=True, cwd=root, check=False,
    )  # fmt: skip
    if proc.returncode:
        raise Unavailable(f"libbpf child failed: {proc.stderr.strip()[-200:]}")
    result = json.loads(proc.stdout)
    if "" in result:
        raise Unavailable(result[""])
    return {name: bytes.fromhex(code) for name, code in result.items()}


def _relocated_here(obj: Path, target_btf: Path) -> dict[str, bytes]:
    if not _SESSION:
        _SESSION.append(_Session())
    session = _SESSION[0]
    lib, captured = session.lib, session.captured
    captured.clear()
    for name in _program_names(lib, obj, target_btf):
        _load_one(lib, obj, target_btf, name)
        if name not in captured:
            raise Unavailable(f"libbpf did not reach program {name} (no bpf()?)")
    return dict(captured)


def _open(lib: ctypes.CDLL, obj: Path, target_btf: Path) -> int:
    opts = _OpenOpts(sz=ctypes.sizeof(_OpenOpts), btf_custom_path=str(target_btf).encode())
    handle = lib.bpf_object__open_file(str(obj).encode(), ctypes.byref(opts))
    if not handle or handle > 2**64 - 4096:  # libbpf 1.x returns NULL; older ERR_PTR
        raise Unavailable(f"libbpf cannot open {obj}")
    return int(handle)


def _programs(lib: ctypes.CDLL, handle: int) -> list[tuple[str, int]]:
    out = []
    prog = lib.bpf_object__next_program(handle, None)
    while prog:
        out.append((lib.bpf_program__name(prog).decode(), prog))
        prog = lib.bpf_object__next_program(handle, prog)
    return out


def _program_names(lib: ctypes.CDLL, obj: Path, target_btf: Path) -> list[str]:
    handle = _open(lib, obj, target_btf)
    try:
        return [name for name, _ in _programs(lib, handle)]
    finally:
        lib.bpf_object__close(handle)


def _load_one(lib: ctypes.CDLL, obj: Path, target_btf: Path, name: str) -> None:
    handle = _open(lib, obj, target_btf)
    try:
        for other, prog in _programs(lib, handle):
            lib.bpf_program__set_autoload(prog, other == name)
        lib.bpf_object__load(handle)
    finally:
        lib.bpf_object__close(handle)
