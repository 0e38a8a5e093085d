"""Stack arguments (r11) of bpf-to-bpf calls: SPEC section 2 and the seed commit "Support stack
arguments for bpf functions" (its four examples). This machine's kernel (6.18) predates the
feature: these pin the SPEC's and the seed's expectations, not a live kernel's."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfvm.isa.insn import Insn
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.verifier import VerifierResult, verify
from tests.verifier.cases import load_case

F6 = '{"linkage": "static", "args": ["int","int","int","int","int","int"]}'
F7 = '{"linkage": "static", "args": ["int","int","int","int","int","int","int"]}'
MAIN = '{"linkage": "static"}'
BAR_7 = """bar1:
r0 = *(u64 *)(r11 + 8)
r1 = *(u64 *)(r11 + 16)
r0 += r1
exit
bar2:
r0 = *(u64 *)(r11 + 8)
r1 = *(u64 *)(r11 + 16)
r0 -= r1
exit
"""


def run(tmp_path: Path, funcs: list[str], body: str) -> VerifierResult:
    path = tmp_path / "t.s"
    path.write_text(f"# prog_type: socket_filter\n# funcs: [{', '.join(funcs)}]\n{body}")
    return verify(load_case(path).program)


def test_spec_sum6_accepted(tmp_path: Path) -> None:
    r = run(tmp_path, [MAIN, F6], "r1 = 1\nr2 = 2\nr3 = 3\nr4 = 4\nr5 = 5\n"
            "*(u64 *)(r11 - 8) = 6\ncall f1\nexit\nf1:\nr0 = *(u64 *)(r11 + 8)\n"
            "r0 += r1\nr0 += r5\nexit\n")  # fmt: skip
    assert (r.accepted, r.error) == (True, None)


def test_seed_example1_slots_invalidated_by_return(tmp_path: Path) -> None:
    body = ("r6 = 6\nr7 = 7\n*(u64 *)(r11 - 8) = r6\n*(u64 *)(r11 - 16) = r7\n"
            "call bar1\ncall bar2\nexit\n" + BAR_7)  # fmt: skip
    r = run(tmp_path, [MAIN, F7, F7], body)
    assert (r.accepted, r.error) == (False, "callee expects 7 args, stack arg6 is not initialized")


def test_seed_example2_write_again(tmp_path: Path) -> None:
    body = ("r6 = 6\nr7 = 7\nr8 = 8\nr9 = 9\n*(u64 *)(r11 - 8) = r6\n*(u64 *)(r11 - 16) = r7\n"
            "call bar1\n*(u64 *)(r11 - 8) = r8\n*(u64 *)(r11 - 16) = r9\ncall bar2\nexit\n"
            + BAR_7)  # fmt: skip
    r = run(tmp_path, [MAIN, F7, F7], body)
    assert (r.accepted, r.error) == (True, None)


def test_seed_example3_hoisted_store(tmp_path: Path) -> None:
    body = ("r6 = r1\nr7 = 7\nr8 = 8\nr9 = 9\n*(u64 *)(r11 - 16) = r7\n"
            "r0 = *(u32 *)(r6 + 0)\nif r0 == 0 goto else\n*(u64 *)(r11 - 8) = r8\n"
            "call bar1\ngoto end\nelse:\n*(u64 *)(r11 - 8) = r9\ncall bar2\nend:\nexit\n"
            + BAR_7)  # fmt: skip
    r = run(tmp_path, [MAIN, F7, F7], body)
    assert (r.accepted, r.error) == (True, None)


def test_seed_example4_loop(tmp_path: Path) -> None:
    body = ("r6 = 6\nr7 = 0\nloop:\n*(u64 *)(r11 - 8) = r6\ncall bar\nr7 += 1\n"
            "if r7 < 4 goto loop\nr0 = 0\nexit\nbar:\nr0 = *(u64 *)(r11 + 8)\nexit\n")  # fmt: skip
    r = run(tmp_path, [MAIN, F6], body)
    assert (r.accepted, r.error) == (True, None)


@pytest.mark.parametrize(
    ("funcs", "body", "error"),
    [
        pytest.param([MAIN], "*(u64 *)(r11 - 64) = 1\nr0 = 0\nexit\n",
                     "stack arg write offset -64 exceeds max 7 stack args", id="write_too_far"),
        pytest.param([MAIN, F7], "*(u64 *)(r11 - 8) = 6\n*(u64 *)(r11 - 16) = 7\ncall f1\nexit\n"
                     "f1:\n*(u64 *)(r11 - 8) = 1\nr0 = *(u64 *)(r11 + 8)\nexit\n",
                     "r11 load must be before any r11 store or call insn", id="load_after_store"),
        pytest.param([MAIN, F6], "*(u64 *)(r11 - 8) = 6\ncall f1\nexit\n"
                     "f1:\ncall 7\nr0 = *(u64 *)(r11 + 8)\nexit\n",
                     "r11 load must be before any r11 store or call insn", id="load_after_call"),
        pytest.param([MAIN, F6], "*(u64 *)(r11 - 8) = 6\ncall f1\nexit\n"
                     "f1:\nr0 = *(u64 *)(r11 + 16)\nexit\n",
                     "invalid read from stack arg off 16 depth 8", id="read_beyond_incoming"),
        pytest.param([MAIN], "r0 = *(u64 *)(r11 + 8)\nexit\n",
                     "invalid read from stack arg off 8 depth 0", id="main_reads_incoming"),
        pytest.param([MAIN, F7], "*(u64 *)(r11 - 8) = 6\n*(u64 *)(r11 - 16) = 7\n"
                     "*(u64 *)(r11 - 40) = 10\ncall f1\nexit\nf1:\nr0 = 0\nexit\n",
                     "func#0 writes 5 stack arg slots, but calls only require 2",
                     id="writes_beyond_callees"),
        pytest.param([MAIN], "*(u64 *)(r11 - 8) = 6\nr0 = 0\nexit\n",
                     "func#0 writes 1 stack arg slots, but calls only require 0",
                     id="writes_without_call"),
        pytest.param([MAIN, F6], "call f1\nexit\nf1:\nr0 = *(u64 *)(r11 + 8)\nexit\n",
                     "callee expects 6 args, stack arg6 is not initialized", id="not_written"),
        pytest.param([MAIN, F6], "*(u64 *)(r11 - 8) = 6\ncall 7\ncall f1\nexit\n"
                     "f1:\nr0 = *(u64 *)(r11 + 8)\nexit\n",
                     "callee expects 6 args, stack arg6 is not initialized",
                     id="helper_call_invalidates"),
    ],
)  # fmt: skip
def test_rule_rejects(tmp_path: Path, funcs: list[str], body: str, error: str) -> None:
    r = run(tmp_path, funcs, body)
    assert (r.accepted, r.error) == (False, error)


def test_pruning_compares_slots(tmp_path: Path) -> None:
    """A scalar in argument 6 is not pruned against a pointer there (SPEC 2.2 item 6)."""
    body = ("r3 = *(u32 *)(r1 + 0)\nr2 = 0\nif r3 == 0 goto a\n*(u64 *)(r11 - 8) = r1\n"
            "goto j\na:\n*(u64 *)(r11 - 8) = r2\nj:\nr3 = 0\ncall f1\nexit\n"
            "f1:\nr0 = *(u64 *)(r11 + 8)\nr0 = *(u32 *)(r0 + 0)\nexit\n")  # fmt: skip
    r = run(tmp_path, [MAIN, F6], body)
    assert (r.accepted, r.error) == (False, "R0 invalid mem access 'scalar'")


def test_r11_as_register() -> None:
    prog = Program("t", (Insn(0xB7, 11, 0, 0, 1), Insn(0xB7, 0, 0, 0, 0), Insn(0x95, 0, 0, 0, 0)),
                   ProgType.SOCKET_FILTER, license="GPL")  # fmt: skip
    r = verify(prog)
    assert (r.accepted, r.error) == (False, "R11 is invalid")
