"""All 313 bpf_conformance programs on the interpreter, directly and through the plugin CLI."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.cli.main import main
from bpfvm.conformance import parse_data_file
from bpfvm.isa.codec import encode
from bpfvm.vm.interp import run_program
from tests.conftest import SHARED, shared_path

DATA_FILES = sorted((SHARED / "conformance" / "tests").glob("*.data"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_corpus_is_complete() -> None:
    shared_path("conformance", "tests")
    assert len(DATA_FILES) == 313


@pytest.mark.parametrize("path", DATA_FILES, ids=_ids(DATA_FILES))
def test_conformance_interp(path: Path) -> None:
    case = parse_data_file(path)
    insns = assemble_ubpf(case.asm, str(path))
    if case.raw is not None:  # lddw.data: the raw words cross-check the assembler
        assert encode(insns) == b"".join(struct.pack("<Q", w) for w in case.raw)
    assert case.result is not None
    assert run_program(insns, case.mem).retval == case.result


@pytest.mark.parametrize("path", DATA_FILES, ids=_ids(DATA_FILES))
def test_conformance_plugin(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plugin protocol: bytes on stdin, memory hex in argv, r0 in hex on stdout."""
    case = parse_data_file(path)
    code = encode(assemble_ubpf(case.asm))
    stdin = io.TextIOWrapper(io.BytesIO(code))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["conformance-plugin", case.mem.hex()]) == 0
    assert int(capsys.readouterr().out.strip(), 16) == case.result


def test_plugin_subprocess_and_errors() -> None:
    """The real console entry point, including a failing program (error on stderr, rc != 0)."""
    ok = subprocess.run(
        [sys.executable, "-m", "bpfvm.cli.main", "conformance-plugin", "01020304"],
        input=bytes.fromhex("61100000000000009500000000000000"),
        capture_output=True,
        check=False,
    )
    assert ok.returncode == 0 and ok.stdout.decode().strip() == "4030201"
    bad = subprocess.run(
        [sys.executable, "-m", "bpfvm.cli.main", "conformance-plugin", ""],
        input=bytes.fromhex("61104000000000009500000000000000"),
        capture_output=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.decode().count("\n") == 1 and "invalid read of 4 bytes" in bad.stderr.decode()
