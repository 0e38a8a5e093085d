"""JIT speed: ns per run of the JIT against the interpreter, the kernel and native C.

Run: ``python bench/jit_speed.py [--quick]``. Two tables:

* **examples**: programs of ``examples/c/*.bpf.o`` on their ``examples/cases.json`` inputs,
  run as ``BPF_PROG_TEST_RUN`` with ``repeat`` on the interpreter, on the JIT (the repeat loop
  runs in native code) and, when ``bpf()`` works here, on the kernel (through
  ``tests/kernel/libbpf_oracle.py``, imported by path; the kernel reports its own mean).
* **CPU-heavy**: XDP programs over a 1 KiB packet (bitwise CRC-32, FNV-1a 64, a 64-bit
  multiply-rotate mix over u64 words) on the
  interpreter, the JIT, the kernel (loaded with ``BPF_PROG_LOAD``, run with repeat) and the
  same algorithm in C (``gcc -O2``, built now into a shared object and called through ctypes
  with the loop inside C; skipped without gcc).

Ratios are ``engine / JIT`` (higher: the JIT is that many times faster) and ``JIT / kernel``,
``JIT / C`` (how far from the kernel's JIT and from native code). The interpreter and JIT
figures include the per-run work test_run does (contexts are built once per repeat loop).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bpfvm.asm import assemble
from bpfvm.cli.test_run import apply_map_set
from bpfvm.elf.loader import load_object
from bpfvm.hooks.context import build_packet_context
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.isa.codec import encode
from bpfvm.isa.insn import Insn
from bpfvm.program.uapi import ProgType
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import JitEngine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CASES = [  # names in cases.json
    "firewall_pass_unlisted",
    "proto_counters_udp",
    "global_config_defaults",
    "ttl_rewrite_udp",
    "dns_filter_query",
    "flow_hash_tcp",
    "csum_loop_good",
    "exthdr_chain",
    "tail_call_tcp",
    "route_none",
]

CRC32 = """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        w0 = -1
        r4 = 0
loop:
        r5 = r2
        r5 += r4
        r6 = r5
        r6 += 1
        if r6 > r3 goto end
        r7 = *(u8 *)(r5 + 0)
        w0 ^= w7
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r9 = r0
        r9 &= 1
        r9 = -r9
        w9 &= -306674912
        w0 >>= 1
        w0 ^= w9
        r4 += 1
        if r4 < 1024 goto loop
end:
        w0 ^= -1
        exit
"""
FNV1A = """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r0 = 0xcbf29ce484222325 ll
        r8 = 0x100000001b3 ll
        r4 = 0
loop:
        r5 = r2
        r5 += r4
        r6 = r5
        r6 += 1
        if r6 > r3 goto end
        r7 = *(u8 *)(r5 + 0)
        r0 ^= r7
        r0 *= r8
        r4 += 1
        if r4 < 1024 goto loop
end:
        exit
"""
MIX64 = """
        r2 = *(u32 *)(r1 + 0)
        r3 = *(u32 *)(r1 + 4)
        r0 = 0x9e3779b97f4a7c15 ll
        r8 = 0xbf58476d1ce4e5b9 ll
        r4 = 0
loop:
        r5 = r2
        r5 += r4
        r6 = r5
        r6 += 8
        if r6 > r3 goto end
        r7 = *(u64 *)(r5 + 0)
        r0 ^= r7
        r0 *= r8
        r9 = r0
        r9 >>= 33
        r0 <<= 31
        r0 |= r9
        r4 += 8
        if r4 < 1024 goto loop
end:
        exit
"""
# (name, program, C function index, whether the kernel verifier can take it: the unrolled
# CRC makes the 6.18 verifier exhaust its budget, and the branchy one its memory)
CPU_PROGRAMS = [
    ("crc32 (bitwise, unrolled)", CRC32, 0, False),
    ("fnv1a-64", FNV1A, 1, True),
    ("mix64 (u64 words)", MIX64, 2, True),
]
C_SOURCE = r"""
#include <stdint.h>
#include <stddef.h>
uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));  /* unrolled by gcc */
    }
    return ~c;
}
uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}
uint64_t mix64(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        __builtin_memcpy(&w, p + i, 8);
        h ^= w;
        h *= 0xbf58476d1ce4e5b9ull;
        h = (h << 31) | (h >> 33);
    }
    return h;
}
uint64_t bench(int which, const uint8_t *p, size_t n, long reps) {
    uint64_t acc = 0;
    for (long r = 0; r < reps; r++) {
        __asm__ volatile("" ::: "memory");
        acc += which == 0 ? crc32(p, n) : which == 1 ? fnv1a(p, n) : mix64(p, n);
    }
    return acc;
}
"""


def _import(path: Path, name: str) -> ModuleType | None:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _oracle() -> ModuleType | None:
    try:
        oracle = _import(ROOT / "tests" / "kernel" / "libbpf_oracle.py", "libbpf_oracle")
        return oracle if oracle is not None and oracle.oracle_available() else None
    except Exception:
        return None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:,.1f}x"


def _case_bytes(spec: str | None) -> bytes | None:
    if spec is None:
        return None
    return bytes.fromhex(spec[4:]) if spec.startswith("hex:") else (EXAMPLES / spec).read_bytes()


def _bpfvm_ns(case: dict[str, Any], engine: str, repeat: int) -> float:
    path = EXAMPLES / case["object"]
    loaded = LoadedObject(load_object(path.read_bytes(), str(path)), ncpus=2, engine=engine)
    for text in case["map_set"]:
        apply_map_set(loaded, text)
    data, ctx = _case_bytes(case["data"]) or b"", _case_bytes(case["ctx"])
    loaded.test_run(case["program"], data, ctx)  # warm up (and compile)
    return min(
        loaded.test_run(case["program"], data, ctx, repeat=repeat).duration_ns for _ in range(3)
    )


def _kernel_ns(oracle: ModuleType | None, case: dict[str, Any], repeat: int) -> float | None:
    if oracle is None or case["map_set"]:
        return None
    try:
        with oracle.BpfObject(EXAMPLES / case["object"]) as obj:
            data, ctx = _case_bytes(case["data"]), _case_bytes(case["ctx"])
            runs = [obj.test_run(case["program"], data=data, ctx=ctx, repeat=repeat)
                    for _ in range(3)]  # fmt: skip
            return float(min(r.duration_ns for r in runs))
    except Exception:
        return None


def examples_table(quick: bool) -> None:
    import json

    cases = {c["name"]: c for c in json.loads((EXAMPLES / "cases.json").read_text())}
    oracle = _oracle()
    print(f"{'example case':28} {'interp':>10} {'jit':>8} {'kernel':>8} "
          f"{'interp/jit':>11} {'jit/kernel':>11}")  # fmt: skip
    for name in CASES:
        case = cases.get(name)
        if case is None:
            continue
        interp = _bpfvm_ns(case, "interp", 20 if quick else 200)
        jit = _bpfvm_ns(case, "jit", 10_000 if quick else 200_000)
        kernel = _kernel_ns(oracle, case, 10_000 if quick else 1_000_000)
        print(f"{name:28} {_fmt(interp):>10} {_fmt(jit):>8} {_fmt(kernel):>8} "
              f"{_ratio(interp, jit):>11} {_ratio(jit, kernel):>11}")  # fmt: skip


def _packet() -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(1024))


def _engine_ns(insns: list[Insn], jit: bool, repeat: int) -> tuple[float, int]:
    pc = build_packet_context(ProgType.XDP, _packet())
    engine: Interpreter | JitEngine = JitEngine(insns) if jit else Interpreter(insns)
    engine.call.packet = pc.packet_state
    best = float("inf")
    retval = 0
    for _ in range(3):
        start = time.perf_counter_ns()
        if isinstance(engine, JitEngine):
            retval = engine.run(pc.args, pc.regions, pc.packet, repeat=repeat).retval
        else:
            for _ in range(repeat):
                retval = engine.run(pc.args, pc.regions, pc.packet).retval
        best = min(best, (time.perf_counter_ns() - start) / repeat)
    pc.close()
    return best, retval


def _kernel_prog_ns(insns: list[Insn], repeat: int) -> tuple[float | None, int | None]:
    try:
        from bpfvm.kernel import syscall

        if not syscall.kernel_available():
            return None, None
        prog, _ = syscall.prog_load(encode(insns), ProgType.XDP, log_level=0)
        if prog is None:
            return None, None
        with prog:
            runs = [syscall.prog_test_run(prog.fd, _packet(), repeat=repeat) for _ in range(3)]
        return float(min(r.duration_ns for r in runs)), runs[0].retval
    except Exception:
        return None, None


def _native_c() -> Any:
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="bpfvm-bench-"))
    (tmp / "algo.c").write_text(C_SOURCE)
    lib = tmp / "algo.so"
    cmd = [gcc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(tmp / "algo.c")]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        return None
    dll = ctypes.CDLL(str(lib))
    dll.bench.restype = ctypes.c_uint64
    dll.bench.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_long]
    return dll


def _c_ns(dll: Any, which: int, repeat: int) -> float | None:
    if dll is None:
        return None
    data = _packet()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        dll.bench(which, data, len(data), repeat)
        best = min(best, (time.perf_counter_ns() - start) / repeat)
    return best


def cpu_table(quick: bool) -> None:
    dll = _native_c()
    print(f"\n{'CPU-heavy (1 KiB packet)':28} {'interp':>12} {'jit':>8} {'kernel':>8} {'C -O2':>8} "
          f"{'interp/jit':>11} {'jit/kernel':>11} {'jit/C':>7}")  # fmt: skip
    for name, text, which, on_kernel in CPU_PROGRAMS:
        insns = assemble(text)
        interp, r_interp = _engine_ns(insns, False, 1 if quick else 3)
        jit, r_jit = _engine_ns(insns, True, 2_000 if quick else 50_000)
        kernel, r_kernel = None, None
        if on_kernel:
            kernel, r_kernel = _kernel_prog_ns(insns, 2_000 if quick else 50_000)
        assert r_interp == r_jit and r_kernel in (None, r_jit & 0xFFFFFFFF), name
        c = _c_ns(dll, which, 2_000 if quick else 50_000)
        row = f"{name:28} {_fmt(interp):>12} {_fmt(jit):>8} {_fmt(kernel):>8} {_fmt(c):>8} "
        print(row + f"{_ratio(interp, jit):>11} {_ratio(jit, kernel):>11} {_ratio(jit, c):>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    print("ns per run (lower is better)\n")
    examples_table(args.quick)
    cpu_table(args.quick)


if __name__ == "__main__":
    main()
