"""The verifier on the case table: verdict, error line and processed instructions as Linux 6.18
reports them (the table was produced by the kernel), and exact level-2 logs for simple cases."""

from __future__ import annotations

import pytest

from bpfvm.asm.parser import assemble
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.verifier import VerifierResult, verify
from tests.unit.verifier.cases import CASES, Case


def program_of(case: Case) -> Program:
    maps = tuple(MapSpec("", MapType(m[0]), m[1], m[2], m[3]) for m in case.maps)
    return Program(
        case.name,
        tuple(assemble(case.asm, case.name)),
        ProgType[case.prog_type],
        license="GPL",
        maps=maps,
    )


def run(case: Case, log_level: int = 0) -> VerifierResult:
    return verify(program_of(case), log_level=log_level)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    r = run(case)
    assert (r.accepted, r.error, r.processed_insns) == (case.accepted, case.error, case.processed)


def test_level2_log_straight_line() -> None:
    case = Case("t", ("r0 = 42", "exit"), "SOCKET_FILTER", (), True, None, 2)
    assert run(case, 2).log == (
        "func#0 @0\n"
        "Live regs before insn:\n"
        "      0: .......... (b7) r0 = 42\n"
        "      1: 0......... (95) exit\n"
        "0: R1=ctx() R10=fp0\n"
        "0: (b7) r0 = 42                       ; R0=42\n"
        "1: (95) exit\n"
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 "
        "mark_read 0\n"
    )


def test_level2_log_branch_and_error() -> None:
    asm = ("r2 = r1", "r3 = *(u32 *)(r1 + 0)", "if r3 > 5 goto +2", "r0 = 1", "exit",
           "r0 = *(u32 *)(r3 + 0)", "exit")  # fmt: skip
    case = Case("t", asm, "SOCKET_FILTER", (), False, None, 6)
    log = run(case, 2).log
    assert (
        "2: (25) if r3 > 0x5 goto pc+2         ; R3=scalar(smin=smin32=0,smax=umax=smax32=" in log
    )
    assert (
        "\nfrom 2 to 5: R1=ctx() R2=ctx() R3=scalar(smin=umin=umin32=6,smax=umax=0xffffffff," in log
    )
    assert log.endswith(
        "5: (61) r0 = *(u32 *)(r3 +0)\nR3 invalid mem access 'scalar'\n"
        "processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 "
        "mark_read 0\n"
    )


def test_level1_keeps_only_the_failing_path() -> None:
    asm = ("r3 = *(u32 *)(r1 + 0)", "if r3 > 5 goto +2", "r0 = 1", "exit",
           "r0 = *(u32 *)(r3 + 0)", "exit")  # fmt: skip
    log = run(Case("t", asm, "SOCKET_FILTER", (), False, None, 5), 1).log
    assert "2: (b7) r0 = 1" not in log
    assert "R3 invalid mem access 'scalar'" in log


def test_accepted_level1_log_is_only_the_footer() -> None:
    r = run(Case("t", ("r0 = 0", "exit"), "SOCKET_FILTER", (), True, None, 2), 1)
    assert r.log.startswith("processed 2 insns")


def test_precision_backtracking_log() -> None:
    asm = ("r0 = 2", "exit")
    r = run(Case("t", asm, "CGROUP_SKB", (), False, None, 2), 2)
    assert "mark_precise: frame0: last_idx 1 first_idx 0 subseq_idx -1 \n" in r.log
    assert "mark_precise: frame0: regs=r0 stack= before 0: (b7) r0 = 2\n" in r.log
    assert r.error == "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]"


def test_aux_records_accessed_pointer_types_and_stack_depth() -> None:
    asm = ("r1 = 7", "*(u64 *)(r10 - 16) = r1", "r0 = *(u32 *)(r10 - 16)", "r0 = 0", "exit")
    r = run(Case("t", asm, "SOCKET_FILTER", (), True, None, 5))
    assert r.accepted
    assert r.stack_depths == [16]
    assert r.aux[1].ptr_type == 6  # PTR_TO_STACK


def test_complexity_limit() -> None:
    """The 1M-instruction limit, lowered so the test stays quick (the full limit takes about
    30 s: ``bench/verifier_limit.py``)."""
    asm = ("r1 = 0", "r1 += 1", "if r1 < 2000000 goto -2", "r0 = 0", "exit")
    case = Case("t", asm, "SOCKET_FILTER", (), False, None, 0)
    r = verify(program_of(case), insn_limit=20_000)
    assert not r.accepted
    assert r.error == "BPF program is too large. Processed 20001 insn"
    assert r.processed_insns == 20001
