"""The verifier's facts for ``optimize_bpf_loop`` and ``remove_fastcall_spills_fills``.

Each program goes through ``bpfvm.verifier.verify``, ``aux_from_verifier`` and ``fixup``; the
tests check the facts, the ``bpfvm xlated`` dump, that the fixed program computes what the
program as loaded computes on the interpreter, and, where the kernel can be asked, that the
kernel's xlated program (``BPF_OBJ_GET_INFO_BY_FD``) has the same instructions modulo
addresses (the kernel inlines ``bpf_get_smp_processor_id``, bpfvm calls the helper).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import bpfvm.kernel.syscall as sc
from bpfvm.fixups import FixupAux, FixupOptions, LoopInline, XlatedProgram, aux_from_verifier
from bpfvm.fixups import fixup as run_fixups
from bpfvm.fixups.dump import dump_xlated
from bpfvm.fixups.program import CALL_ARGS_CODE
from bpfvm.isa.codec import decode
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.kernel.loader import load_program
from bpfvm.program.model import Program
from bpfvm.verifier import verify
from bpfvm.verifier.fixup_facts import S16_MIN
from tests.unit.fixups.helpers import run_fixed, run_raw
from tests.verifier.cases import Case, load_case

FUNC_LOOP = 181
FUNC_GET_SMP_PROCESSOR_ID = 8


def _case(tmp_path: Path, name: str, text: str) -> Case:
    path = tmp_path / f"{name}.s"
    path.write_text(text)
    return load_case(path)


def _facts(p: Program) -> FixupAux:
    result = verify(p)
    assert result.accepted, result.error
    aux = aux_from_verifier(result, p.func_starts, sum(i.width for i in p.insns))
    assert not aux.missing
    return aux


def _fixed(p: Program) -> tuple[FixupAux, XlatedProgram]:
    aux = _facts(p)
    return aux, run_fixups(p, aux, FixupOptions(debug=True))


def _same_result(p: Program, x: XlatedProgram) -> int:
    raw = run_raw(p, (0,))
    assert run_fixed(x, (0,)) == raw
    return raw


# --- the kernel's xlated program ---------------------------------------------------------------


def _kernel_xlated(case: Case, monkeypatch: pytest.MonkeyPatch) -> list[Insn]:
    if not sc.kernel_available():
        pytest.skip("the kernel cannot load programs here")
    got: list[bytes] = []
    load = sc.prog_load_ex

    def capture(*args: object, **kwargs: object) -> tuple[sc.LoadedProg | None, sc.LoadResult]:
        prog, res = load(*args, **kwargs)  # type: ignore[arg-type]
        if prog is not None:
            got.append(sc.prog_xlated_insns(prog.fd))
        return prog, res

    monkeypatch.setattr(sc, "prog_load_ex", capture)
    verdict = load_program(case.program, extras=case.extras)
    assert verdict.accepted, verdict.error
    assert got and got[0], "no xlated instructions (not enough privilege?)"
    return decode(got[0], validate=False)


def _collapse_percpu(insns: list[Insn]) -> Iterator[Insn]:
    """The kernel's inlined ``bpf_get_smp_processor_id`` (``r0 = &cpu_number``,
    ``r0 = &(void __percpu *)(r0)``, ``r0 = *(u32 *)(r0 + 0)``) as the call it replaced."""
    i = 0
    while i < len(insns):
        nxt = insns[i + 1] if i + 1 < len(insns) else None
        if nxt is not None and nxt.code == 0xBF and nxt.off == -1 and nxt.dst == nxt.src == 0:
            yield Insn(0x85, 0, 0, 0, FUNC_GET_SMP_PROCESSOR_ID)
            i += 3
            continue
        yield insns[i]
        i += 1


def _shape(insns: list[Insn] | tuple[Insn, ...]) -> list[tuple[int, ...]]:
    """Instructions modulo addresses: calls say only what they call, ld_imm64 only its kind."""
    out: list[tuple[int, ...]] = []
    for insn in insns:
        if insn.code in (0x85, CALL_ARGS_CODE):
            out.append((0x85, 0 if insn.src == 0 and insn.code == 0x85 else 1))
        elif insn.code == LD_IMM64_CODE:
            out.append((insn.code, insn.dst, insn.src))
        else:
            out.append((insn.code, insn.dst, insn.src, insn.off, insn.imm))
    return out


# --- bpf_loop ----------------------------------------------------------------------------------

LOOP_SUM = """\
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
*(u64 *)(r10 - 8) = 0
r1 = 5
ld_pseudo r2, 4, 9
r3 = r10
r3 += -8
r4 = 0
call bpf_loop
r1 = *(u64 *)(r10 - 8)
r0 *= 1000
r0 += r1
exit
cb:
r3 = *(u64 *)(r2 + 0)
r3 += r1
*(u64 *)(r2 + 0) = r3
r0 = 0
exit
"""


def test_bpf_loop_with_zero_flags_and_one_callback_is_inlined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case(tmp_path, "loop_fit", LOOP_SUM)
    aux, x = _fixed(case.program)
    call = 7
    assert aux.insns[call].loop_inline == LoopInline(True, 1)
    assert not any(i.code == 0x85 and i.src == 0 and i.imm == FUNC_LOOP for i in x.insns)
    text = dump_xlated(x)
    for line in (
        "if r1 <= 0x800000 goto pc+2",
        "w0 = -7",
        "*(u64 *)(r10 -32) = r6",
        "*(u64 *)(r10 -16) = r8",
        "w7 = 0",
        "if r7 >= r6 goto pc+5",
        "if r0 == 0x0 goto pc-6",
        "r8 = *(u64 *)(r10 -16)",
    ):
        assert line in text, text
    assert x.subprogs[0].stack_depth == 8 + 24
    assert _same_result(case.program, x) == 5 * 1000 + (0 + 1 + 2 + 3 + 4)
    kernel = list(_collapse_percpu(_kernel_xlated(case, monkeypatch)))
    assert _shape(kernel) == _shape(x.insns)


LOOP_UNKNOWN_FLAGS = """\
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}]
*(u64 *)(r10 - 8) = 0
call bpf_ktime_get_ns
r4 = r0
r4 >>= 63
r1 = 5
ld_pseudo r2, 4, 8
r3 = r10
r3 += -8
call bpf_loop
r1 = *(u64 *)(r10 - 8)
r0 *= 1000
r0 += r1
exit
cb:
r3 = *(u64 *)(r2 + 0)
r3 += r1
*(u64 *)(r2 + 0) = r3
r0 = 0
exit
"""


def test_bpf_loop_with_unknown_flags_stays_a_call(tmp_path: Path) -> None:
    # r4 is [0, 1] for the verifier (0 on the interpreter): bpf_loop checks it at run time
    case = _case(tmp_path, "loop_flags", LOOP_UNKNOWN_FLAGS)
    aux, x = _fixed(case.program)
    states = [a.loop_inline for a in aux.insns if a.loop_inline is not None]
    assert states == [LoopInline(False, 1)]
    assert "call bpf_loop" in dump_xlated(x)
    assert x.subprogs[0].stack_depth == 8
    assert _same_result(case.program, x) == 5 * 1000 + 10


LOOP_TWO_CALLBACKS = """\
# prog_type: socket_filter
# funcs: [{"linkage": "static"}, {"linkage": "static"}, {"linkage": "static"}]
call bpf_ktime_get_ns
if r0 > 5 goto other
ld_pseudo r2, 4, 9
goto join
other:
ld_pseudo r2, 4, 8
join:
r1 = 3
r3 = 0
r4 = 0
call bpf_loop
exit
cb1:
r0 = 0
exit
cb2:
r0 = 1
exit
"""


def test_bpf_loop_with_two_callbacks_stays_a_call(tmp_path: Path) -> None:
    case = _case(tmp_path, "loop_two", LOOP_TWO_CALLBACKS)
    starts = case.program.func_starts
    assert len(starts) == 3
    aux, x = _fixed(case.program)
    states = [a.loop_inline for a in aux.insns if a.loop_inline is not None]
    assert len(states) == 1 and not states[0].fit_for_inline
    assert "call bpf_loop" in dump_xlated(x)
    _same_result(case.program, x)


# --- fastcall ----------------------------------------------------------------------------------

FASTCALL = """\
# prog_type: {prog_type}
r1 = 1
r2 = 2
r3 = 3
*(u64 *)(r10 - 16) = r1
*(u64 *)(r10 - 24) = r2
*(u64 *)(r10 - 32) = r3
call bpf_get_smp_processor_id
r3 = *(u64 *)(r10 - 32)
r2 = *(u64 *)(r10 - 24)
r1 = *(u64 *)(r10 - 16)
*(u64 *)(r10 - 8) = r1
{extra}
r0 = r1
r0 += r2
r0 += r3
exit
"""


def test_fastcall_spills_and_fills_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = _case(tmp_path, "fastcall", FASTCALL.format(prog_type="raw_tracepoint", extra=""))
    aux, x = _fixed(case.program)
    assert aux.insns[6].fastcall_spills == 3
    assert not aux.subprogs[0].keep_fastcall_stack
    assert aux.subprogs[0].fastcall_stack_off == -8
    text = dump_xlated(x)
    assert "*(u64 *)(r10 -16) = r1" not in text and "r3 = *(u64 *)(r10 -32)" not in text
    assert "*(u64 *)(r10 -8) = r1" in text
    assert x.subprogs[0].stack_depth == 8
    assert len(x.insns) == len(case.program.insns) - 6
    assert _same_result(case.program, x) == 6
    kernel = list(_collapse_percpu(_kernel_xlated(case, monkeypatch)))
    assert _shape(kernel) == _shape(x.insns)


@pytest.mark.parametrize(
    ("prog_type", "extra", "why"),
    [
        ("raw_tracepoint", "r4 = r10\nr4 += -24\nr4 = *(u64 *)(r4 + 0)", "read through a pointer"),
        ("raw_tracepoint", "*(u32 *)(r10 - 20) = 0", "a store into the spill area"),
        ("socket_filter", "", "bpf_get_raw_smp_processor_id_proto is not fastcall"),
    ],
)
def test_fastcall_spills_are_kept_when_the_contract_does_not_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prog_type: str, extra: str, why: str
) -> None:
    case = _case(tmp_path, "kept", FASTCALL.format(prog_type=prog_type, extra=extra))
    aux, x = _fixed(case.program)
    assert all(a.fastcall_spills == 0 for a in aux.insns), why
    sub = aux.subprogs[0]
    assert sub.keep_fastcall_stack or sub.fastcall_stack_off == S16_MIN, why
    text = dump_xlated(x)
    assert "*(u64 *)(r10 -16) = r1" in text and "r3 = *(u64 *)(r10 -32)" in text
    assert x.subprogs[0].stack_depth == 32
    assert _same_result(case.program, x) == 6
    kernel = list(_collapse_percpu(_kernel_xlated(case, monkeypatch)))
    assert _shape(kernel) == _shape(x.insns)


def test_verified_programs_miss_no_fact(tmp_path: Path) -> None:
    case = _case(tmp_path, "plain", "r0 = 0\nexit\n")
    assert not _facts(case.program).missing
