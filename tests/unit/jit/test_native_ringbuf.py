"""JIT'd ``bpf_ringbuf_reserve``/``submit``/``discard`` on bpfvm's ring buffer storage.

They run natively (``python_calls == 0``) and leave the ring exactly as the interpreter's
Python helpers leave it: the same sample addresses (or NULL), the same bytes in the data area
(headers, ``pg_off``, wrapped records folded to the start), the same producer, consumer and
pending positions and wakeup count, so the Python consumer reads the same records, for random
sequences of reservations (up to a full ring), commits in and out of order, discards and
consumption. What native code cannot answer (a commit of an address that is no busy record,
a reserve on another kind of map) goes to the Python helper and fails the same way.
"""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.errors import BpfvmError
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import create_map
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter
from bpfvm.vm.jit import native as N
from bpfvm.vm.jit.engine import JitEngine

from .test_native_maps import PythonCalls

RING = 4096

# ctx: u64 size_a, u64 size_b, u64 order (0: a then b, 1: b then a), u64 action_a,
# u64 action_b (0 submit, 1 discard, 2 leave busy), u64 commit flags, u64 reserve flags, u64 tag.
# Reserves a then b, stamps the tag into each sample of 8 bytes or more, commits them in the
# given order; r0 = (a != NULL) | (b != NULL) << 1
TWO_RECORDS = """
        r6 = r1
        ld_pseudo r1, 1, 0
        r2 = *(u64 *)(r6 + 0)
        r3 = *(u64 *)(r6 + 48)
        call bpf_ringbuf_reserve
        r7 = r0
        ld_pseudo r1, 1, 0
        r2 = *(u64 *)(r6 + 8)
        r3 = *(u64 *)(r6 + 48)
        call bpf_ringbuf_reserve
        r8 = r0
        r9 = *(u64 *)(r6 + 56)
        if r7 == 0 goto stamp_b
        r1 = *(u64 *)(r6 + 0)
        if r1 < 8 goto stamp_b
        *(u64 *)(r7 + 0) = r9
stamp_b:
        if r8 == 0 goto commit
        r1 = *(u64 *)(r6 + 8)
        if r1 < 8 goto commit
        r9 += 1
        *(u64 *)(r8 + 0) = r9
commit: r1 = *(u64 *)(r6 + 16)
        if r1 == 1 goto b_first
        r1 = r7
        r2 = *(u64 *)(r6 + 24)
        r3 = *(u64 *)(r6 + 40)
        call commit_one
        r1 = r8
        r2 = *(u64 *)(r6 + 32)
        r3 = *(u64 *)(r6 + 40)
        call commit_one
        goto result
b_first:
        r1 = r8
        r2 = *(u64 *)(r6 + 32)
        r3 = *(u64 *)(r6 + 40)
        call commit_one
        r1 = r7
        r2 = *(u64 *)(r6 + 24)
        r3 = *(u64 *)(r6 + 40)
        call commit_one
result: r0 = 0
        if r7 == 0 goto res_b
        r0 = 1
res_b:  if r8 == 0 goto out
        r0 |= 2
out:    exit
commit_one:                     # r1 sample, r2 action, r3 commit flags
        if r1 == 0 goto done
        if r2 == 2 goto done
        r4 = r2
        r2 = r3
        if r4 == 1 goto discard
        call bpf_ringbuf_submit
        goto done
discard:
        call bpf_ringbuf_discard
done:   r0 = 0
        exit
"""


class Pair:
    def __init__(self, prog: str = TWO_RECORDS) -> None:
        spec = MapSpec("rb", MapType.RINGBUF, 0, 0, RING)
        self.jit_map, self.interp_map = create_map(spec, 1), create_map(spec, 1)
        insns = assemble(prog)
        self.jit = JitEngine(insns, maps=[self.jit_map])
        self.interp = Interpreter(insns, maps=[self.interp_map])

    def run(self, *fields: int) -> int:
        ctx = struct.pack(f"<{len(fields)}Q", *fields)
        results = []
        for engine in (self.jit, self.interp):
            region = Region.from_bytes("ctx", ctx)
            results.append(engine.run((region.addr,), (region,)).retval)
        assert results[0] == results[1]
        return results[0]

    def check_same(self) -> None:
        a, b = self.jit_map, self.interp_map
        assert bytes(a.data.buf) == bytes(b.data.buf)
        fields = ("producer_pos", "consumer_pos", "pending_pos", "wakeups")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
        ha, hb = bytes(a.handle.buf), bytes(b.handle.buf)
        assert ha[:32] + ha[40:] == hb[:32] + hb[40:]  # all but data_addr

    def consume(self) -> list[bytes]:
        got = self.jit_map.consume()
        assert got == self.interp_map.consume()
        return got


SIZES = st.sampled_from([0, 1, 7, 8, 13, 64, 500, 1000, 2040, 4000, 4088, 4089, 1 << 31])
STEP = st.tuples(
    SIZES,
    SIZES,
    st.integers(0, 1),  # order
    st.sampled_from([0, 0, 0, 1, 2]),  # action a
    st.sampled_from([0, 0, 0, 1, 2]),  # action b
    st.sampled_from([0, 0, 1, 2, 3]),  # commit flags
    st.sampled_from([0] * 9 + [1]),  # reserve flags
    st.booleans(),  # consume afterwards
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=30))
def test_reserve_commit_match_the_interpreter(
    steps: list[tuple[int, int, int, int, int, int, int, bool]],
) -> None:
    pair = Pair()
    for tag, (size_a, size_b, order, act_a, act_b, flags, rflags, consume) in enumerate(steps):
        pair.run(size_a, size_b, order, act_a, act_b, flags, rflags, tag << 8)
        pair.check_same()
        if consume:
            pair.consume()
            pair.check_same()
    assert pair.jit.python_calls == 0


def test_stays_native_and_the_consumer_reads_the_records() -> None:
    pair = Pair()
    ctx = Region.from_bytes("ctx", struct.pack("<8Q", 16, 24, 1, 0, 0, 0, 0, 0x100))
    pair.jit.native.activate(N.RegionTable(pair.jit._fixed_regions(), (ctx,), None))
    calls = PythonCalls()
    assert calls.during(pair.jit._run[0], pair.jit.native.addr, ctx.addr, 0, 0, 0, 0) == 3
    pair.jit._check()
    assert calls.names == [] and pair.jit.python_calls == 0
    region = Region.from_bytes("ctx", bytes(ctx.buf))
    assert pair.interp.run((region.addr,), (region,)).retval == 3
    assert pair.run(8, 8, 0, 1, 0, 2, 0, 0x200) == 3  # a discarded, b submitted
    assert pair.jit.python_calls == 0
    records = pair.consume()
    tags = [struct.unpack_from("<Q", r)[0] for r in records]
    assert tags == [0x100, 0x101, 0x201] and [len(r) for r in records] == [16, 24, 8]
    assert pair.jit_map.wakeups == pair.interp_map.wakeups == 3  # 2 at the consumer, 1 forced


def test_full_ring_and_wrapped_records() -> None:
    """Records that wrap around the end are folded to the start on commit; a ring whose
    busy record blocks the producer refuses reservations."""
    pair = Pair()
    for i in range(40):  # 1000-byte records (and empty ones): some rounds do not fit
        pair.run(1000, 0, 0, 0, 0, 0, 0, i << 8)
        pair.check_same()
        if i % 5 == 4:
            pair.consume()
    assert pair.run(1000, 0, 0, 2, 0, 0, 0, 0) == 3  # a left busy (b: an empty sample)
    assert pair.run(RING, 0, 0, 0, 0, 0, 0, 0) & 1 == 0  # larger than the ring
    for _ in range(4):
        pair.run(1000, 0, 0, 0, 0, 0, 0, 0)
    pair.check_same()
    assert pair.consume() == []  # the busy record blocks the consumer
    assert pair.jit.python_calls == 0


def test_bad_commit_goes_to_python_and_fails_alike() -> None:
    prog = """
        ld_pseudo r1, 1, 0
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = r0
        r1 += 8
        r2 = 0
        call bpf_ringbuf_submit
out:    exit
    """
    pair = Pair(prog)
    errors = []
    for engine in (pair.jit, pair.interp):
        with pytest.raises(BpfvmError) as info:
            engine.run()
        errors.append((type(info.value), re.sub(r"0x[0-9a-f]+", "ADDR", str(info.value))))
    assert errors[0] == errors[1] and "is not a reserved sample" in errors[0][1]
    assert pair.jit.python_calls == 1


def test_reserve_on_another_map_goes_to_python() -> None:
    prog = "ld_pseudo r1, 1, 0\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nexit"
    spec = MapSpec("h", MapType.HASH, 4, 8, 4)
    errors = []
    jit = JitEngine(assemble(prog), maps=[create_map(spec, 1)])
    for engine in (jit, Interpreter(assemble(prog), maps=[create_map(spec, 1)])):
        with pytest.raises(BpfvmError) as info:
            engine.run()
        errors.append(str(info.value))
    assert errors[0] == errors[1] and "can't do this" in errors[0]
    assert jit.python_calls == 1
