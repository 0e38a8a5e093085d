"""The examples on the running kernel (through libbpf) and on bpfvm's JIT give the same
results (the JIT counterpart of ``test_examples_vs_kernel.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.corpus.example_cases import load_cases, run_case

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
libbpf_oracle = pytest.importorskip("libbpf_oracle")
pin_examples = pytest.importorskip("pin_examples")

CASES = load_cases()


@pytest.fixture(scope="module")
def oracle() -> None:
    if not libbpf_oracle.oracle_available():
        pytest.skip("libbpf or bpf() unavailable")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_example_on_kernel_and_jit(oracle: None, case: dict[str, Any]) -> None:
    kernel = pin_examples.run_case(case)
    ncpus = libbpf_oracle.num_possible_cpus()
    assert run_case(case, ncpus=ncpus, engine="jit") == kernel
