"""The examples on the running kernel (through libbpf) and on bpfvm's JIT give the same
results (the JIT counterpart of ``test_examples_vs_kernel.py``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.corpus.example_cases import load_cases, run_case

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
libbpf_oracle = pytest.importorskip("libbpf_oracle")
pin_examples = pytest.importorskip("pin_examples")

CASES = load_cases()


@pytest.fixture(scope="module")
def oracle() -> None:
    if not libbpf_oracle.oracle_available():
        pytest.skip("libbpf or bpf() unavailable")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_example_on_kernel_and_jit(oracle: None, case: dict[str, Any]) -> None:
    kernel = pin_examples.run_case(case)
    ncpus = libbpf_oracle.num_possible_cpus()
    assert run_case(case, ncpus=ncpus, engine="jit") == kernel


BENCH = Path(__file__).resolve().parents[2] / "examples" / "bench"
BENCH_PROGRAMS = [("siphash", "xdp_siphash"), ("crc32", "xdp_crc32")]


@pytest.mark.parametrize(("obj", "prog"), BENCH_PROGRAMS)
def test_benchmark_programs_verify_cheaply_and_agree(oracle: None, obj: str, prog: str) -> None:
    """examples/bench: the kernel verifier accepts them with few processed instructions, and
    the JIT (checked and unchecked), the interpreter and the kernel give the same results on
    frames of every tail length."""
    from bpfvm.elf.loader import load_object
    from bpfvm.hooks.test_run import LoadedObject
    from bpfvm.kernel.loader import load_program
    from bpfvm.vm.jit.layout import JitOptions

    path = BENCH / f"{obj}.bpf.o"
    program = load_object(path.read_bytes(), str(path)).program(prog)
    verdict = load_program(program)
    assert verdict.accepted, verdict.error
    assert verdict.processed_insns < 50_000
    engines = [
        LoadedObject(load_object(path.read_bytes(), str(path)), engine=engine, jit_options=opts)
        for engine, opts in (("interp", None), ("jit", None), ("jit", JitOptions(checked=False)))
    ]
    with libbpf_oracle.BpfObject(path) as kernel:
        for size in (14, 15, 64, 1021, 1024, 1100):
            data = bytes((i * 7 + 3) & 0xFF for i in range(size))
            want = kernel.test_run(prog, data=data).retval
            assert [e.test_run(prog, data).retval for e in engines] == [want] * 3, size


@pytest.mark.parametrize("prog", ["xdp_hash_lookup", "xdp_lru_lookup"])
def test_hash_lookups_agree_and_stay_native(oracle: None, prog: str) -> None:
    """examples/bench/hash_lookup: 64 lookups per frame in a hash map or an LRU hash (both
    searched natively by the JIT, no Python entered), equal to the kernel."""
    from bpfvm.elf.loader import load_object
    from bpfvm.hooks.test_run import LoadedObject
    from bpfvm.vm.jit.engine import JitEngine

    path = BENCH / "hash_lookup.bpf.o"
    name = "table" if prog == "xdp_hash_lookup" else "lru_table"
    frame = bytes((i * 7 + 3) & 0xFF for i in range(1024))
    elements = [(frame[i : i + 4], (i + 1).to_bytes(8, "little")) for i in range(0, 256, 8)]
    more = [(i * 2654435761 & 0xFFFFFFFF).to_bytes(4, "little") for i in range(300)]
    elements += [(key, bytes(8)) for key in more]
    loaded = LoadedObject(load_object(path.read_bytes(), str(path)), engine="jit")
    with libbpf_oracle.BpfObject(path) as kernel:
        for key, value in elements:
            kernel.map(name).update(key, value)
            loaded.map(name).update(key, value)
        for size in (64, 200, 1024):
            want = kernel.test_run(prog, data=frame[:size]).retval
            assert loaded.test_run(prog, frame[:size]).retval == want
    assert isinstance(loaded.vm, JitEngine)
    assert loaded.vm.python_calls == 0
