"""Native packet helpers (:mod:`bpfvm.vm.jit.lower_packet`): the JIT must give the Python
helpers' results (the kernel-checked reference, run by the interpreter) without calling into
Python: same r0, same packet bytes and geometry, same context, same faults."""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.errors import VmFault
from bpfvm.fixups.ctx_layout import SK_BUFF_RT, XDP_BUFF
from bpfvm.hooks.context import build_packet_context
from bpfvm.hooks.packet_ctx import PacketContext
from bpfvm.isa.insn import Insn
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.memory import Region
from bpfvm.runtime.packet import SKB_CTX_SIZE, SkbPacket, XdpPacket
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit.engine import BatchItem, JitEngine

XDP, TC = ProgType.XDP, ProgType.SCHED_CLS
SCRATCH = 128
FRAME = bytes(range(14)) + bytes((7 * i + 3) & 0xFF for i in range(100))
M32, M64 = 0xFFFFFFFF, (1 << 64) - 1

# helper ids
SKB_STORE_BYTES, L3_CSUM, L4_CSUM, SKB_LOAD_BYTES, CSUM_DIFF = 9, 10, 11, 26, 28
XDP_ADJUST_HEAD, XDP_ADJUST_META, XDP_ADJUST_TAIL = 44, 54, 65
XDP_LOAD_BYTES, XDP_STORE_BYTES = 189, 190

_ENGINES: dict[tuple[Insn, ...], tuple[Interpreter, JitEngine]] = {}


def engines(insns: Sequence[Insn]) -> tuple[Interpreter, JitEngine]:
    key = tuple(insns)
    if key not in _ENGINES:
        _ENGINES[key] = (Interpreter(list(insns)), JitEngine(list(insns)))
    return _ENGINES[key]


def call_prog(helper: int) -> list[Insn]:
    """r0 = helper(r1..r5), the arguments as given to the run."""
    return assemble(f"call {helper}\nexit")


@dataclass
class Outcome:
    r0: int | None
    fault: bool
    data_out: bytes
    geometry: tuple[int, ...]
    ctx: bytes  # the context with its packet pointers made offsets from the buffer
    scratch: bytes


def _ctx_view(pc: PacketContext) -> bytes:
    """The context region, with every packet pointer replaced by its buffer offset."""
    state = pc.packet_state
    raw = bytearray(state.ctx.read(0, state.ctx.size))
    base = state.buffer.addr
    if isinstance(state, XdpPacket):
        for off in (0, 4, 8):
            (ptr,) = struct.unpack_from("<I", raw, off)
            struct.pack_into("<I", raw, off, (ptr - base) & M32)
        if state.ctx.size > 24:
            for name in ("data", "data_end", "data_meta"):
                off = XDP_BUFF.field_for(name).offset
                (ptr,) = struct.unpack_from("<Q", raw, off)
                struct.pack_into("<Q", raw, off, (ptr - base) & M64)
            struct.pack_into("<Q", raw, 48, 0)
    else:
        for off in (76, 80, 140):
            (ptr,) = struct.unpack_from("<I", raw, off)
            struct.pack_into("<I", raw, off, (ptr - base) & M32)
        if state.ctx.size > SKB_CTX_SIZE:
            for name in ("data", "data_end", "data_meta"):
                off = SK_BUFF_RT.field_for(name).offset
                (ptr,) = struct.unpack_from("<Q", raw, off)
                struct.pack_into("<Q", raw, off, (ptr - base) & M64)
    return bytes(raw)


def _geometry(pc: PacketContext) -> tuple[int, ...]:
    state = pc.packet_state
    if isinstance(state, XdpPacket):
        return state.data, state.data_end, state.data_meta, len(state.frags)
    assert isinstance(state, SkbPacket)
    return state.data, state.tail, state.hash


def run_one(
    vm: Interpreter | JitEngine,
    prog_type: int,
    data: bytes,
    args: Callable[[PacketContext, int], Sequence[int]],
    *,
    runtime: bool = False,
    scratch: bytes = bytes(range(SCRATCH)),
) -> Outcome:
    pc = build_packet_context(prog_type, data, runtime_ctx=runtime)
    buf = Region.from_bytes("scratch", scratch)
    try:
        vm.call.packet = pc.packet_state
        argv = tuple(args(pc, buf.addr))
        try:
            r0: int | None = vm.run(argv, [*pc.regions, buf], pc.packet).retval
            fault = False
        except VmFault:
            r0, fault = None, True
        return Outcome(r0, fault, pc.data_out(), _geometry(pc), _ctx_view(pc), buf.read())
    finally:
        vm.call.packet = None
        pc.close()


def compare(
    insns: Sequence[Insn],
    prog_type: int,
    data: bytes,
    args: Callable[[PacketContext, int], Sequence[int]],
    *,
    runtime: bool = False,
) -> tuple[Outcome, int]:
    """Run on both engines; assert equal outcomes; (the outcome, the JIT's Python calls)."""
    interp, jit = engines(insns)
    want = run_one(interp, prog_type, data, args, runtime=runtime)
    before = jit.python_calls
    got = run_one(jit, prog_type, data, args, runtime=runtime)
    assert got == want
    return got, jit.python_calls - before


def u32(value: int) -> int:
    return value & M32


# --- no Python on the fast path ------------------------------------------------------------


NATIVE_CASES = [
    (CSUM_DIFF, XDP, lambda pc, s: (s, 20, s + 40, 24, 0x1234)),
    (CSUM_DIFF, TC, lambda pc, s: (0, 0, s + 3, 17, 0)),
    (L3_CSUM, TC, lambda pc, s: (pc.r1, 24, 0x0A000001, 0x0A000002, 4)),
    (L3_CSUM, TC, lambda pc, s: (pc.r1, 24, 0, 0x1234, 0)),
    (L4_CSUM, TC, lambda pc, s: (pc.r1, 40, 0x1234, 0x4321, 2 | 16 | 32)),
    (SKB_LOAD_BYTES, TC, lambda pc, s: (pc.r1, 3, s + 8, 30)),
    (SKB_LOAD_BYTES, TC, lambda pc, s: (pc.r1, 200, s + 8, 30)),  # -EFAULT, zeroes the buffer
    (SKB_STORE_BYTES, TC, lambda pc, s: (pc.r1, 10, s, 16, 1)),
    (XDP_LOAD_BYTES, XDP, lambda pc, s: (pc.r1, 5, s + 1, 50)),
    (XDP_STORE_BYTES, XDP, lambda pc, s: (pc.r1, 60, s + 7, 33)),
    (XDP_ADJUST_HEAD, XDP, lambda pc, s: (pc.r1, u32(-64))),
    (XDP_ADJUST_HEAD, XDP, lambda pc, s: (pc.r1, 20)),
    (XDP_ADJUST_TAIL, XDP, lambda pc, s: (pc.r1, 100)),
    (XDP_ADJUST_TAIL, XDP, lambda pc, s: (pc.r1, u32(-50))),
    (XDP_ADJUST_META, XDP, lambda pc, s: (pc.r1, u32(-16))),
]


@pytest.mark.parametrize("runtime", [False, True])
@pytest.mark.parametrize(("helper", "prog_type", "args"), NATIVE_CASES)
def test_native_without_python(
    helper: int,
    prog_type: int,
    args: Callable[[PacketContext, int], Sequence[int]],
    runtime: bool,
) -> None:
    out, calls = compare(call_prog(helper), prog_type, FRAME, args, runtime=runtime)
    assert calls == 0
    assert not out.fault


def test_results_are_the_helpers() -> None:
    out, _ = compare(call_prog(SKB_LOAD_BYTES), TC, FRAME, lambda pc, s: (pc.r1, 200, s + 8, 30))
    assert out.r0 == -errno.EFAULT & M64 and out.scratch[8:38] == bytes(30)
    out, _ = compare(call_prog(XDP_ADJUST_HEAD), XDP, FRAME, lambda pc, s: (pc.r1, u32(-64)))
    assert out.r0 == 0 and out.geometry[0] == 256 - 64
    out, _ = compare(call_prog(XDP_ADJUST_TAIL), XDP, FRAME, lambda pc, s: (pc.r1, 100))
    assert out.data_out == FRAME + bytes(100)


ADJUST_THEN_WRITE = """
    r6 = r1
    r2 = -8
    call bpf_xdp_adjust_meta
    r7 = r0
    r1 = r6
    r2 = -20
    call bpf_xdp_adjust_head
    r7 += r0
    r1 = r6
    r2 = 6
    call bpf_xdp_adjust_tail
    r7 += r0
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r4 = *(u32 *)(r6 + 8)
    r5 = r2
    r5 += 8
    if r5 > r3 goto out
    *(u64 *)(r2 + 0) = r7
    r5 = r4
    r5 += 8
    if r5 > r2 goto out
    *(u64 *)(r4 + 0) = 0x5a
out:
    r0 = r3
    r0 -= r2
    exit
"""


@pytest.mark.parametrize("runtime", [False, True])
def test_adjust_then_access(runtime: bool) -> None:
    """The program's window follows the native moves: accesses at the new data and meta."""
    out, calls = compare(assemble(ADJUST_THEN_WRITE), XDP, FRAME, lambda pc, s: (pc.r1,),
                         runtime=runtime)  # fmt: skip
    assert calls == 0
    assert out.r0 == len(FRAME) + 20 + 6
    assert out.data_out[:8] == bytes([0x5A]) + bytes(7)


RUNTIME_POINTERS = """
    r6 = r1
    r2 = -32
    call bpf_xdp_adjust_head
    r2 = *(u64 *)(r6 + 24)
    r3 = *(u64 *)(r6 + 32)
    r0 = r3
    r0 -= r2
    exit
"""


def test_runtime_ctx_pointers() -> None:
    """A fixed-up program reads the 64-bit pointers of ``bpfvm_xdp_buff``."""
    out, calls = compare(assemble(RUNTIME_POINTERS), XDP, FRAME, lambda pc, s: (pc.r1,),
                         runtime=True)  # fmt: skip
    assert calls == 0 and out.r0 == len(FRAME) + 32


STACK_BYTES = """
    r6 = r1
    r2 = 2
    r3 = r10
    r3 += -40
    r4 = 32
    call bpf_skb_load_bytes
    r1 = r10
    r1 += -40
    r2 = 32
    r3 = 0
    r4 = 0
    r5 = 0
    call bpf_csum_diff
    r7 = r0
    r1 = r6
    r2 = 50
    r3 = r10
    r3 += -40
    r4 = 32
    r5 = 0
    call bpf_skb_store_bytes
    r0 += r7
    exit
"""


def test_stack_buffers() -> None:
    out, calls = compare(assemble(STACK_BYTES), TC, FRAME, lambda pc, s: (pc.r1,))
    assert calls == 0 and not out.fault
    assert out.data_out[50:82] == FRAME[2:34]


def test_batch_keeps_each_packet() -> None:
    insns = assemble(ADJUST_THEN_WRITE)
    jit = JitEngine(insns)
    frames = [FRAME, FRAME[:40], bytes(range(200))]
    contexts = [build_packet_context(XDP, f) for f in frames]
    try:
        items = [BatchItem(c.args, c.regions, c.packet, c.packet_state) for c in contexts]
        got = [
            (r.retval, c.data_out()) for r, c in zip(jit.run_batch(items), contexts, strict=True)
        ]
    finally:
        for c in contexts:
            c.close()
    want = []
    for f in frames:
        out = run_one(engines(insns)[0], XDP, f, lambda pc, s: (pc.r1,))
        want.append((out.r0, out.data_out))
    assert got == want
    assert jit.python_calls == 0


def test_repeat_runs_natively() -> None:
    insns = assemble("r2 = -2\ncall bpf_xdp_adjust_head\nexit")
    jit = JitEngine(insns)
    pc = build_packet_context(XDP, FRAME)
    try:
        jit.call.packet = pc.packet_state
        jit.run(pc.args, pc.regions, pc.packet, repeat=50)
        assert pc.packet_state.data == 256 - 100
        assert jit.python_calls == 0
    finally:
        pc.close()


# --- error cases ---------------------------------------------------------------------------


ERROR_CASES = [
    (L3_CSUM, TC, lambda pc, s: (pc.r1, 24, 0, 0, 0x10), -errno.EINVAL),  # flag bits
    (L3_CSUM, TC, lambda pc, s: (pc.r1, 25, 0, 0, 2), -errno.EFAULT),  # odd offset
    (L3_CSUM, TC, lambda pc, s: (pc.r1, len(FRAME) - 1, 0, 0, 2), -errno.EFAULT),  # past the end
    (L3_CSUM, TC, lambda pc, s: (pc.r1, 24, 1, 0, 0), -errno.EINVAL),  # diff with a from
    (L3_CSUM, TC, lambda pc, s: (pc.r1, 24, 1, 0, 3), -errno.EINVAL),  # field size 3
    (L4_CSUM, TC, lambda pc, s: (pc.r1, 24, 0, 0, 0x100), -errno.EINVAL),
    (SKB_STORE_BYTES, TC, lambda pc, s: (pc.r1, 0, s, 4, 4), -errno.EINVAL),
    (SKB_STORE_BYTES, TC, lambda pc, s: (pc.r1, len(FRAME) - 3, s, 4, 0), -errno.EFAULT),
    (XDP_LOAD_BYTES, XDP, lambda pc, s: (pc.r1, 0x10000, s, 4), -errno.EFAULT),
    (XDP_LOAD_BYTES, XDP, lambda pc, s: (pc.r1, len(FRAME) - 3, s, 4), -errno.EINVAL),
    (XDP_ADJUST_HEAD, XDP, lambda pc, s: (pc.r1, u32(-217)), -errno.EINVAL),  # past the frame
    (XDP_ADJUST_HEAD, XDP, lambda pc, s: (pc.r1, len(FRAME) - 13), -errno.EINVAL),
    (XDP_ADJUST_TAIL, XDP, lambda pc, s: (pc.r1, 4000), -errno.EINVAL),
    (
        XDP_ADJUST_TAIL,
        XDP,
        lambda pc, s: (
            pc.r1,
            u32(-len(FRAME) + 13),
        ),
        -errno.EINVAL,
    ),
    (XDP_ADJUST_META, XDP, lambda pc, s: (pc.r1, u32(-6)), -errno.EACCES),
    (XDP_ADJUST_META, XDP, lambda pc, s: (pc.r1, 4), -errno.EINVAL),
]


@pytest.mark.parametrize(("helper", "prog_type", "args", "err"), ERROR_CASES)
def test_errors(
    helper: int,
    prog_type: int,
    args: Callable[[PacketContext, int], Sequence[int]],
    err: int,
) -> None:
    out, calls = compare(call_prog(helper), prog_type, FRAME, args)
    assert out.r0 == err & M64
    assert calls == 0


FALLBACK_CASES = [
    (XDP_ADJUST_HEAD, TC, lambda pc, s: (pc.r1, 0)),  # wrong packet kind: the helper's fault
    (L3_CSUM, XDP, lambda pc, s: (pc.r1, 0, 0, 0, 0)),
    (SKB_LOAD_BYTES, TC, lambda pc, s: (pc.r1, 0, 8, 4)),  # a bad buffer: the helper's fault
    (CSUM_DIFF, TC, lambda pc, s: (s + SCRATCH - 2, 4, 0, 0, 0)),
    (SKB_STORE_BYTES, TC, lambda pc, s: (pc.r1, 0, s, 4, 2)),  # invalidate hash: Python state
]


@pytest.mark.parametrize(("helper", "prog_type", "args"), FALLBACK_CASES)
def test_odd_cases_take_python(
    helper: int, prog_type: int, args: Callable[[PacketContext, int], Sequence[int]]
) -> None:
    _, calls = compare(call_prog(helper), prog_type, FRAME, args)
    assert calls == 1


def test_wrong_ctx_faults_like_python() -> None:
    interp, jit = engines(call_prog(XDP_ADJUST_HEAD))
    messages = []
    for vm in (interp, jit):
        pc = build_packet_context(XDP, FRAME)
        try:
            vm.call.packet = pc.packet_state
            with pytest.raises(VmFault) as info:
                vm.run((pc.r1 + 4, 0), pc.regions, pc.packet)
            messages.append(str(info.value).replace(hex(pc.r1 + 4), "CTX"))
        finally:
            pc.close()
    assert messages[0] == messages[1]


# --- differential over generated inputs ------------------------------------------------------

OFFSETS = st.one_of(st.integers(0, 130), st.sampled_from([M32, 0x7FFFFFFF, 0x10000, 0xFFFF]))
SIZES = st.one_of(st.integers(0, 64), st.sampled_from([0xFFFF, 0x10000, M32]))
U64 = st.one_of(st.integers(0, M64), st.integers(0, 0xFFFF))
DELTAS = st.one_of(st.integers(-300, 300), st.sampled_from([-(2**31), 2**31 - 1, -4000, 4000]))
PACKETS = st.binary(min_size=0, max_size=180)
SLOW = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@SLOW
@given(PACKETS, st.integers(0, SCRATCH), SIZES, st.integers(0, SCRATCH), SIZES, U64)
def test_csum_diff_differential(
    data: bytes, frm: int, frm_size: int, to: int, to_size: int, seed: int
) -> None:
    compare(call_prog(CSUM_DIFF), TC, data.ljust(14, b"\0"),
            lambda pc, s: (s + frm, frm_size, s + to, to_size, seed))  # fmt: skip


CSUM_FLAGS = st.one_of(
    st.sampled_from([0, 2, 4, 1, 3, 16, 18, 20, 32 | 2, 32 | 4, 32 | 64 | 2, 128 | 4, 256]),
    st.integers(0, 0xFFF),
)


@SLOW
@given(st.binary(min_size=14, max_size=120), OFFSETS, U64, U64, CSUM_FLAGS,
       st.sampled_from([L3_CSUM, L4_CSUM]))  # fmt: skip
def test_csum_replace_differential(
    data: bytes, offset: int, frm: int, to: int, flags: int, helper: int
) -> None:
    compare(call_prog(helper), TC, data, lambda pc, s: (pc.r1, offset, frm, to, flags))


@SLOW
@given(st.binary(min_size=14, max_size=120), OFFSETS, st.integers(0, SCRATCH), SIZES,
       st.sampled_from([0, 1, 2, 3, 4, 8]),
       st.sampled_from([SKB_LOAD_BYTES, SKB_STORE_BYTES]))  # fmt: skip
def test_skb_bytes_differential(
    data: bytes, offset: int, at: int, size: int, flags: int, helper: int
) -> None:
    compare(call_prog(helper), TC, data, lambda pc, s: (pc.r1, offset, s + at, size, flags))


@SLOW
@given(st.binary(min_size=14, max_size=120), OFFSETS, st.integers(0, SCRATCH), SIZES,
       st.sampled_from([XDP_LOAD_BYTES, XDP_STORE_BYTES]), st.booleans())  # fmt: skip
def test_xdp_bytes_differential(
    data: bytes, offset: int, at: int, size: int, helper: int, runtime: bool
) -> None:
    compare(call_prog(helper), XDP, data, lambda pc, s: (pc.r1, offset, s + at, size),
            runtime=runtime)  # fmt: skip


ADJUST_CHAIN = """
    r6 = r1
    r7 = r3
    r8 = r4
    call {first}
    r9 = r0
    r1 = r6
    r2 = r7
    call {second}
    r9 <<= 8
    r9 |= r0
    r1 = r6
    r2 = r8
    call bpf_xdp_adjust_meta
    r0 <<= 16
    r0 |= r9
    exit
"""


@SLOW
@given(st.binary(min_size=14, max_size=200), DELTAS, DELTAS,
       st.sampled_from([-4, -8, -12, -3, 0, 4, -256]), st.booleans(), st.booleans())  # fmt: skip
def test_adjust_differential(
    data: bytes, d1: int, d2: int, meta: int, head_first: bool, runtime: bool
) -> None:
    first, second = ("bpf_xdp_adjust_head", "bpf_xdp_adjust_tail")[:: 1 if head_first else -1]
    insns = assemble(ADJUST_CHAIN.format(first=first, second=second))
    compare(insns, XDP, data, lambda pc, s: (pc.r1, u32(d1), u32(d2), u32(meta)), runtime=runtime)
