"""SPEC.md section 7, messages 53-104, that the case corpus cannot express: stack-argument rules
(this machine's 6.18 kernel predates them), tracing programs (fentry/tp_btf loads are refused
by lockdown here) and the fixup stage's refusals for the interpreter. Each test names its
message number; ``tests/verifier/messages/part2.json`` lists them as ``api``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bpfvm.fixups import FixupError, FixupOptions
from bpfvm.fixups.build import call_helper, call_rel, mov64_imm, mov64_reg
from bpfvm.isa.insn import Insn
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import AttachType, MapType, ProgType
from bpfvm.verifier import VerifierResult, verify
from tests.unit.fixups.facts import aux_with
from tests.unit.fixups.helpers import EXIT, prog, xlate
from tests.verifier.cases import load_case

F6 = '{"linkage": "static", "args": ["int", "int", "int", "int", "int", "int"]}'
STATIC = '{"linkage": "static"}'
PROG_ARRAY = '[{"type": "prog_array", "key_size": 4, "value_size": 4, "max_entries": 4}]'
FUNC_IP = 173


def run(tmp_path: Path, header: str, body: str) -> VerifierResult:
    path = tmp_path / "t.s"
    path.write_text(header + body)
    return verify(load_case(path).program)


def test_80_tail_call_in_program_with_stack_args(tmp_path: Path) -> None:
    header = f"# prog_type: xdp\n# maps: {PROG_ARRAY}\n# funcs: [{STATIC}, {F6}]\n"
    body = (
        "r6 = r1\n*(u64 *)(r11 - 8) = 6\ncall f1\nr1 = r6\nld_pseudo r2, 1, 0\nr3 = 0\n"
        "call bpf_tail_call\nr0 = 0\nexit\nf1:\nr0 = *(u64 *)(r11 + 8)\nexit\n"
    )
    r = run(tmp_path, header, body)
    assert (r.accepted, r.error) == (
        False,
        "tail_calls are not allowed in programs with stack args",
    )
    # the same program without the stack argument is accepted
    five = '{"linkage": "static", "args": ["int", "int", "int", "int", "int"]}'
    header = f"# prog_type: xdp\n# maps: {PROG_ARRAY}\n# funcs: [{STATIC}, {five}]\n"
    body = (
        "r6 = r1\ncall f1\nr1 = r6\nld_pseudo r2, 1, 0\nr3 = 0\ncall bpf_tail_call\nr0 = 0\n"
        "exit\nf1:\nr0 = 0\nexit\n"
    )
    assert run(tmp_path, header, body).accepted


def test_81_callback_with_stack_args(tmp_path: Path) -> None:
    header = f"# prog_type: socket_filter\n# funcs: [{STATIC}, {F6}]\n"
    body = (
        "r1 = 1\nld_pseudo r2, 4, 6\nr3 = 0\nr4 = 0\ncall bpf_loop\nr0 = 0\nexit\n"
        "cb:\nr0 = 0\nexit\n"
    )
    r = run(tmp_path, header, body)
    assert (r.accepted, r.error) == (False, "callback subprog cannot have stack args")


def _tracing(attach: AttachType) -> Program:
    insns = (call_helper(FUNC_IP), mov64_imm(0, 0), EXIT)
    return Program("t", insns, ProgType.TRACING, expected_attach_type=attach, license="GPL")


def test_96_get_func_ip_outside_trampolines() -> None:
    r = verify(_tracing(AttachType.TRACE_RAW_TP))
    assert (r.accepted, r.error) == (
        False,
        "func bpf_get_func_ip#173 supported only for fentry/fexit/fsession/fmod_ret programs",
    )


def test_85_kfunc_needs_the_jit() -> None:
    p = prog([Insn(0x85, 0, 2, 0, 1234), mov64_imm(0, 0), EXIT])
    with pytest.raises(FixupError) as exc:
        xlate(p)
    assert exc.value.message == "program requires BPF JIT compiler but it is not available"


def test_87_tail_call_with_subprog_calls_on_the_kernel_interpreter() -> None:
    spec = MapSpec("jmp", MapType.PROG_ARRAY, 4, 4, 5)
    insns = [
        call_rel(6),
        Insn(0x18, 2, 1, 0, 0),  # ld_imm64 r2 = map 0 (two slots)
        mov64_imm(3, 1),
        call_helper(12),
        mov64_imm(0, 0),
        EXIT,
        mov64_imm(0, 0),
        EXIT,
    ]
    p = replace(prog(insns, (0, 7)), maps=(spec,))
    aux = aux_with(p, insns={4: {"map_idx": 0}})
    limits = FixupOptions(kernel_interp_limits=True)
    with pytest.raises(FixupError) as exc:
        xlate(p, aux, limits)
    assert exc.value.message == (
        "tail_calls are not allowed in non-JITed programs with bpf-to-bpf calls"
    )
    xlate(p, aux)  # bpfvm's own interpreter runs the mix


def test_88_callbacks_on_the_kernel_interpreter() -> None:
    insns = [
        mov64_imm(1, 1),
        Insn(0x18, 2, 4, 0, 5),  # ld_imm64 r2 = the callback at slot 7
        mov64_imm(3, 0),
        mov64_imm(4, 0),
        call_helper(181),
        EXIT,
        mov64_imm(0, 0),
        EXIT,
    ]
    p = prog(insns, (0, 7))
    with pytest.raises(FixupError) as exc:
        xlate(p, options=FixupOptions(kernel_interp_limits=True))
    assert exc.value.message == "callbacks are not allowed in non-JITed programs"


def test_91_helper_the_runtime_lacks() -> None:
    p = prog([call_helper(5), mov64_reg(0, 0), EXIT])
    with pytest.raises(FixupError) as exc:
        xlate(p, aux_with(p), FixupOptions(helper_ids=frozenset({1})))
    assert exc.value.message == "not inlined functions bpf_ktime_get_ns#5 is missing func"
