"""``bpfvm xlated``: the fixed-up program in kernel syntax, with line info."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfvm.cli.main import main
from bpfvm.fixups.build import call_rel, mov64_imm
from bpfvm.fixups.dump import dump_xlated
from bpfvm.isa.insn import Insn
from tests.unit.fixups.helpers import EXIT, prog, xlate

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "c"


def test_xlated_of_an_example_with_line_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["xlated", str(EXAMPLES / "xdp_firewall.bpf.o"), "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("; xdp_firewall:")
    assert "; facts: standalone (--no-verify)" in out
    assert "; void *data = (void *)(long)ctx->data;" in out
    assert "   0: (61) r2 = *(u32 *)(r1 +4)" in out
    assert "(85) call htab_map_lookup_elem#0" not in out  # no map facts without the verifier
    assert "(85) call bpf_map_lookup_elem#0" in out
    assert "(18) r1 = map[id:0]" in out


def test_xlated_prog_selection_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "tail_calls.bpf.o")
    assert main(["xlated", path, "--prog", "handle_udp", "--no-verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("; handle_udp:") == 1 and "xdp_dispatch" not in out
    assert main(["xlated", path, "--prog", "nope"]) == 1
    assert "no program named 'nope'" in capsys.readouterr().err


def test_dump_shows_calls_as_the_kernel_restores_them() -> None:
    insns = [call_rel(1), EXIT, mov64_imm(0, 7), Insn(0x3F, 0, 1, 1), EXIT]  # r0 s/= r1
    x = xlate(prog(insns, (0, 2)))
    text = dump_xlated(x)
    assert "func#1:" in text
    assert "   0: (e5) call pc+1" in text  # CALL_ARGS shown as the call it came from
    assert "(c5) if r12 s> 0x1 goto pc+4" not in text  # JMP|JGT|K is 0x25
    assert "(25) if r12 > 0x1 goto pc+4" in text
    assert "(bf) r12 = r1" in text
