"""Differential test: packet hooks and packet helpers on bpfvm vs the running kernel.

Each hand-written program is loaded into the kernel once (XDP, tc or socket-buffer types)
and run with ``BPF_PROG_TEST_RUN``; the same program runs on bpfvm's interpreter over
:func:`bpfvm.hooks.build_packet_context`. Return value, ``data_out`` and ``ctx_out`` must
agree byte for byte, and so must the errno of a refused input. Programs take their helper
arguments from the first bytes of the packet, so hypothesis drives both the packet and the
arguments (offsets, deltas, flags, checksums) without reloading programs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.hooks import NetDevice, TestRunError, build_packet_context
from bpfvm.isa import encode
from bpfvm.isa.insn import Insn
from bpfvm.kernel import LoadedProg, prog_load, prog_test_run
from bpfvm.program.uapi import ProgType
from bpfvm.vm.interp import Interpreter

XDP, TC, SOCK, CG = ProgType.XDP, ProgType.SCHED_CLS, ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB
CTX_SIZE = {XDP: 24}
SKB_CTX = 192
Outcome = tuple[int, bytes, bytes] | int  # (retval, data_out, ctx_out) or the errno

EXAMPLES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def host_devices() -> tuple[NetDevice, ...]:
    """The network devices of this machine, which ifindex fields of ctx_in may name."""
    devices = []
    for path in sorted(Path("/sys/class/net").iterdir()):
        try:
            ifindex = int((path / "ifindex").read_text())
            mac = bytes.fromhex((path / "address").read_text().strip().replace(":", ""))
            bcast = bytes.fromhex((path / "broadcast").read_text().strip().replace(":", ""))
            rx = len([q for q in (path / "queues").iterdir() if q.name.startswith("rx-")])
        except (OSError, ValueError):
            continue
        if len(mac) == 6 and len(bcast) == 6:
            devices.append(NetDevice(ifindex, path.name, mac, bcast, max(rx, 1)))
    return tuple(devices)


class Runner:
    """Runs programs on both sides; loads each program once."""

    def __init__(self) -> None:
        self.loaded: dict[tuple[str, int], tuple[LoadedProg, list[Insn], Interpreter]] = {}
        self.devices = host_devices()
        self.count = 0

    def _get(self, src: str, prog_type: int) -> tuple[LoadedProg, Interpreter]:
        key = (src, prog_type)
        if key not in self.loaded:
            insns = assemble(src)
            prog, result = prog_load(encode(insns), prog_type)
            assert prog is not None, f"kernel rejected:\n{src}\n{result.log[-1500:]}"
            self.loaded[key] = (prog, insns, Interpreter(insns))
        prog, _, vm = self.loaded[key]
        return prog, vm

    def kernel(
        self, src: str, prog_type: int, data: bytes, ctx: bytes | None, ctx_out: bool
    ) -> Outcome:
        prog, _ = self._get(src, prog_type)
        ctx_size = CTX_SIZE.get(prog_type, SKB_CTX) if ctx_out else 0
        try:
            res = prog_test_run(
                prog.fd, data, ctx_in=ctx, ctx_size_out=ctx_size, data_size_out=1 << 17
            )
        except OSError as e:
            return e.errno or -1
        return res.retval, res.data_out, res.ctx_out

    def ours(
        self, src: str, prog_type: int, data: bytes, ctx: bytes | None, ctx_out: bool
    ) -> Outcome:
        _, vm = self._get(src, prog_type)
        try:
            pc = build_packet_context(prog_type, data, ctx, ctx_out=ctx_out, devices=self.devices)
        except TestRunError as e:
            return e.errno
        with pc:
            vm.call.packet = pc.packet_state
            result = vm.run(pc.args, pc.regions, packet=pc.packet)
            out = pc.ctx_out() if ctx_out else None
            return result.retval & 0xFFFFFFFF, pc.data_out(), out or b""

    def check(
        self,
        src: str,
        prog_type: int,
        data: bytes,
        ctx: bytes | None = None,
        ctx_out: bool | None = None,
    ) -> Outcome:
        want_ctx = ctx is not None if ctx_out is None else ctx_out
        theirs = self.kernel(src, prog_type, data, ctx, want_ctx)
        ours = self.ours(src, prog_type, data, ctx, want_ctx)
        self.count += 1
        assert ours == theirs, f"\n{src}\ndata={data.hex()}\nctx={ctx and ctx.hex()}"
        return ours


@pytest.fixture(scope="module")
def run(kernel: None) -> Iterator[Runner]:
    runner = Runner()
    yield runner
    for prog, _, _ in runner.loaded.values():
        prog.close()


# --- strategies ---------------------------------------------------------------------------

ETHERTYPES = [0x0800, 0x86DD, 0x0806, 0x88CC, 0x05DC, 0x0000]


@st.composite
def frames(draw: st.DrawFn, params: bytes = b"", min_len: int = 14, max_len: int = 200) -> bytes:
    """An Ethernet frame whose first bytes are ``params`` (they overlay the MAC addresses)."""
    length = draw(st.integers(max(min_len, len(params), 14), max_len))
    proto = draw(st.sampled_from(ETHERTYPES) | st.integers(0, 0xFFFF))
    body = draw(st.binary(min_size=length, max_size=length))
    frame = bytearray(body)
    frame[12:14] = proto.to_bytes(2, "big")
    frame[: len(params)] = params
    return bytes(frame)


def s32(edges: list[int], lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.sampled_from(edges) | st.integers(lo, hi) | st.integers(-(2**31), 2**31 - 1)


def u32(edges: list[int], lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.sampled_from(edges) | st.integers(lo, hi) | st.integers(0, 2**32 - 1)


# --- programs -------------------------------------------------------------------------------

XDP_PARAMS = """r6 = r1
r7 = *(u32 *)(r6 + 0)
r8 = *(u32 *)(r6 + 4)
r2 = r7
r2 += {need}
r0 = 99
if r2 > r8 goto out
"""
TC_PARAMS = XDP_PARAMS.replace("(r6 + 0)", "(r6 + 76)").replace("(r6 + 4)", "(r6 + 80)")


def xdp_adjust(helper: str) -> str:
    """adjust_{head,tail,meta} by the s32 at data[0]; returns ret | buff_len << 8."""
    return (
        XDP_PARAMS.format(need=4)
        + f"""r2 = *(s32 *)(r7 + 0)
r1 = r6
call {helper}
r7 = r0
r7 &= 0xff
r1 = r6
call bpf_xdp_get_buff_len
r0 <<= 8
r0 |= r7
out:
exit"""
    )


XDP_META_WRITE = (
    XDP_PARAMS.format(need=4)
    + """r2 = *(s32 *)(r7 + 0)
r1 = r6
call bpf_xdp_adjust_meta
if r0 != 0 goto out
r2 = *(u32 *)(r6 + 8)
r3 = *(u32 *)(r6 + 0)
r4 = r2
r4 += 4
r0 = 98
if r4 > r3 goto out
*(u32 *)(r2 + 0) = 287454020
r0 = 0
out:
exit"""
)


def zero_stack(size: int) -> str:
    return "".join(f"*(u64 *)(r10 - {off}) = 0\n" for off in range(8, size + 8, 8))


def xdp_load_store(size: int) -> str:
    """Load ``size`` bytes at the u16 data[0], store them at the u16 data[2]."""
    room = -(-size // 8) * 8
    return (
        XDP_PARAMS.format(need=4)
        + zero_stack(room)
        + f"""r7 = *(u16 *)(r7 + 0)
r8 = *(u16 *)(r2 - 2)
r1 = r6
r2 = r7
r3 = r10
r3 += -{room}
r4 = {size}
call bpf_xdp_load_bytes
r9 = r0
r9 &= 0xff
r1 = r6
r2 = r8
r3 = r10
r3 += -{room}
r4 = {size}
call bpf_xdp_store_bytes
r0 &= 0xff
r0 <<= 8
r0 |= r9
out:
exit"""
    )


def csum_diff(from_size: int, to_size: int, prog_params: str = XDP_PARAMS) -> str:
    """csum_diff(data + 4, from_size, data + 4 + from_size, to_size, seed = u32 data[0])."""
    frm = "r1 = r7\nr1 += 4" if from_size else "r1 = 0"
    to = f"r3 = r7\nr3 += {4 + from_size}" if to_size else "r3 = 0"
    return (
        prog_params.format(need=4 + from_size + to_size)
        + f"""r5 = *(u32 *)(r7 + 0)
{frm}
r2 = {from_size}
{to}
r4 = {to_size}
call bpf_csum_diff
out:
exit"""
    )


REDIRECT = """r1 = *(u32 *)(r7 + 0)
r2 = *(u32 *)(r7 + 4)
call bpf_redirect
out:
exit"""

TC_STORE = (
    TC_PARAMS.format(need=8)
    + """r7 = *(u16 *)(r2 - 8)
r8 = *(u32 *)(r2 - 6)
r1 = r6
r2 = 23130
call bpf_set_hash
r1 = 0x0102030405060708 ll
*(u64 *)(r10 - 8) = r1
r1 = r6
r2 = r7
r3 = r10
r3 += -8
r4 = 8
r5 = r8
call bpf_skb_store_bytes
r0 &= 0xff
r1 = *(u32 *)(r6 + 68)
r1 <<= 8
r0 |= r1
out:
exit"""
)


def tc_load_store(size: int) -> str:
    """skb_load_bytes ``size`` bytes at the u16 data[0], store them at the u16 data[2]."""
    room = -(-size // 8) * 8
    return (
        TC_PARAMS.format(need=4)
        + zero_stack(room)
        + f"""r7 = *(u16 *)(r2 - 4)
r8 = *(u16 *)(r2 - 2)
r1 = r6
r2 = r7
r3 = r10
r3 += -{room}
r4 = {size}
call bpf_skb_load_bytes
r9 = r0
r9 &= 0xff
r1 = r6
r2 = r8
r3 = r10
r3 += -{room}
r4 = {size}
r5 = 0
call bpf_skb_store_bytes
r0 &= 0xff
r0 <<= 8
r0 |= r9
out:
exit"""
    )


def tc_csum(helper: str) -> str:
    """{l3,l4}_csum_replace(offset u16 @0, from u32 @2, to u32 @6, flags u16 @10)."""
    return (
        TC_PARAMS.format(need=12)
        + f"""r2 = *(u16 *)(r7 + 0)
r3 = *(u32 *)(r7 + 2)
r4 = *(u32 *)(r7 + 6)
r5 = *(u16 *)(r7 + 10)
r1 = r6
call {helper}
out:
exit"""
    )


def tc_change(helper: str, nargs: int) -> str:
    """Call ``helper`` with u32 args from data[0] (and flags data[4]); write a byte at the
    new data start; return ret | len << 8."""
    flags = "r3 = *(u32 *)(r7 + 4)\n" if nargs == 2 else ""
    return (
        TC_PARAMS.format(need=8)
        + f"""r2 = *(u32 *)(r7 + 0)
{flags}r1 = r6
call {helper}
r7 = r0
r7 &= 0xff
r2 = *(u32 *)(r6 + 76)
r3 = *(u32 *)(r6 + 80)
r4 = r2
r4 += 1
if r4 > r3 goto done
*(u8 *)(r2 + 0) = 171
done:
r0 = *(u32 *)(r6 + 0)
r0 <<= 8
r0 |= r7
out:
exit"""
    )


TC_HASH = (
    TC_PARAMS.format(need=4)
    + """r2 = *(u32 *)(r7 + 0)
r1 = r6
call bpf_set_hash
r1 = r6
call bpf_get_hash_recalc
r7 = r0
r1 = r6
call bpf_set_hash_invalid
r0 = *(u32 *)(r6 + 68)
r0 += r7
out:
exit"""
)


def load_relative(size: int, prog_type: int) -> str:
    """bpf_skb_load_bytes_relative(offset u32 @0, start u8 @4) of the L3 bytes; the
    result and the first loaded bytes go to cb[0..4] (socket types) or the return value."""
    room = -(-size // 8) * 8
    return (
        zero_stack(room + 8)
        + f"""r6 = r1
r2 = 0
r3 = r10
r3 += -{room + 8}
r4 = 8
call bpf_skb_load_bytes
r2 = *(u32 *)(r10 - {room + 8})
r5 = *(u8 *)(r10 - {room + 4})
r1 = r6
r3 = r10
r3 += -{room}
r4 = {size}
call bpf_skb_load_bytes_relative
*(u32 *)(r6 + 48) = r0
r1 = *(u32 *)(r10 - {room})
*(u32 *)(r6 + 52) = r1
r1 = *(u32 *)(r10 - {room - 4})
*(u32 *)(r6 + 56) = r1
r0 = 1
exit"""
    )


TC_FIELDS = {
    "len": 0, "pkt_type": 4, "mark": 8, "queue_mapping": 12, "protocol": 16,
    "vlan_present": 20, "vlan_tci": 24, "vlan_proto": 28, "priority": 32,
    "ingress_ifindex": 36, "ifindex": 40, "tc_index": 44, "cb0": 48, "cb4": 64, "hash": 68,
    "tc_classid": 72, "napi_id": 84, "tstamp": 152, "wire_len": 160, "gso_segs": 164,
    "gso_size": 176, "hwtstamp": 184,
}  # fmt: skip
SOCK_FIELDS = ["len", "pkt_type", "mark", "queue_mapping", "protocol", "vlan_present",
               "priority", "ingress_ifindex", "ifindex", "tc_index", "cb0", "hash",
               "napi_id", "gso_segs", "gso_size"]  # fmt: skip
CG_EXTRA = {"family": 88, "remote_ip4": 92, "local_ip4": 96, "remote_ip6": 100,
            "remote_ip6_3": 112, "local_ip6": 116, "local_ip6_2": 124}  # fmt: skip
WIDE = {"tstamp", "hwtstamp"}


def read_field(name: str, off: int, prog_type: int) -> str:
    size = "u64" if name in WIDE else "u32"
    load = f"r0 = *({size} *)(r1 + {off})\n"
    if prog_type == CG:  # cgroup skb programs return 0 or 1: report through cb[0]
        return load + "*(u32 *)(r1 + 48) = r0\nr0 = 1\nexit"
    return load + "exit"


# --- XDP -----------------------------------------------------------------------------------


@st.composite
def xdp_args(draw: st.DrawFn, edges: list[int]) -> tuple[bytes, bytes | None]:
    """(data, ctx_in): a packet starting with an s32 parameter, maybe with metadata/frags."""
    delta = draw(s32(edges, -300, 300))
    size = draw(st.sampled_from([14, 18, 64, 200, 3520, 3521, 5000]) | st.integers(14, 300))
    data = bytearray(draw(st.binary(min_size=size, max_size=size)))
    ctx = None
    if draw(st.integers(0, 3)) == 0:  # metadata and/or a short linear part
        meta = draw(st.sampled_from([0, 4, 8, 32, 216]))
        end = draw(st.integers(min(meta, size), size))
        ctx = struct.pack("<6I", meta, end, 0, 0, 0, 0)
        size_off = meta
    else:
        size_off = 0
    param = struct.pack("<i", delta)[: max(0, min(4, size - size_off))]
    data[size_off : size_off + len(param)] = param
    return bytes(data), ctx


@EXAMPLES
@given(st.sampled_from(["bpf_xdp_adjust_head", "bpf_xdp_adjust_tail", "bpf_xdp_adjust_meta"]),
       st.data())  # fmt: skip
def test_xdp_adjust(run: Runner, helper: str, data: st.DataObject) -> None:
    edges = [0, -1, 1, -14, -40, -216, -217, -252, -256, 50, 51, 3456, 3457, -3000, 4096]
    packet, ctx = data.draw(xdp_args(edges))
    run.check(xdp_adjust(helper), XDP, packet, ctx)


@EXAMPLES
@given(st.data())
def test_xdp_meta_write(run: Runner, data: st.DataObject) -> None:
    packet, ctx = data.draw(xdp_args([-4, -8, -32, -36, -216, -3, 0, 4]))
    run.check(XDP_META_WRITE, XDP, packet, ctx)


@EXAMPLES
@given(st.sampled_from([1, 4, 13, 64, 300]), st.data())
def test_xdp_load_store_bytes(run: Runner, size: int, data: st.DataObject) -> None:
    length = data.draw(st.sampled_from([64, 3520, 5000, 9000]) | st.integers(14, 400))
    offsets = st.integers(0, length + 8) | st.integers(0, 0xFFFF)
    load, store = data.draw(offsets), data.draw(offsets)
    body = data.draw(st.binary(min_size=length - 4, max_size=length - 4))
    packet = struct.pack("<HH", load, store) + body
    run.check(xdp_load_store(size), XDP, packet)


@EXAMPLES
@given(st.data())
def test_xdp_get_buff_len_and_redirect(run: Runner, data: st.DataObject) -> None:
    ifindex = data.draw(u32([0, 1, 4], 0, 10))
    flags = data.draw(st.sampled_from([0, 0, 1, 2, 8]) | st.integers(0, 2**32 - 1))
    size = data.draw(st.integers(14, 200) | st.sampled_from([3520, 4000, 12000]))
    packet = struct.pack("<II", ifindex, flags) + bytes(size - 8)
    run.check(XDP_PARAMS.format(need=8) + REDIRECT, XDP, packet)
    run.check("r6 = r1\ncall bpf_xdp_get_buff_len\nexit", XDP, packet)


@EXAMPLES
@given(st.sampled_from([(0, 0), (0, 4), (4, 0), (4, 4), (8, 12), (20, 20), (2, 3), (256, 260)]),
       st.data())  # fmt: skip
def test_csum_diff(run: Runner, sizes: tuple[int, int], data: st.DataObject) -> None:
    seed = data.draw(u32([0, 1, 0xFFFFFFFF, 0xFFFF], 0, 0xFFFF))
    body = data.draw(
        st.binary(min_size=sum(sizes), max_size=sum(sizes))
        | st.just(bytes(sum(sizes)))
        | st.just(b"\xff" * sum(sizes))
    )
    packet = struct.pack("<I", seed) + body + bytes(16)
    run.check(csum_diff(*sizes), XDP, packet)


def test_xdp_context_fields(run: Runner) -> None:
    packet = bytes(range(64))
    for off in (12, 16):
        src = f"r0 = *(u32 *)(r1 + {off})\nexit"
        run.check(src, XDP, packet)
        for ingress, queue in [(0, 0), (1, 0), (4, 0), (99, 0), (1, 1), (0, 1)]:
            run.check(src, XDP, packet, struct.pack("<6I", 0, 64, 0, ingress, queue, 0))


@EXAMPLES
@given(st.data())
def test_xdp_ctx_in_validation(run: Runner, data: st.DataObject) -> None:
    size = data.draw(st.integers(0, 80) | st.sampled_from([3520, 3776, 4000]))
    fields = [
        data.draw(st.sampled_from([0, 4, 8, 14, 16, 32, 216, 220, 3]) | st.integers(0, size)),
        data.draw(st.sampled_from([size, size - 1, size + 1, 0]) | st.integers(0, size)),
        data.draw(st.sampled_from([0, 0, 0, 1])),
        data.draw(st.sampled_from([0, 0, 1, 4, 99])),
        data.draw(st.sampled_from([0, 0, 0, 1])),
        data.draw(st.sampled_from([0, 0, 0, 1])),
    ]
    ctx = struct.pack("<6I", *[f & 0xFFFFFFFF for f in fields])
    tail = data.draw(st.sampled_from([b"", b"", bytes(8), b"\x01"]))
    packet = bytes(i & 0xFF for i in range(size))
    run.check("r0 = 2\nexit", XDP, packet, ctx + tail)


def test_xdp_ctx_out_only_empties_the_linear_part(run: Runner) -> None:
    src = XDP_PARAMS.format(need=14) + "r0 = 1\nout:\nexit"
    assert run.check(src, XDP, bytes(64), None, ctx_out=True)[0] == 99  # type: ignore[index]
    assert run.check(src, XDP, bytes(64))[0] == 1  # type: ignore[index]


# --- socket buffers -------------------------------------------------------------------------


@EXAMPLES
@given(st.data())
def test_skb_store_bytes(run: Runner, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, 120) | st.integers(0, 0xFFFF))
    flags = data.draw(st.sampled_from([0, 1, 2, 3, 4, 0x10]) | st.integers(0, 2**32 - 1))
    packet = data.draw(frames(struct.pack("<HI", offset, flags) + b"\0\0", 20, 120))
    run.check(TC_STORE, TC, packet)


@EXAMPLES
@given(st.sampled_from([1, 4, 14, 64]), st.data())
def test_skb_load_bytes(run: Runner, size: int, data: st.DataObject) -> None:
    offsets = st.integers(0, 130) | st.integers(0, 0xFFFF)
    params = struct.pack("<HH", data.draw(offsets), data.draw(offsets))
    run.check(tc_load_store(size), TC, data.draw(frames(params, 14, 130)))


@EXAMPLES
@given(st.sampled_from(["bpf_l3_csum_replace", "bpf_l4_csum_replace"]), st.data())
def test_csum_replace(run: Runner, helper: str, data: st.DataObject) -> None:
    length = data.draw(st.integers(24, 80))
    if data.draw(st.integers(0, 3)):  # well-formed: an even offset inside, a known size
        offset = 2 * data.draw(st.integers(0, (length - 2) // 2))
        size = data.draw(st.sampled_from([0, 2, 4]))
        extra = data.draw(st.sampled_from([0, 0x10, 0x20, 0x40, 0x60, 0x80, 0xF0]))
        if helper == "bpf_l3_csum_replace":
            extra = 0
    else:
        offset = data.draw(st.integers(0, 80) | st.just(0xFFFE))
        size = data.draw(st.sampled_from([0, 1, 2, 3, 4, 8]))
        extra = data.draw(st.sampled_from([0, 0x10, 0x20, 0x100, 0x8000]))
    frm = 0 if size == 0 and data.draw(st.booleans()) else data.draw(u32([0, 0xFFFF], 0, 0xFFFF))
    to = data.draw(u32([0, 0xFFFF, 0xFFFFFFFF], 0, 0xFFFF))
    params = struct.pack("<HIIH", offset, frm, to, size | extra)
    frame = data.draw(frames(params, length, length))
    run.check(tc_csum(helper), TC, frame[:12] + b"\x88\xcc" + frame[14:])


def test_l4_csum_mangled_zero(run: Runner) -> None:
    # The checksum at offset 20 is zero, or becomes zero (0xedcb + 0x1234 - 0 ... -> 0).
    for check, flags in [(0, 0x22), (0, 0x62), (0xEDCB, 0x22), (0xEDCB, 0x02)]:
        params = struct.pack("<HIIH", 20, 0, 0x1234, flags)
        frame = params + b"\x08\x06" + bytes(6) + struct.pack("<H", check) + bytes(20)
        run.check(tc_csum("bpf_l4_csum_replace"), TC, frame)


CHANGES = [("bpf_skb_change_head", 2), ("bpf_skb_change_tail", 2), ("bpf_skb_pull_data", 1)]


@EXAMPLES
@given(st.sampled_from(CHANGES), st.data())
def test_skb_change(run: Runner, helper: tuple[str, int], data: st.DataObject) -> None:
    ctx = None
    gso_size = data.draw(st.sampled_from([0, 0, 1400, 0x10000]))
    if gso_size:  # a GSO packet: no length limit on change_head
        ctx = bytearray(SKB_CTX)
        struct.pack_into("<I", ctx, 164, data.draw(st.integers(0, 64)))  # gso_segs
        struct.pack_into("<I", ctx, 176, gso_size)
        ctx = bytes(ctx)
    if gso_size == 1400 and helper[0] == "bpf_skb_change_head":
        # Keep clear of the kernel's skb_cow() with a head of gigabytes (a BUG_ON past 2 GiB).
        arg = data.draw(st.integers(0, 20000))
    else:
        arg = data.draw(u32([0, 1, 13, 14, 15, 100, 16064, 16065, 16000, 0xFFFFFFFF], 0, 300))
    flags = data.draw(st.sampled_from([0, 0, 0, 1]))
    packet = data.draw(frames(struct.pack("<II", arg, flags), 14, 200))
    run.check(tc_change(*helper), TC, packet, ctx)


@EXAMPLES
@given(st.data())
def test_tc_hash_and_redirect(run: Runner, data: st.DataObject) -> None:
    value = data.draw(u32([0, 1, 0xFFFFFFFF], 0, 100))
    run.check(TC_HASH, TC, data.draw(frames(struct.pack("<I", value), 14, 60)))
    ifindex = data.draw(u32([0, 1, 4], 0, 10))
    flags = data.draw(st.sampled_from([0, 1, 2, 3]) | st.integers(0, 2**32 - 1))
    params = struct.pack("<II", ifindex, flags)
    run.check(TC_PARAMS.format(need=8) + REDIRECT, TC, data.draw(frames(params, 14, 60)))


@EXAMPLES
@given(st.sampled_from([SOCK, CG, TC]), st.sampled_from([1, 4, 8, 14]), st.data())
def test_load_bytes_relative(run: Runner, prog_type: int, size: int, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, 80) | st.sampled_from([0xFFFF, 0x10000]))
    start = data.draw(st.sampled_from([0, 1, 2]))
    l3 = struct.pack("<IB", offset, start) + data.draw(st.binary(min_size=3, max_size=80))
    frame = data.draw(frames(b"", 14, 14)) + l3
    frame = frame[:12] + b"\x88\xcc" + frame[14:]  # not IP: any length is fine
    run.check(load_relative(size, prog_type), prog_type, frame, bytes(SKB_CTX))


@st.composite
def skb_ctx(draw: st.DrawFn, length: int) -> bytes:
    """A ``__sk_buff`` ctx_in: allowed fields set at random, sometimes a forbidden byte."""
    ctx = bytearray(SKB_CTX)
    put = {8: u32([0], 0, 9), 32: u32([0], 0, 9), 36: u32([0, 1], 0, 9),
           40: st.sampled_from([0, 1, 2, 4, 99]), 48: u32([0], 0, 9), 64: u32([0], 0, 9),
           164: st.sampled_from([0, 1, 65535, 65536]), 176: u32([0, 0x10000], 0, 1500),
           160: st.sampled_from([0, length - 1, length, length + 1, 65536, 65537])}  # fmt: skip
    for off, strategy in put.items():
        if draw(st.booleans()):
            struct.pack_into("<I", ctx, off, draw(strategy) & 0xFFFFFFFF)
    for off in (152, 184):
        if draw(st.booleans()):
            struct.pack_into("<Q", ctx, off, draw(st.integers(0, 2**64 - 1)))
    if draw(st.integers(0, 5)) == 0:
        ctx[draw(st.integers(0, SKB_CTX - 1))] |= 1
    size = draw(st.sampled_from([SKB_CTX, SKB_CTX, 100, SKB_CTX + 8]))
    return bytes(ctx[:size]).ljust(size, b"\0")


@EXAMPLES
@given(st.sampled_from([TC, SOCK, CG]), st.data())
def test_skb_context_fields(run: Runner, prog_type: int, data: st.DataObject) -> None:
    packet = data.draw(frames(b"", 14, 120))
    ctx = data.draw(skb_ctx(len(packet)) | st.none())
    names = TC_FIELDS if prog_type == TC else SOCK_FIELDS
    if prog_type == CG:
        names = [*SOCK_FIELDS, "tstamp", "hwtstamp", *CG_EXTRA]
    fields = {**TC_FIELDS, **CG_EXTRA}
    for name in names:
        run.check(read_field(name, fields[name], prog_type), prog_type, packet, ctx)


TC_WRITES = """r2 = 0x1234
*(u32 *)(r1 + 8) = r2
r2 = 7
*(u32 *)(r1 + 32) = r2
r2 = 0x55
*(u32 *)(r1 + 56) = r2
r2 = 0x1122334455667788 ll
*(u64 *)(r1 + 152) = r2
r0 = 0
exit"""


def test_ctx_writes_reach_ctx_out(run: Runner) -> None:
    frame = bytes(12) + b"\x08\x00" + bytes(40)
    run.check(TC_WRITES, TC, frame, bytes(SKB_CTX))
    run.check(TC_WRITES, TC, frame, None, ctx_out=True)


def test_direct_packet_writes(run: Runner) -> None:
    swap = """r2 = *(u32 *)(r1 + {d})
r3 = *(u32 *)(r1 + {e})
r4 = r2
r4 += 12
r0 = 9
if r4 > r3 goto out
r5 = *(u32 *)(r2 + 0)
r6 = *(u32 *)(r2 + 6)
*(u32 *)(r2 + 0) = r6
*(u32 *)(r2 + 6) = r5
r0 = {ret}
out:
exit"""
    frame = bytes(range(60))
    run.check(swap.format(d=0, e=4, ret=2), XDP, frame)
    run.check(swap.format(d=76, e=80, ret=0), TC, frame)


@EXAMPLES
@given(st.sampled_from([TC, ProgType.SCHED_ACT, SOCK, CG]), st.data())
def test_skb_input_validation(run: Runner, prog_type: int, data: st.DataObject) -> None:
    length = data.draw(st.integers(0, 70) | st.sampled_from([3712, 3713, 4000]))
    packet = data.draw(frames(b"", max(length, 14), max(length, 14)))[:length]
    ctx = data.draw(skb_ctx(len(packet) if prog_type == TC else len(packet) - 14) | st.none())
    run.check("r0 = 1\nexit", prog_type, packet, ctx)


def test_xdp_frags_grow_and_shrink(run: Runner) -> None:
    """adjust_tail on a buffer with fragments: grow the last one, shrink across several."""
    for size in (3521, 3600, 4096 + 3520, 4096 + 3521, 9000):
        for delta in (1, 100, 4095, 4096, 0, -1, -80, -81, -4096, -4097, -5000, -(size - 14)):
            packet = struct.pack("<i", delta) + bytes(i & 0xFF for i in range(size - 4))
            run.check(xdp_adjust("bpf_xdp_adjust_tail"), XDP, packet)


def test_socket_filter_legacy_loads(run: Runner) -> None:
    """LD_ABS/LD_IND read the skb data (from L3) through the packet context's window."""
    frame = bytes((i * 37 + 11) & 0xFF for i in range(64))
    frame = frame[:12] + b"\x88\xcc" + frame[14:]
    for text in ("r0 = *(u8 *)skb[0]", "r0 = *(u32 *)skb[46]", "r0 = *(u32 *)skb[47]",
                 "r7 = 9\nr0 = *(u16 *)skb[r7 + 3]"):  # fmt: skip
        run.check(f"r6 = r1\n{text}\nr0 &= 0x7fffffff\nexit", SOCK, frame)
