"""Every example case on the JIT gives the results the kernel's BPF_PROG_TEST_RUN gave
(``examples/cases.json``), plus the batch API over the same packets."""

from __future__ import annotations

from typing import Any

import pytest

from bpfvm.hooks.test_run import load
from tests.corpus.example_cases import EXAMPLES, case_bytes, load_cases, run_case

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_example_case_on_the_jit(case: dict[str, Any]) -> None:
    assert run_case(case, engine="jit") == case["expect"], case["description"]


def test_batch_equals_single_runs() -> None:
    packets = [case_bytes(c["data"]) for c in CASES if c["object"] == "c/xdp_firewall.bpf.o"]
    datas = [p for p in packets if p is not None]
    path = str(EXAMPLES / "c" / "xdp_firewall.bpf.o")
    jit, interp = load(path, engine="jit"), load(path)
    batch = jit.test_run_batch("xdp_firewall", datas)
    singles = [interp.test_run("xdp_firewall", d) for d in datas]
    assert [(r.retval, r.data_out) for r in batch] == [(r.retval, r.data_out) for r in singles]
    assert interp.map("stats").items() and dict(jit.map("stats").items()) == dict(
        interp.map("stats").items()
    )
