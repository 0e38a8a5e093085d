"""The command line as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path

BPFVM = [sys.executable, "-m", "bpfvm.cli.main"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "asm" / "sum_loop.s"


def bpfvm(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*BPFVM, *args], input=stdin, capture_output=True, check=False)
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def test_asm_then_disasm_then_run(tmp_path: Path) -> None:
    src = tmp_path / "p.s"
    src.write_text("r0 = 40\nr0 += 2\nexit\n")
    out = tmp_path / "p.bin"
    assert bpfvm("asm", str(src), "-o", str(out)).returncode == 0
    assert out.read_bytes().hex() == "b70000002800000007000000020000009500000000000000"
    dis = bpfvm("disasm", str(out))
    assert dis.returncode == 0
    assert dis.stdout.splitlines()[1].endswith("\tr0 += 2")
    assert bpfvm("run", str(out)).stdout.strip() == "0x2a"
    assert json.loads(bpfvm("run", str(src), "--json").stdout)["retval"] == 42
    assert bpfvm("asm", str(src)).stdout.strip() == out.read_bytes().hex()


def test_run_with_memory_and_hex() -> None:
    res = bpfvm("run", "--hex", "61100000000000009500000000000000", "--mem", "2a000000")
    assert res.returncode == 0 and res.stdout.strip() == "0x2a"


def test_bundled_example_runs() -> None:
    res = bpfvm("run", str(EXAMPLE), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["retval"] == sum(range(1, 101))


def test_disasm_elf_object() -> None:
    obj = shared_path("ebpf-samples", "linux", "sockex1_kern.o")
    res = bpfvm("disasm", str(obj))
    assert res.returncode == 0
    assert "\tr0 = *(u8 *)skb[23]" in res.stdout
    assert "lock *(u64 *)(r0 + 0) += r1" in res.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["run", "--hex", "b70000"], None, "program size 3 is not a multiple of 8 bytes"),
        (["run", "--hex", "zz"], None, "invalid hex"),
        (["disasm", "--hex", "ff00000000000000"], None, "insn 0: unknown opcode ff"),
        (["run", "--hex", "b700000000000000"], None, "fell off the end of the program"),
        (["run", "/nonexistent.bin"], None, "No such file or directory"),
        (
            ["run", "--hex", "0500ffff000000009500000000000000", "--max-insns", "50"],
            None,
            "instruction limit of 50 exceeded",
        ),
        (["conformance-plugin", "--elf"], b"\x7fELF\x02\x01\x01" + bytes(9), "malformed ELF"),
        (
            ["conformance-plugin"],
            b"\x85\x00\x00\x00\x0f\x27\x00\x00" + bytes(8),
            "unknown opcode 00",
        ),
    ],
)
def test_bad_input_gives_one_line_and_status_1(
    args: list[str], stdin: bytes | None, needle: str
) -> None:
    res = bpfvm(*args, stdin=stdin)
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1, res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.stderr


def test_broken_asm_reports_line_and_column(tmp_path: Path) -> None:
    src = tmp_path / "bad.s"
    src.write_text("r0 = 0\nif r0 > goto +1\nexit\n")
    res = bpfvm("asm", str(src))
    assert res.returncode == 1
    assert (
        res.stderr.strip() == f"bpfvm: error: {src}:2:1: unrecognized instruction 'if r0 > goto +1'"
    )


def test_truncated_elf_object(tmp_path: Path) -> None:
    obj = shared_path("ebpf-samples", "linux", "sockex1_kern.o").read_bytes()
    for cut in (16, 64, len(obj) // 2):
        bad = tmp_path / f"cut{cut}.o"
        bad.write_bytes(obj[:cut])
        res = bpfvm("disasm", str(bad))
        assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
        assert "Traceback" not in res.stderr


def test_conformance_plugin_reads_elf_objects() -> None:
    obj = shared_path("ebpf-samples", "build", "packet_start_ok.o").read_bytes()
    res = bpfvm("conformance-plugin", "--elf", "00" * 16, stdin=obj)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1"
    res = bpfvm("conformance-plugin", "--elf", "", stdin=b"\xb7" + bytes(15))
    assert res.returncode == 1 and "not an ELF object" in res.stderr
