"""The JIT from the command line: ``run --engine jit``, ``jited``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfvm.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_run_engine_jit_on_an_object(capsys: pytest.CaptureFixture[str]) -> None:
    obj = str(EXAMPLES / "c" / "xdp_firewall.bpf.o")
    packet = "@" + str(EXAMPLES / "packets" / "ipv4_tcp.bin")
    args = ["run", obj, "--prog", "xdp_firewall", "--data", packet, "--json", "--repeat", "50"]
    assert main([*args, "--engine", "jit", "--map-dump", "stats"]) == 0
    jit = json.loads(capsys.readouterr().out)
    assert main([*args, "--map-dump", "stats"]) == 0
    interp = json.loads(capsys.readouterr().out)
    for key in ("retval", "data_out", "maps"):
        assert jit[key] == interp[key]
    assert jit["maps"]["stats"]["01000000"] == (50).to_bytes(8, "little").hex()


def test_run_engine_jit_on_raw_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--hex", "b700000007000000950000000000000", "--engine", "jit"]) == 1
    capsys.readouterr()
    assert (
        main(["run", "--hex", "b7000000070000009500000000000000", "--engine", "jit", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out) == {"retval": 7, "insns_executed": 0}


def test_jited_prints_native_code(capsys: pytest.CaptureFixture[str]) -> None:
    obj = str(EXAMPLES / "c" / "bpf2bpf_calls.bpf.o")
    assert main(["jited", obj, "--prog", "xdp_flow_hash"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("xdp_flow_hash:") and "bpf_xdp_flow_hash_0" in out and "ret" in out
    assert main(["jited", "--hex", "b7000000070000009500000000000000", "--ir"]) == 0
    assert "define" in capsys.readouterr().out
