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


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIREWALL = str(EXAMPLES / "c" / "xdp_firewall.bpf.o")
TCP = "@" + str(EXAMPLES / "packets" / "ipv4_tcp.bin")


def test_readme_main_job_runs_an_object_on_a_packet() -> None:
    res = bpfvm(
        "run", FIREWALL, "--data", TCP, "--map-set", "blocklist:0a000001=0100000000000000",
        "--map-dump", "stats", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"retval", "data_out", "ctx_out", "duration_ns", "maps"}
    assert out["retval"] == 1  # XDP_DROP: 10.0.0.1 is on the blocklist
    assert out["data_out"] == (EXAMPLES / "packets" / "ipv4_tcp.bin").read_bytes().hex()
    assert out["maps"] == {"stats": {"00000000": "0100000000000000", "01000000": "0" * 16}}
    assert out["duration_ns"] > 0


def test_run_object_with_ctx_repeat_and_per_cpu_dump() -> None:
    obj = str(EXAMPLES / "c" / "proto_counters.bpf.o")
    res = bpfvm("run", obj, "--data", TCP, "--repeat", "3", "--ncpus", "2", "--cpu", "1",
                "--map-dump", "proto_stats", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout)["maps"]["proto_stats"]
    tcp = stats[(6).to_bytes(4, "little").hex()]  # IPPROTO_TCP
    assert len(tcp) == 2 and int.from_bytes(bytes.fromhex(tcp[1])[:8], "little") == 3
    assert int.from_bytes(bytes.fromhex(tcp[0])[:8], "little") == 0
    human = bpfvm("run", str(EXAMPLES / "c" / "raw_tp_printk.bpf.o"), "--ctx",
                  "00000000000000003b00000000000000", "--trace")  # fmt: skip
    assert human.returncode == 0 and human.stdout.startswith("retval: 1 ")
    assert "execve" in human.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map-set", "nosuch:00=00"], "no map named 'nosuch'"),
        (["--map-set", "blocklist:0a000001"], "expected NAME:KEYHEX=VALUEHEX"),
        (["--map-set", "blocklist:0a000001=01"], "value_size is 8"),
        (["--map-dump", "nosuch"], "no map named 'nosuch'"),
        (["--prog", "nope"], "no program named 'nope'"),
        (["--data", "@/nonexistent"], "/nonexistent"),
        (["--data", "0a"], "EINVAL"),
        (["--ctx", "00" * 12 + "05000000" + "00" * 8], "ifindex"),
    ],
)
def test_run_object_errors_are_one_line(args: list[str], message: str) -> None:
    res = (
        bpfvm("run", FIREWALL, "--data", TCP, *args)
        if "--data" not in args
        else bpfvm("run", FIREWALL, *args)
    )
    assert res.returncode == 1, res.stdout
    assert message in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert "Traceback" not in res.stderr


def test_packet_options_need_an_object() -> None:
    res = bpfvm("run", "--hex", "b70000000000000095000000000000000", "--data", "00")
    assert res.returncode == 1 and "needs an ELF object" in res.stderr


def test_run_verifies_first_and_no_verify_skips_it() -> None:
    bad = str(shared_path("ebpf-samples/build/ptr_arith.o"))  # the kernel rejects it too
    res = bpfvm("run", bad, "--data", TCP)
    assert res.returncode == 1
    assert res.stderr.strip() == (
        "bpfvm: error: prog 'test_ptr_arith' is rejected by the verifier: R1 pointer += "
        "pointer prohibited (bpfvm verify shows the log; --no-verify runs it unverified)"
    )
    unverified = bpfvm("run", bad, "--data", TCP, "--no-verify", "--json")
    assert unverified.returncode == 0, unverified.stderr
    # a verified, fixed-up run and an unverified one give the same results
    runs = [
        json.loads(bpfvm("run", FIREWALL, "--data", TCP, *flag, "--json").stdout)
        for flag in ((), ("--no-verify",))
    ]
    assert runs[0]["retval"] == runs[1]["retval"] == 2
    assert runs[0]["data_out"] == runs[1]["data_out"]
