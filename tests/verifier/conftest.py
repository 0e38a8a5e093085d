"""Fixtures of the verifier-corpus tests."""

from __future__ import annotations

import os

import pytest

from bpfvm.kernel import kernel_available


@pytest.fixture(scope="session")
def kernel() -> None:
    """Skip the test unless we may load BPF programs into the running kernel."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root (CAP_BPF) to load programs into the kernel")
    if not kernel_available():
        pytest.skip("bpf() cannot load a trivial socket filter on this machine")
