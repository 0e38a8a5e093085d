"""The verifier against the running kernel's (Linux 6.18, privileged loader).

Every case of ``tests/unit/verifier/cases.py`` is loaded with ``BPF_PROG_LOAD`` (maps created for
real, their fds patched into the ld_imm64 instructions) and compared with bpfvm: verdict, last
error line, processed instructions, and the whole level-2 log (with kernel map addresses
masked). Every program of ``examples/c/*.bpf.o`` is loaded through libbpf with log level 2 and
compared the same way (verdict and processed instructions).
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

import pytest

from bpfvm.elf.loader import load_object
from bpfvm.isa.codec import encode
from bpfvm.isa.insn import Insn
from bpfvm.kernel.loader import error_line
from bpfvm.kernel.syscall import map_create, prog_load
from bpfvm.program.uapi import ProgType
from bpfvm.verifier import verify
from tests.unit.verifier.cases import CASES, Case
from tests.unit.verifier.test_cases import program_of

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "c").glob("*.bpf.o"))
_ADDR = re.compile(r"0xffff[0-9a-f]{12}")


def _norm(log: str) -> str:
    return _ADDR.sub("ADDR", log)


def _processed(log: str) -> int:
    m = re.search(r"processed (\d+) insns", log)
    return int(m.group(1)) if m else -1


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_vs_kernel(kernel: None, case: Case) -> None:
    prog = program_of(case)
    fds = [map_create(*m) for m in case.maps]
    try:
        insns = [
            Insn(i.code, i.dst, i.src, i.off, fds[i.imm], i.imm_hi)
            if i.code == 0x18 and i.src in (1, 2) and i.imm < len(fds)
            else i
            for i in prog.insns
        ]
        loaded, res = prog_load(encode(insns), ProgType[case.prog_type], log_level=2)
        if loaded is not None:
            loaded.close()
    finally:
        for fd in fds:
            os.close(fd)
    ours = verify(prog, log_level=2)
    kernel_view = (res.accepted, (error_line(res.log) or None) if not res.accepted else None,
                   _processed(res.log))  # fmt: skip
    assert kernel_view == (case.accepted, case.error, case.processed), "stale case table"
    assert (ours.accepted, ours.error, ours.processed_insns) == kernel_view
    assert _norm(ours.log) == _norm(res.log)


def _libbpf_logs(path: Path) -> tuple[dict[str, bool], dict[str, str]]:
    from tests.kernel.libbpf_oracle import libbpf

    c = libbpf().cdll
    c.bpf_object__open_file.restype = ctypes.c_void_p
    c.bpf_object__next_program.restype = ctypes.c_void_p
    c.bpf_object__next_program.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    c.bpf_program__name.restype = ctypes.c_char_p
    c.bpf_program__name.argtypes = [ctypes.c_void_p]
    c.bpf_program__set_log_buf.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    c.bpf_program__set_log_level.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    c.bpf_object__load.argtypes = [ctypes.c_void_p]
    c.bpf_object__close.argtypes = [ctypes.c_void_p]
    c.bpf_program__fd.argtypes = [ctypes.c_void_p]
    obj = c.bpf_object__open_file(str(path).encode(), None)
    if not obj:
        pytest.skip(f"libbpf cannot open {path.name}")
    bufs = {}
    progs = {}
    prog = c.bpf_object__next_program(obj, None)
    while prog:
        buf = ctypes.create_string_buffer(1 << 22)
        c.bpf_program__set_log_buf(prog, buf, len(buf))
        c.bpf_program__set_log_level(prog, 2)
        name = c.bpf_program__name(prog).decode()
        bufs[name] = buf
        progs[name] = prog
        prog = c.bpf_object__next_program(obj, prog)
    c.bpf_object__load(obj)
    logs = {name: b.value.decode(errors="replace") for name, b in bufs.items()}
    loaded = {name: c.bpf_program__fd(p) >= 0 for name, p in progs.items()}
    c.bpf_object__close(obj)
    return loaded, logs


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_vs_kernel(kernel: None, path: Path) -> None:
    pytest.importorskip("tests.kernel.libbpf_oracle")
    loaded, logs = _libbpf_logs(path)
    obj = load_object(path.read_bytes(), str(path))
    compared = 0
    for prog in obj.programs:
        if _processed(logs[prog.name]) < 0:
            continue  # libbpf gave up before the kernel's verifier ran (CO-RE, environment)
        ours = verify(prog, log_level=2)
        compared += 1
        assert ours.accepted == loaded[prog.name], prog.name
        assert ours.processed_insns == _processed(logs[prog.name]), prog.name
        # the whole level-2 log, libbpf's map names included (``tc_rewri.bss``)
        assert _norm(ours.log) == _norm(logs[prog.name]), prog.name
    if not compared:
        pytest.skip(f"libbpf could not load {path.name} here")
