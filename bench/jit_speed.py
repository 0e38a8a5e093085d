"""JIT speed: ns per run of the JIT against the interpreter, the kernel and native C.

Run: ``python bench/jit_speed.py [--quick] [--native-only]``. Two tables:

* **examples**: programs of ``examples/c/*.bpf.o`` on their ``examples/cases.json`` inputs,
  run as ``BPF_PROG_TEST_RUN`` with ``repeat`` on the interpreter, on the JIT (the repeat loop
  runs in native code) and, when ``bpf()`` works here, on the kernel (through
  ``tests/kernel/libbpf_oracle.py``, imported by path; the kernel reports its own mean).
* **1 KiB frame**: SipHash-2-4 and CRC-32 over a 1 KiB XDP frame, written in C
  (``examples/bench/*.bpf.c``, objects committed, ``examples/bench/build.sh``; the kernel
  verifier accepts both), on the interpreter, the JIT (checked, as unverified programs run,
  and unchecked, as a verified program may), the kernel's JIT (``BPF_PROG_TEST_RUN`` with
  ``repeat``, its own duration field) and the same algorithms in C
  (``examples/bench/native.c``, built now with ``gcc -O2`` into a shared object whose
  ``bench()`` loops in C; skipped without gcc). Results are checked to agree.

Programs run as ``bpfvm run`` runs them: verified by bpfvm's verifier, then fixed up for the
engine (``FixedObject``: the interpreter's or the JIT's fixups, runtime context structures);
an object the verifier rejects runs as loaded (noted on stderr).

Ratios are ``engine / JIT`` (higher: the JIT is that many times faster) and ``JIT / kernel``,
``JIT / gcc`` (below 1: faster than the kernel's JIT; how far from native code). The
interpreter and JIT figures include the per-run work test_run does (contexts are built once
per repeat loop).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bpfvm.cli.test_run import apply_map_set, verify_object
from bpfvm.elf.loader import load_object
from bpfvm.errors import InputError
from bpfvm.hooks.fixed import FixedObject
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.vm.jit.layout import JitOptions

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

BENCH = EXAMPLES / "bench"
RUNS = 5  # best of
# (row, object in examples/bench, program, which in native.c's bench() or -1, map to fill)
NATIVE_PROGRAMS = [
    ("SipHash-2-4", "siphash", "xdp_siphash", 1, None),
    ("CRC-32 (byte table)", "crc32", "xdp_crc32", 0, None),
    ("64 hash lookups", "hash_lookup", "xdp_hash_lookup", -1, "table"),
    ("64 LRU lookups", "hash_lookup", "xdp_lru_lookup", -1, "lru_table"),
    ("64 hash updates+deletes", "hash_update", "xdp_hash_update", -1, None),
]


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


def _ratio(a: float | None, b: float | None, digits: int = 1) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:,.{digits}f}x"


def _case_bytes(spec: str | None) -> bytes | None:
    if spec is None:
        return None
    return bytes.fromhex(spec[4:]) if spec.startswith("hex:") else (EXAMPLES / spec).read_bytes()


def _object(
    path: Path, engine: str, jit_options: JitOptions | None = None, ncpus: int = 1
) -> LoadedObject:
    """The object as ``bpfvm run`` runs it: verified, then fixed up for the engine
    (``FixedObject``); one bpfvm's verifier rejects runs as loaded (``--no-verify``)."""
    obj = load_object(path.read_bytes(), str(path))
    try:
        facts = verify_object(obj)
    except InputError as exc:
        print(f"({path.name}: {exc}; run unverified)", file=sys.stderr)
        return LoadedObject(obj, ncpus=ncpus, engine=engine, jit_options=jit_options)
    return FixedObject(obj, ncpus=ncpus, aux=facts.get, engine=engine, jit_options=jit_options)


def _bpfvm_ns(case: dict[str, Any], engine: str, repeat: int) -> float:
    path = EXAMPLES / case["object"]
    loaded = _object(path, engine, ncpus=2)
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


def _elements() -> list[tuple[bytes, bytes]]:
    """What the lookup benchmark's map holds: every other u32 key of the frame's first 256
    bytes, and 500 other keys."""
    frame = _packet()
    keys = [frame[i : i + 4] for i in range(0, 256, 8)]
    keys += [(0x9E3779B9 * (i + 1) & 0xFFFFFFFF).to_bytes(4, "little") for i in range(500)]
    return [(key, (i + 1).to_bytes(8, "little")) for i, key in enumerate(keys)]


def _loaded(obj: str, engine: str, checked: bool, fill: str | None) -> LoadedObject:
    path = BENCH / f"{obj}.bpf.o"
    options = JitOptions(checked=checked) if engine == "jit" else None
    loaded = _object(path, engine, options)
    if fill is not None:
        for key, value in _elements():
            loaded.map(fill).update(key, value)
    return loaded


def _bpfvm_prog_ns(
    obj: str, prog: str, engine: str, repeat: int, checked: bool = True, fill: str | None = None
) -> tuple[float, int]:
    """ns per run in the thread's CPU time (as the kernel's duration leaves out the time its
    thread was preempted), best of RUNS."""
    loaded = _loaded(obj, engine, checked, fill)
    first = loaded.test_run(prog, _packet())  # warm up (and compile)
    best = float("inf")
    for _ in range(RUNS):
        start = time.thread_time_ns()
        retval = loaded.test_run(prog, _packet(), repeat=repeat).retval
        best = min(best, (time.thread_time_ns() - start) / repeat)
        assert retval == first.retval
    return best, first.retval


def _kernel_obj_ns(
    oracle: ModuleType | None, obj: str, prog: str, repeat: int, fill: str | None = None
) -> tuple[float | None, int | None]:
    """BPF_PROG_TEST_RUN's own mean (its duration field) over ``repeat`` runs, best of RUNS."""
    if oracle is None:
        return None, None
    with oracle.BpfObject(BENCH / f"{obj}.bpf.o") as loaded:
        if fill is not None:
            for key, value in _elements():
                loaded.map(fill).update(key, value)
        runs = [loaded.test_run(prog, data=_packet(), repeat=repeat) for _ in range(RUNS)]
    return float(min(r.duration_ns for r in runs)), runs[0].retval


def _native_c() -> Any:
    """examples/bench/native.c built now with ``gcc -O2`` into a shared object."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    lib = Path(tempfile.mkdtemp(prefix="bpfvm-bench-")) / "native.so"
    cmd = [gcc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(BENCH / "native.c")]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        return None
    dll = ctypes.CDLL(str(lib))
    dll.bench.restype = ctypes.c_uint64
    dll.bench.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_long]
    return dll


def _c_ns(dll: Any, which: int, repeat: int) -> tuple[float | None, int | None]:
    """ns per call of the algorithm, the loop inside C, in thread CPU time (best of RUNS),
    and its result."""
    if dll is None or which < 0:
        return None, None
    data = _packet()
    best = float("inf")
    for _ in range(RUNS):
        start = time.thread_time_ns()
        dll.bench(which, data, len(data), repeat)
        best = min(best, (time.thread_time_ns() - start) / repeat)
    return best, dll.bench(which, data, len(data), 1) & 0xFFFFFFFF


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"] * 3
    return f"{cpu}, {os.cpu_count()} CPUs, load average {' '.join(load)}"


def native_table(quick: bool) -> None:
    """SipHash-2-4, CRC-32 and 64 map lookups over a 1 KiB XDP frame: interpreter, JIT
    (checked, the default, and unchecked, as for verified programs: the kernel verifier
    accepts them all), the kernel's JIT, gcc -O2."""
    dll, oracle = _native_c(), _oracle()
    repeat = 10_000 if quick else 100_000
    print(
        f"\n1 KiB frame, ns/run       {'interp':>10} {'jit':>7} {'jit-unck':>8} {'kernel':>7} "
        f"{'gcc -O2':>7} {'jit/kernel':>10} {'jit/gcc':>8} {'unck/gcc':>8}"
    )
    for row, obj, prog, which, fill in NATIVE_PROGRAMS:
        interp, r_interp = _bpfvm_prog_ns(obj, prog, "interp", 1, fill=fill)
        jit, r_jit = _bpfvm_prog_ns(obj, prog, "jit", repeat, fill=fill)
        unchecked, r_unck = _bpfvm_prog_ns(obj, prog, "jit", repeat, checked=False, fill=fill)
        kernel, r_kernel = _kernel_obj_ns(oracle, obj, prog, repeat, fill)
        c, r_c = _c_ns(dll, which, repeat)
        assert r_interp == r_jit == r_unck and r_kernel in (None, r_jit), row
        assert r_c in (None, r_jit), row
        print(
            f"{row:25} {_fmt(interp):>10} {_fmt(jit):>7} {_fmt(unchecked):>8} "
            f"{_fmt(kernel):>7} {_fmt(c):>7} {_ratio(jit, kernel, 2):>10} "
            f"{_ratio(jit, c, 2):>8} {_ratio(unchecked, c, 2):>8}"
        )
    print(
        f"(kernel: BPF_PROG_TEST_RUN repeat={repeat:,}, its duration field; bpfvm: test_run "
        f"repeat={repeat:,}, the loop in native code; gcc: examples/bench/native.c, the loop "
        f"in C; bpfvm and gcc in thread CPU time; best of {RUNS} each)"
    )


def call_overhead_table(quick: bool) -> None:
    """What one ``test_run`` call costs from Python (repeat 1, wall time, best of 3 loops of
    many calls): the per-call overhead a test suite pays, next to the in-loop ns/run above.
    ``fixed``: verified and fixed up (``FixedObject``, as ``bpfvm run``); ``loaded``: run as
    loaded (``LoadedObject``, ``--no-verify``)."""
    calls = 200 if quick else 2_000
    data = (EXAMPLES / "packets" / "ipv4_tcp.bin").read_bytes()
    print("\none test_run call from Python (repeat 1, ipv4_tcp.bin), us per call")
    print(f"{'program':16} {'fixed interp':>12} {'fixed jit':>10} {'loaded interp':>14} "
          f"{'loaded jit':>11}")  # fmt: skip
    for obj_name, prog in (("xdp_firewall", "xdp_firewall"), ("tc_rewrite", "tc_ttl_rewrite")):
        path = EXAMPLES / "c" / f"{obj_name}.bpf.o"
        cells = []
        for verified in (True, False):
            for engine in ("interp", "jit"):
                if verified:
                    loaded = _object(path, engine)
                else:
                    obj = load_object(path.read_bytes(), str(path))
                    loaded = LoadedObject(obj, engine=engine)
                loaded.test_run(prog, data)  # compile and warm up
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter_ns()
                    for _ in range(calls):
                        loaded.test_run(prog, data)
                    best = min(best, (time.perf_counter_ns() - start) / calls / 1000)
                cells.append(best)
        print(f"{prog:16} {cells[0]:12.1f} {cells[1]:10.1f} {cells[2]:14.1f} {cells[3]:11.1f}")


# fmt: off
PACKET_PROGRAMS = [  # (row, program type, assembly): packet helpers, native on the JIT
    ("xdp adjust_head x2+load+csum", 6, """
        r6 = r1
        r2 = -14
        call bpf_xdp_adjust_head
        if r0 != 0 goto out
        r1 = r6
        r2 = 14
        call bpf_xdp_adjust_head
        r1 = r6
        r2 = 14
        r3 = r10
        r3 += -20
        r4 = 20
        call bpf_xdp_load_bytes
        r1 = r10
        r1 += -20
        r2 = 20
        r3 = 0
        r4 = 0
        r5 = 0
        call bpf_csum_diff
out:    r0 = 2
        exit
    """),
    ("tc l3_csum+load+store bytes", 3, """
        r6 = r1
        r2 = 24
        r3 = 0x0a000001
        r4 = 0x0a000002
        r5 = 4
        call bpf_l3_csum_replace
        r1 = r6
        r2 = 26
        r3 = r10
        r3 += -8
        r4 = 4
        call bpf_skb_load_bytes
        r1 = r6
        r2 = 30
        r3 = r10
        r3 += -8
        r4 = 4
        r5 = 0
        call bpf_skb_store_bytes
        r0 = 0
        exit
    """),
]
# fmt: on


def _packet_ns(vm: Any, prog_type: int, data: bytes, repeat: int) -> float:
    from bpfvm.hooks.context import build_packet_context
    from bpfvm.vm.jit.engine import JitEngine

    best = float("inf")
    for _ in range(RUNS):
        with build_packet_context(prog_type, data) as pc:
            vm.call.packet = pc.packet_state
            start = time.perf_counter_ns()
            if isinstance(vm, JitEngine):
                vm.run(pc.args, pc.regions, pc.packet, repeat=repeat)
            else:
                for _ in range(repeat):
                    vm.run(pc.args, pc.regions, pc.packet)
            best = min(best, (time.perf_counter_ns() - start) / repeat)
            vm.call.packet = None
    return best


def packet_helpers_table(quick: bool) -> None:
    """Packet helpers: the JIT's native helpers against the same helpers through Python
    (a registry whose packet helpers are not bpfvm's own objects is never inlined), the
    interpreter and the kernel (``BPF_PROG_TEST_RUN`` with ``repeat``)."""
    import functools

    from bpfvm.asm import assemble
    from bpfvm.isa import encode
    from bpfvm.kernel import prog_load, prog_test_run
    from bpfvm.runtime.helpers import default_registry
    from bpfvm.runtime.helpers.packet import PACKET_HELPERS
    from bpfvm.vm.interp import Interpreter
    from bpfvm.vm.jit.engine import JitEngine

    python_helpers = default_registry()
    for name, fn in PACKET_HELPERS.items():
        python_helpers.register(name, functools.partial(fn))
    data = bytes.fromhex("ffffffffffff0000000000010800" "450000320000000040110000"
                         "0a0000010a000002") + bytes(30)  # fmt: skip
    repeat = 2_000 if quick else 50_000
    print("\npacket helpers (64-byte frame)")
    print(f"{'program':30} {'interp':>8} {'jit-py':>8} {'jit':>8} {'kernel':>8} "
          f"{'py/jit':>7} {'jit/kern':>8}")  # fmt: skip
    for row, prog_type, src in PACKET_PROGRAMS:
        insns = assemble(src)
        interp = _packet_ns(Interpreter(insns), prog_type, data, max(repeat // 50, 10))
        jit_py = _packet_ns(JitEngine(insns, python_helpers), prog_type, data, repeat // 10)
        native = JitEngine(insns)
        jit = _packet_ns(native, prog_type, data, repeat)
        assert native.python_calls == 0, row
        kernel = None
        try:
            prog, _ = prog_load(encode(insns), prog_type)
        except OSError:  # no bpf() here
            prog = None
        if prog is not None:
            runs = [prog_test_run(prog.fd, data, repeat=repeat).duration_ns for _ in range(RUNS)]
            kernel = float(min(runs))
            prog.close()
        print(f"{row:30} {_fmt(interp):>8} {_fmt(jit_py):>8} {_fmt(jit):>8} {_fmt(kernel):>8} "
              f"{_ratio(jit_py, jit):>7} {_ratio(jit, kernel, 2):>8}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--native-only", action="store_true", help="only the 1 KiB table")
    args = parser.parse_args()
    print(f"ns per run (lower is better); {_machine()}\n")
    if not args.native_only:
        examples_table(args.quick)
    native_table(args.quick)
    if not args.native_only:
        packet_helpers_table(args.quick)
        call_overhead_table(args.quick)


if __name__ == "__main__":
    main()
