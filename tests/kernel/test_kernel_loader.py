"""bpfvm.kernel.loader: programs loaded into the running kernel as libbpf would load them."""

from __future__ import annotations

import errno
import os
from dataclasses import replace
from pathlib import Path

import pytest

from bpfvm.asm import assemble
from bpfvm.elf.loader import load_object
from bpfvm.kernel import syscall
from bpfvm.kernel.loader import KernelVerdict, error_line, load_program, processed_insns
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import AttachType, MapType, ProgType
from tests.verifier.objects import EXAMPLES, iter_objects, object_extras

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.bpf.o"))
_HASH = MapSpec("m", MapType.HASH, 4, 8, 16)


def _asm(text: str, ptype: ProgType = ProgType.SOCKET_FILTER, **kw: object) -> Program:
    return Program("t", tuple(assemble(text)), ptype, license="GPL", **kw)  # type: ignore[arg-type]


# --- the error line and the processed count (no kernel needed) ----------------------------


def test_error_line_is_the_last_message() -> None:
    log = "0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\n" + (
        "processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 "
        "peak_states 0 mark_read 0\n"
    )
    assert error_line(log) == "R0 !read_ok"
    assert processed_insns(log) == 1


def test_error_line_of_a_message_without_newline() -> None:
    log = "2: (85) call bpf_tail_call#12\nexpected prog array map for tail callprocessed 3 "
    log += "insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0\n"
    assert error_line(log) == "expected prog array map for tail call"
    assert processed_insns(log) == 3


def test_error_line_of_a_message_run_into_an_instruction() -> None:
    log = "2: (55) if r0 != 0x0 goto pc-2 BPF program is too large. Processed 1000001 insn\n"
    log += "processed 1000001 insns (limit 1000000) max_states_per_insn 4\n"
    assert error_line(log) == "BPF program is too large. Processed 1000001 insn"


def test_error_line_skips_state_dumps() -> None:
    log = "1: (05) goto pc-1\ninfinite loop detected at insn 1\ncur state: R0=0 R10=fp0\n"
    log += "old state: R0=0 R10=fp0\nprocessed 9 insns (limit 1000000) max_states_per_insn 0\n"
    assert error_line(log) == "infinite loop detected at insn 1"
    assert error_line("") == "" and processed_insns("") == 0


def test_kernel_unavailable_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syscall, "kernel_available", lambda: False)
    with pytest.raises(syscall.KernelUnavailable, match="bpf"):
        load_program(_asm("r0 = 0\nexit"))


# --- against the running kernel ------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_every_example_is_accepted(kernel: None, path: Path) -> None:
    data = path.read_bytes()
    obj = load_object(data, str(path))
    extras = object_extras(data, obj, str(path))
    assert obj.programs and not obj.broken
    for prog in obj.programs:
        v = load_program(prog, extras=extras)
        assert v.accepted, f"{prog.name}: {v.error}\n{v.log[-2000:]}"
        assert v.status == "accepted" and v.error is None and v.errno == 0
        assert v.processed_insns > 0 and v.notes == ()
        assert v.insn_count == sum(i.width for i in prog.insns)


def test_global_functions_get_func_info(kernel: None) -> None:
    """bpf2bpf_calls has global functions: with func_info the kernel verifies them alone."""
    (entry,) = iter_objects(only=lambda k: k == "examples/bpf2bpf_calls.bpf.o")
    v = load_program(entry.program, extras=entry.extras)
    assert v.accepted and "is safe for any args that match its prototype" in v.log
    without = load_program(entry.program)  # no .BTF.ext: all subprograms static
    assert without.accepted and "Func#" not in without.log
    assert without.processed_insns != v.processed_insns


def test_rejection_gives_the_kernels_message(kernel: None) -> None:
    v = load_program(_asm("exit"))
    assert isinstance(v, KernelVerdict)
    assert (v.accepted, v.status, v.errno) == (False, "rejected", errno.EACCES)
    assert v.error == "R0 !read_ok" and v.processed_insns == 1 and v.insn_count == 1
    text = """
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        ld_pseudo r1, 1, 0
        call bpf_map_lookup_elem
        r0 = *(u64 *)(r0 + 0)
        exit
    """
    v = load_program(_asm(text, maps=(_HASH,)))
    assert v.error == "R0 invalid mem access 'map_value_or_null'"
    assert v.processed_insns == 6 and v.insn_count == 8


def test_log_level_changes_no_verdict(kernel: None) -> None:
    prog = _asm("r0 = *(u64 *)(r10 - 600)\nexit")
    v1, v2, v0 = (load_program(prog, log_level=n) for n in (1, 2, 0))
    assert v1.status == v2.status == v0.status == "rejected"
    assert v1.error == v2.error and v1.processed_insns == v2.processed_insns
    assert v0.log == "" and v0.error == "" and v0.errno == v1.errno


def test_all_descriptors_are_closed(kernel: None) -> None:
    before = set(os.listdir("/proc/self/fd"))
    for entry in iter_objects(only=lambda k: k == "examples/spin_lock.bpf.o"):
        assert load_program(entry.program, extras=entry.extras).accepted
    load_program(_asm("exit", maps=(_HASH,)))
    assert set(os.listdir("/proc/self/fd")) == before


def test_a_map_the_kernel_refuses_is_unavailable(kernel: None) -> None:
    bad = MapSpec("bad_array", MapType.ARRAY, 8, 4, 1)  # array keys are 4 bytes
    v = load_program(_asm("r0 = 0\nexit", maps=(bad,)))
    assert v.status == "unavailable" and not v.accepted and v.error is None
    assert v.errno == errno.EINVAL and "bad_array" in (v.unavailable or "")


def test_tracing_programs_are_accepted_or_unavailable(kernel: None) -> None:
    prog = _asm("r0 = 0\nexit", ProgType.TRACING, expected_attach_type=AttachType.TRACE_FENTRY,
                attach_to="tcp_connect")  # fmt: skip
    v = load_program(prog)
    assert v.status in ("accepted", "unavailable"), v.error
    if v.status == "unavailable":  # lockdown refuses fentry here with EPERM
        assert v.errno == errno.EPERM and "EPERM" in (v.unavailable or "")
    missing = load_program(replace(prog, attach_to="no_such_function_xyz"))
    assert missing.status == "unavailable" and "not found" in (missing.unavailable or "")
