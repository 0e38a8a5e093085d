"""``bpfvm verify --kernel``: bpfvm's verdict and the running kernel's, side by side."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli import bpfvm
from tests.conftest import shared_path

FIREWALL = Path(__file__).resolve().parents[2] / "examples" / "c" / "xdp_firewall.bpf.o"


def test_verify_kernel_side_by_side(kernel: object) -> None:
    res = bpfvm("verify", str(FIREWALL), "--kernel")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "xdp_firewall: accepted (processed 58 insns)",
        "xdp_firewall: kernel: accepted (processed 58 insns; same verdict)",
    ]
    bad = bpfvm("verify", str(shared_path("ebpf-samples/build/ptr_arith.o")), "--kernel")
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[-1] == (
        "test_ptr_arith: kernel: rejected: R1 pointer += pointer prohibited "
        "(processed 3 insns; same verdict)"
    )
