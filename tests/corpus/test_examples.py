"""Every example case gives the results the kernel's BPF_PROG_TEST_RUN gave (pinned)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.corpus.example_cases import load_cases, run_case

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_example_case_matches_the_kernel(case: dict[str, Any]) -> None:
    assert run_case(case) == case["expect"], case["description"]
