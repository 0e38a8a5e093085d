"""All 313 bpf_conformance programs on the JIT, and the plugin protocol with ``--jit``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.cli.main import main
from bpfvm.conformance import parse_data_file
from bpfvm.isa.codec import encode
from bpfvm.vm.jit.engine import jit_run_program
from tests.conftest import SHARED, shared_path

DATA_FILES = sorted((SHARED / "conformance" / "tests").glob("*.data"))


def test_corpus_is_complete() -> None:
    shared_path("conformance", "tests")
    assert len(DATA_FILES) == 313


@pytest.mark.parametrize("path", DATA_FILES, ids=[p.stem for p in DATA_FILES])
def test_conformance_jit(path: Path) -> None:
    case = parse_data_file(path)
    assert case.result is not None
    assert jit_run_program(assemble_ubpf(case.asm, str(path)), case.mem).retval == case.result


PLUGIN_CASES = [p for p in DATA_FILES if p.stem in ("alu64-arith", "call_local", "lddw")]


@pytest.mark.parametrize("path", PLUGIN_CASES, ids=[p.stem for p in PLUGIN_CASES])
def test_conformance_plugin_jit(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = parse_data_file(path)
    stdin = io.TextIOWrapper(io.BytesIO(encode(assemble_ubpf(case.asm))))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["conformance-plugin", "--jit", case.mem.hex()]) == 0
    assert int(capsys.readouterr().out.strip(), 16) == case.result
