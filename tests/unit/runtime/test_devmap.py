"""The XDP redirect maps (devmap, devmap_hash, cpumap, xskmap) and ``bpf_redirect_map``."""

from __future__ import annotations

import errno
import struct

import pytest

from bpfvm.asm import assemble
from bpfvm.errors import VmFault
from bpfvm.hooks import build_packet_context
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType, ProgType
from bpfvm.runtime.helpers import ALL_HELPERS, HelperCall, default_registry
from bpfvm.runtime.helpers.redirect import MapRedirect
from bpfvm.runtime.maps import (
    ENOTSUPP,
    MAP_CLASSES,
    BpfMap,
    CpuMap,
    DevMap,
    DevMapHash,
    MapError,
    MapSpecError,
    XskMap,
    create_map,
    devmap,
)
from bpfvm.runtime.memory import AddressSpace
from bpfvm.runtime.packet import Redirect, SkbPacket, XdpPacket
from bpfvm.vm.interp import Interpreter

T = MapType
NUMA, RDONLY, WRONLY = 1 << 2, 1 << 3, 1 << 4
RDONLY_PROG, WRONLY_PROG, NO_PREALLOC = 1 << 7, 1 << 8, 1
BROADCAST, EXCLUDE_INGRESS = 1 << 3, 1 << 4
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)


def spec(
    t: MapType, vs: int = 4, n: int = 4, flags: int = 0, ks: int = 4, map_extra: int = 0
) -> MapSpec:
    return MapSpec("m", t, ks, vs, n, flags, map_extra=map_extra)


def dev(ifindex: int, fd: int = 0, size: int = 8) -> bytes:
    return struct.pack("<Ii", ifindex, fd)[:size]


def create_errno(s: MapSpec, ncpus: int = 2) -> int:
    try:
        create_map(s, ncpus)
    except MapSpecError as e:
        return e.errno
    return 0


def op_errno(fn: object, *args: object) -> int:
    assert callable(fn)
    try:
        fn(*args)
    except MapError as e:
        return e.errno
    return 0


# --- creation -------------------------------------------------------------------------------


def test_registered_types() -> None:
    for t, cls in ((T.DEVMAP, DevMap), (T.DEVMAP_HASH, DevMapHash), (T.CPUMAP, CpuMap),
                   (T.XSKMAP, XskMap)):  # fmt: skip
        assert MAP_CLASSES[t] is cls
        assert type(create_map(spec(t), 2)) is cls


@pytest.mark.parametrize("t", [T.DEVMAP, T.DEVMAP_HASH, T.CPUMAP, T.XSKMAP])
def test_common_size_checks(t: MapType) -> None:
    assert create_errno(spec(t, n=0)) == errno.EINVAL
    assert create_errno(spec(t, ks=8)) == errno.EINVAL
    assert create_errno(spec(t, ks=0)) == errno.EINVAL
    assert create_errno(spec(t, vs=0)) == errno.EINVAL
    assert create_errno(spec(t, vs=12)) == errno.EINVAL
    assert create_errno(spec(t, vs=4)) == 0
    assert create_errno(spec(t, vs=8)) == (errno.EINVAL if t == T.XSKMAP else 0)
    assert create_errno(spec(t, map_extra=1)) == errno.EINVAL
    assert create_errno(spec(t, flags=RDONLY | WRONLY)) == errno.EINVAL
    for bad in (RDONLY_PROG, WRONLY_PROG, NO_PREALLOC, 1 << 20):
        assert create_errno(spec(t, flags=bad)) == errno.EINVAL
    assert create_errno(spec(t, flags=NUMA)) == 0


def test_flag_masks_differ() -> None:
    for t in (T.DEVMAP, T.DEVMAP_HASH, T.XSKMAP):
        assert create_errno(spec(t, flags=RDONLY)) == 0
        assert create_errno(spec(t, flags=WRONLY)) == 0
    assert create_errno(spec(T.CPUMAP, flags=RDONLY)) == errno.EINVAL
    assert create_errno(spec(T.CPUMAP, flags=WRONLY)) == errno.EINVAL


def test_devmaps_are_read_only_to_programs() -> None:
    m = create_map(spec(T.DEVMAP), 1)
    assert m.map_flags & RDONLY_PROG and m.rdonly_prog
    assert struct.unpack_from("<I", m.handle.buf, 16)[0] == RDONLY_PROG
    assert m.spec.map_flags == 0


def test_max_entries_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_errno(spec(T.DEVMAP_HASH, n=(1 << 31) + 1)) == errno.EINVAL
    assert create_errno(spec(T.DEVMAP_HASH, n=1 << 31)) == errno.ENOMEM  # 16 GiB of buckets
    assert create_errno(spec(T.DEVMAP_HASH, n=(1 << 29) + 1)) == errno.ENOMEM
    assert create_errno(spec(T.DEVMAP_HASH, n=1 << 29)) == 0
    assert create_errno(spec(T.DEVMAP, n=(1 << 29) + 1)) == errno.ENOMEM
    assert create_errno(spec(T.XSKMAP, n=(1 << 32) - 1)) == errno.ENOMEM
    assert create_errno(spec(T.DEVMAP, n=(1 << 32) - 1, vs=5)) == errno.EINVAL  # checks first
    assert create_errno(spec(T.CPUMAP, n=devmap.NR_CPUS)) == 0
    assert create_errno(spec(T.CPUMAP, n=devmap.NR_CPUS + 1)) == errno.E2BIG
    assert create_errno(spec(T.CPUMAP, n=(1 << 32) - 1, vs=12)) == errno.EINVAL
    monkeypatch.setattr(devmap, "NR_CPUS", 256)
    assert create_errno(spec(T.CPUMAP, n=257)) == errno.E2BIG
    with pytest.raises(MapSpecError, match="NR_CPUS 8"):
        CpuMap(spec(T.CPUMAP, n=9), 1, nr_cpus=8)


def test_constructors_check_on_their_own() -> None:
    with pytest.raises(MapSpecError) as info:
        DevMap(spec(T.DEVMAP, vs=2), 1)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(MapSpecError):
        XskMap(spec(T.XSKMAP, flags=RDONLY | WRONLY), 1)


# --- devmap -------------------------------------------------------------------------------


def test_devmap_update_checks_in_kernel_order() -> None:
    m = DevMap(spec(T.DEVMAP, vs=8, n=4), 1)
    assert op_errno(m.update, 0, dev(1), 3) == errno.EINVAL
    assert op_errno(m.update, 9, dev(1), 3) == errno.EINVAL  # flags before the index
    assert op_errno(m.update, 4, dev(1), 0) == errno.E2BIG
    assert op_errno(m.update, 0, dev(1), 1) == errno.EEXIST  # slots always "exist"
    assert op_errno(m.update, 0, dev(0, 5), 0) == errno.EINVAL  # a program needs a device
    assert op_errno(m.update, 0, dev(2), 0) == errno.EINVAL  # no such device
    assert op_errno(m.update, 0, dev(1, 5), 0) == errno.EINVAL  # no program fds
    assert op_errno(m.update, 0, dev(1), 4) == errno.EINVAL  # BPF_F_LOCK
    assert m.lookup(0) is None
    m.update(0, dev(1, -1), 2)  # BPF_EXIST on an empty slot; fd -1 means "no program"
    assert m.lookup(0) == dev(1, 0)
    m.update(0, dev(0))  # ifindex 0 empties the slot
    assert m.lookup(0) is None


def test_devmap_value_arguments() -> None:
    m = DevMap(spec(T.DEVMAP, vs=4, n=2), 1)
    assert op_errno(m.update, 0, dev(1)) == errno.EINVAL  # 8 bytes for a 4-byte value
    assert op_errno(m.update, 0, 1) == errno.EINVAL  # not bytes
    m.update(1, bytearray(dev(1, size=4)))
    assert m.lookup(1) == dev(1, size=4)


def test_devmap_devices() -> None:
    m = DevMap(spec(T.DEVMAP, n=4), 1, devices=[1, 4])
    assert m.devices == frozenset({1, 4})
    m.update(0, dev(4, size=4))
    m.update(1, dev(1, size=4))
    assert op_errno(m.update, 2, dev(2, size=4)) == errno.EINVAL
    m.devices = frozenset({2})
    m.update(2, dev(2, size=4))
    assert [m.lookup(i) for i in range(4)] == [dev(4, size=4), dev(1, size=4), dev(2, size=4),
                                               None]  # fmt: skip


def test_devmap_delete_and_iteration() -> None:
    m = DevMap(spec(T.DEVMAP, n=3), 1)
    assert op_errno(m.delete, 3) == errno.EINVAL
    assert op_errno(m.delete, 0) == 0  # an empty slot
    m.update(1, dev(1, size=4))
    m.delete(1)
    assert m.lookup(1) is None
    assert list(m.keys()) == [struct.pack("<I", i) for i in range(3)]
    assert m.get_next_key(7) == struct.pack("<I", 0)
    assert m.get_next_key(2) is None
    assert op_errno(m.lookup_and_delete, 0) == ENOTSUPP


def test_devmap_syscall_permissions() -> None:
    ro = DevMap(spec(T.DEVMAP, flags=RDONLY), 1)
    assert op_errno(ro.update, 0, dev(1, size=4)) == errno.EPERM
    assert op_errno(ro.delete, 0) == errno.EPERM
    wo = DevMap(spec(T.DEVMAP, flags=WRONLY), 1)
    wo.update(0, dev(1, size=4))
    assert op_errno(wo.lookup, 0) == errno.EPERM


def test_devmap_program_lookup() -> None:
    m = DevMap(spec(T.DEVMAP, vs=8, n=2), 1)
    key0 = struct.pack("<I", 0)
    assert m.prog_lookup(key0) == 0
    m.update(0, dev(1))
    addr = m.prog_lookup(key0)
    region = next(r for r in m.regions() if r.addr == addr)
    assert not region.writable and region.read() == dev(1)
    assert m.prog_lookup(struct.pack("<I", 5)) == 0
    assert m.prog_update(key0, dev(1)) == -errno.EINVAL
    assert m.prog_delete(key0) == -errno.EINVAL
    m.update(0, dev(1))  # a new entry, as the kernel allocates one per update
    assert m.prog_lookup(key0) != 0 and len(m.regions()) == 3


# --- devmap_hash ----------------------------------------------------------------------------


def test_devmap_hash_update_paths() -> None:
    m = DevMapHash(spec(T.DEVMAP_HASH, vs=8, n=2), 1)
    assert op_errno(m.update, 0, dev(0), 0) == errno.EINVAL  # ifindex 0
    assert op_errno(m.update, 0, dev(1), 3) == errno.EINVAL
    assert op_errno(m.update, 0, dev(3), 0) == errno.EINVAL  # no such device
    assert op_errno(m.update, 0, dev(1, 7), 0) == errno.EINVAL  # no program fds
    m.update(1000, dev(1), 2)  # BPF_EXIST on an absent key inserts
    assert op_errno(m.update, 1000, dev(1), 1) == errno.EEXIST
    m.update(0xFFFFFFFF, dev(1, -1), 1)
    assert op_errno(m.update, 5, dev(1), 0) == errno.E2BIG  # full
    assert op_errno(m.update, 5, dev(0), 0) == errno.EINVAL  # EINVAL before E2BIG
    m.update(1000, dev(1))  # replacing needs no room
    assert m.lookup(1000) == dev(1) and m.lookup(5) is None
    assert op_errno(m.delete, 5) == errno.ENOENT
    m.delete(1000)
    m.update(5, dev(1))
    assert len(m) == 2


def test_devmap_hash_walk_order() -> None:
    m = DevMapHash(spec(T.DEVMAP_HASH, n=4), 1)  # 4 buckets
    assert m.n_buckets == 4 and m.get_next_key(None) is None
    for key in (5, 0, 4, 1):
        m.update(key, dev(1, size=4))
    # bucket 0: 4, 0 (newest first); bucket 1: 1, 5
    assert [struct.unpack("<I", k)[0] for k in m] == [4, 0, 1, 5]
    m.update(0, dev(1, size=4))  # an update moves the key to the head of its bucket
    assert [struct.unpack("<I", k)[0] for k in m] == [0, 4, 1, 5]
    assert m.get_next_key(77) == struct.pack("<I", 0)  # absent: the first key
    assert m.get_next_key(4) == struct.pack("<I", 1)  # end of a bucket: the next bucket
    assert m.get_next_key(5) is None
    m.delete(5)
    assert m.get_next_key(1) is None
    m.delete(1)
    assert m.get_next_key(4) is None


def test_devmap_broadcast_targets() -> None:
    m = DevMapHash(spec(T.DEVMAP_HASH, n=4), 1, devices=(1, 3, 4))
    for key, ifindex in ((6, 3), (1, 1), (4, 4)):
        m.update(key, dev(ifindex, size=4))
    assert m.broadcast_targets() == (4, 1, 3)
    assert m.broadcast_targets([1]) == (4, 3)
    a = DevMap(spec(T.DEVMAP, n=4), 1, devices=(1, 3))
    a.update(3, dev(1, size=4))
    a.update(0, dev(3, size=4))
    assert a.broadcast_targets() == (3, 1)


# --- cpumap and xskmap --------------------------------------------------------------------


def test_cpumap_update_paths() -> None:
    m = CpuMap(spec(T.CPUMAP, vs=8, n=4), 2)
    assert op_errno(m.update, 0, dev(16), 3) == errno.EINVAL
    assert op_errno(m.update, 4, dev(16), 0) == errno.E2BIG
    assert op_errno(m.update, 0, dev(16), 1) == errno.EEXIST
    assert op_errno(m.update, 0, dev(16385), 0) == errno.EOVERFLOW
    assert op_errno(m.update, 2, dev(16), 0) == errno.ENODEV  # only 2 possible CPUs
    assert op_errno(m.update, 2, dev(0), 0) == errno.ENODEV
    assert op_errno(m.update, 0, dev(16, 3), 0) == errno.ENOMEM  # no program fds
    m.update(1, dev(16384, -1), 2)
    assert m.lookup(1) == dev(16384) and m.lookup(0) is None
    assert m.redirect_lookup(1) == 1 and m.redirect_lookup(0) is None
    assert m.prog_lookup(struct.pack("<I", 1)) == 0
    m.update(1, dev(0, 3))  # qsize 0 empties the slot, whatever the fd
    assert m.lookup(1) is None
    assert op_errno(m.delete, 4) == errno.EINVAL and op_errno(m.delete, 1) == 0
    assert len(list(m.keys())) == 4


def test_xskmap_paths() -> None:
    m = XskMap(spec(T.XSKMAP, n=2), 1)
    fd = struct.pack("<i", 3)
    assert op_errno(m.update, 0, fd, 3) == errno.EINVAL
    assert op_errno(m.update, 2, fd, 0) == errno.E2BIG
    assert op_errno(m.update, 0, fd, 1) == errno.EBADF
    assert op_errno(m.update, 0, fd, 0) == errno.EBADF
    assert op_errno(m.lookup, 0) == errno.EOPNOTSUPP
    assert op_errno(m.lookup, 9) == errno.EOPNOTSUPP
    assert op_errno(m.delete, 2) == errno.EINVAL and op_errno(m.delete, 0) == 0
    assert m.get_next_key(None) == struct.pack("<I", 0)
    assert m.prog_lookup(struct.pack("<I", 0)) == 0 and m.redirect_lookup(0) is None


# --- bpf_redirect_map -----------------------------------------------------------------------

REDIRECT_MAP = ALL_HELPERS["bpf_redirect_map"]
M64 = (1 << 64) - 1


def xdp_packet(ingress: int = 1) -> XdpPacket:
    return XdpPacket(bytes(64), 0, [], ingress, 0)


def call(m: BpfMap, packet: object, key: int, flags: int) -> int:
    hc = HelperCall(AddressSpace(), packet=packet, maps={m.handle.addr: m})
    return REDIRECT_MAP(hc, m.handle.addr, key & M64, flags & M64, 0, 0)


@pytest.fixture
def devs() -> DevMap:
    m = DevMap(spec(T.DEVMAP, n=8), 1, devices=(1, 3))
    m.update(2, dev(3, size=4))
    m.update(5, dev(1, size=4))
    return m


def test_redirect_map_registered() -> None:
    assert 51 in default_registry()


def test_redirect_map_hit(devs: DevMap) -> None:
    pkt = xdp_packet()
    assert call(devs, pkt, 2, 0) == XDP_REDIRECT
    assert pkt.redirect == MapRedirect(3, 0, int(T.DEVMAP), "m", 2)
    assert call(devs, pkt, 5 | 1 << 32, EXCLUDE_INGRESS | XDP_PASS) == XDP_REDIRECT
    assert pkt.redirect == MapRedirect(1, 0, int(T.DEVMAP), "m", 5 | 1 << 32)


def test_redirect_map_miss(devs: DevMap) -> None:
    pkt = xdp_packet()
    for action in (XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX):
        assert call(devs, pkt, 3, action) == action
        assert pkt.redirect is None
    assert call(devs, pkt, 2, 0) == XDP_REDIRECT
    assert call(devs, pkt, 1 << 32, XDP_PASS) == XDP_PASS  # truncated to key 0: absent
    assert pkt.redirect == Redirect(2, 0)  # the kernel keeps the last target index
    pkt.redirect = Redirect(7, 0)  # as bpf_redirect(7, 0) records it
    assert call(devs, pkt, 3, XDP_DROP) == XDP_DROP
    assert pkt.redirect == Redirect(7, 0)


def test_redirect_map_invalid_flags(devs: DevMap) -> None:
    pkt = xdp_packet()
    for flags in (4, 1 << 5, 1 << 63, BROADCAST | 4):
        assert call(devs, pkt, 2, flags) == XDP_ABORTED
        assert pkt.redirect is None
    cpus = CpuMap(spec(T.CPUMAP, n=2), 1)
    cpus.update(0, struct.pack("<I", 8))
    for flags in (BROADCAST, EXCLUDE_INGRESS):  # not cpumap flags
        assert call(cpus, pkt, 0, flags) == XDP_ABORTED
    assert call(cpus, pkt, 0, XDP_TX) == XDP_REDIRECT
    assert pkt.redirect == MapRedirect(0, 0, int(T.CPUMAP), "m", 0)
    assert call(cpus, pkt, 1, XDP_TX) == XDP_TX


def test_redirect_map_broadcast(devs: DevMap) -> None:
    pkt = xdp_packet(ingress=3)
    assert call(devs, pkt, 6, BROADCAST | XDP_DROP) == XDP_REDIRECT  # the key does not matter
    assert pkt.redirect == MapRedirect(0, BROADCAST | 1, int(T.DEVMAP), "m", 6, (3, 1))
    flags = BROADCAST | EXCLUDE_INGRESS
    assert call(devs, pkt, 2, flags) == XDP_REDIRECT
    assert pkt.redirect == MapRedirect(3, flags, int(T.DEVMAP), "m", 2, (1,))


def test_redirect_map_xskmap_is_empty() -> None:
    m = XskMap(spec(T.XSKMAP, n=2), 1)
    pkt = xdp_packet()
    assert call(m, pkt, 0, XDP_PASS) == XDP_PASS
    assert call(m, pkt, 0, BROADCAST) == XDP_ABORTED


def test_redirect_map_contexts(devs: DevMap) -> None:
    with pytest.raises(VmFault, match="only available to XDP"):
        call(devs, SkbPacket(bytes(60), l2=True), 2, 0)  # tc has no bpf_redirect_map
    with pytest.raises(VmFault, match="only available to XDP"):
        call(devs, None, 2, 0)
    array = create_map(MapSpec("a", T.ARRAY, 4, 4, 1), 1)
    with pytest.raises(VmFault, match="can't do this"):
        call(array, xdp_packet(), 0, 0)


def test_redirect_map_program() -> None:
    """End to end: a program's map pointer, key and flags, the test run's data_out."""
    m = DevMapHash(spec(T.DEVMAP_HASH, n=4), 1)
    m.update(9, dev(1, size=4))
    src = """r6 = r1
ld_pseudo r1, 1, 0
r2 = 9
r3 = 2
call bpf_redirect_map
r7 = r0
ld_pseudo r1, 1, 0
r2 = 8
r3 = 2
call bpf_redirect_map
r0 <<= 8
r0 |= r7
exit"""
    vm = Interpreter(assemble(src), maps=[m])
    with build_packet_context(ProgType.XDP, bytes(range(20))) as pc:
        vm.call.packet = pc.packet_state
        result = vm.run(pc.args, pc.regions, packet=pc.packet)
        assert result.retval == XDP_PASS << 8 | XDP_REDIRECT
        assert pc.packet_state.redirect == Redirect(9, 0)
        assert pc.data_out() == bytes(range(20))
