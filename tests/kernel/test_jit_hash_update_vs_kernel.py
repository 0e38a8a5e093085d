"""examples/bench/hash_update on the running kernel and on bpfvm's JIT: 64 updates then 64
deletes per frame in a hash map, done natively by the JIT (no Python entered), with the
kernel's results and the map left as the kernel leaves it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
libbpf_oracle = pytest.importorskip("libbpf_oracle")

OBJ = Path(__file__).resolve().parents[2] / "examples" / "bench" / "hash_update.bpf.o"


@pytest.fixture(scope="module")
def oracle() -> None:
    if not libbpf_oracle.oracle_available():
        pytest.skip("libbpf or bpf() unavailable")


def test_hash_updates_agree_and_stay_native(oracle: None) -> None:
    from bpfvm.elf.loader import load_object
    from bpfvm.hooks.test_run import LoadedObject
    from bpfvm.vm.jit.engine import JitEngine

    frame = bytes((i * 7 + 3) & 0xFF for i in range(1024))
    loaded = LoadedObject(load_object(OBJ.read_bytes(), str(OBJ)), engine="jit")
    with libbpf_oracle.BpfObject(OBJ) as kernel:
        for size in (14, 64, 130, 256, 1024):
            want = kernel.test_run("xdp_hash_update", data=frame[:size]).retval
            assert loaded.test_run("xdp_hash_update", frame[:size]).retval == want, size
    assert want == 128  # 64 distinct keys, each inserted then deleted
    assert isinstance(loaded.vm, JitEngine) and loaded.vm.python_calls == 0
    assert len(loaded.map("utable")) == 0
