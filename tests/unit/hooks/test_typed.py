"""Typed map views (bpfvm.hooks.typed) on the example objects: values set typed, the program
run with LoadedObject.test_run, results read back typed and checked against the bytes the
kernel gave in examples/cases.json."""

from __future__ import annotations

import errno
from typing import Any

import pytest

from bpfvm.btf import BtfValueError
from bpfvm.cli.test_run import apply_map_set
from bpfvm.hooks import TypedMap, TypedMapError
from bpfvm.hooks.test_run import LoadedObject, load
from bpfvm.program.uapi import MapType
from bpfvm.runtime.maps import BPF_NOEXIST, MapError
from tests.corpus.example_cases import EXAMPLES, PINNED_NCPUS, case_bytes, load_cases

CASES = {c["name"]: c for c in load_cases()}
KEYLESS = (MapType.QUEUE, MapType.STACK, MapType.RINGBUF)


def example(name: str) -> LoadedObject:
    return load(str(EXAMPLES / "c" / f"{name}.bpf.o"), ncpus=PINNED_NCPUS)


def packet(name: str) -> bytes:
    return (EXAMPLES / "packets" / f"{name}.bin").read_bytes()


def expected(case: str, map_name: str) -> dict[str, Any]:
    maps: dict[str, dict[str, Any]] = CASES[case]["expect"]["maps"]
    return maps[map_name]


def as_bytes(t: TypedMap) -> dict[str, Any]:
    """The typed view encoded back, in the cases' dump format: {KEYHEX: VALUEHEX or list}."""
    out: dict[str, Any] = {}
    for key, value in t.items():
        raw = t.encode_value(value)
        hex_key = (t.encode_key(key) or b"").hex()
        out[hex_key] = [v.hex() for v in raw] if isinstance(raw, list) else raw.hex()
    return out


def be32(text: str) -> int:
    """A ``__be32`` key as the typed view gives it: its bytes read little-endian."""
    return int.from_bytes(bytes.fromhex(text), "little")


# -- spin_lock: a hash of struct values holding a bpf_spin_lock -----------------------------


def test_spin_lock_value_set_typed_and_updated_under_the_lock() -> None:
    case = CASES["spin_lock_existing_repeat"]
    obj = example("spin_lock")
    stats = obj.typed("src_stats")
    src = be32("c0a80114")  # 192.168.1.20
    stats[src] = {"max_len": 60, "packets": 2, "bytes": 120}  # the lock stays zero
    _, raw_value = case["map_set"][0].split("=")
    assert obj.map("src_stats")[bytes.fromhex("c0a80114")] == bytes.fromhex(raw_value)

    res = obj.test_run("tc_src_stats", packet("ipv4_tcp_http"), repeat=4)
    assert res.retval == case["expect"]["retval"]
    assert stats[src] == {"lock": {"val": 0}, "max_len": 72, "packets": 6, "bytes": 408}
    assert as_bytes(stats) == expected("spin_lock_existing_repeat", "src_stats")
    assert list(stats) == [src] and len(stats) == 1 and src in stats


def test_spin_lock_new_source_inserted_by_the_program() -> None:
    obj = example("spin_lock")
    stats = obj.typed("src_stats")
    assert list(stats.items()) == []
    obj.test_run("tc_src_stats", packet("ipv4_tcp"))
    assert list(stats.items()) == [
        (be32("0a000001"), {"lock": {"val": 0}, "max_len": 54, "packets": 1, "bytes": 54})
    ]
    assert as_bytes(stats) == expected("spin_lock_new_source", "src_stats")


def test_spin_lock_errors_name_the_path() -> None:
    stats = example("spin_lock").typed("src_stats")
    with pytest.raises(BtfValueError, match=r"^value\.max_len: -1 does not fit u32$"):
        stats[1] = {"max_len": -1}
    with pytest.raises(BtfValueError, match=r"^value\.lock: struct bpf_spin_lock has no member"):
        stats[1] = {"lock": {"owner": 1}}
    with pytest.raises(BtfValueError, match=r"^key: 4294967296 does not fit u32$"):
        stats[1 << 32] = {}
    with pytest.raises(BtfValueError, match=r"^key: expected an int for u32, got bytes$"):
        stats.lookup(b"\x0a\0\0\x01")
    with pytest.raises(KeyError):
        stats[7]
    with pytest.raises(KeyError):
        del stats[7]
    stats.update(7, {}, BPF_NOEXIST)
    with pytest.raises(MapError) as info:
        stats.update(7, {}, BPF_NOEXIST)
    assert info.value.errno == errno.EEXIST
    assert stats.get(8, "none") == "none"
    del stats[7]
    assert 7 not in stats


# -- proto_counters: a per-CPU array of structs -----------------------------------------------


def test_proto_counters_per_cpu_values() -> None:
    case = CASES["proto_counters_preset"]
    obj = example("proto_counters")
    counters = obj.typed("proto_stats")
    counters[6] = {"packets": 10, "bytes": 1000}  # one value: every CPU
    _, raw_value = case["map_set"][0].split("=")
    assert obj.map("proto_stats")[6] == [bytes.fromhex(raw_value)] * PINNED_NCPUS

    res = obj.test_run("xdp_proto_counters", packet("ipv4_tcp"))
    assert res.retval == case["expect"]["retval"]
    assert counters[6] == [{"packets": 11, "bytes": 1054}, {"packets": 10, "bytes": 1000}]
    assert as_bytes(counters) == expected("proto_counters_preset", "proto_stats")
    assert len(counters) == 256 and list(counters)[:3] == [0, 1, 2]


def test_proto_counters_one_value_per_cpu() -> None:
    obj = example("proto_counters")
    counters = obj.typed("proto_stats")
    counters[17] = [{"packets": 1}, {"bytes": 2}]
    assert counters[17] == [{"packets": 1, "bytes": 0}, {"packets": 0, "bytes": 2}]
    obj.test_run("xdp_proto_counters", packet("ipv4_udp"), cpu=1)
    assert counters[17] == [{"packets": 1, "bytes": 0}, {"packets": 1, "bytes": 60}]
    with pytest.raises(BtfValueError, match=r"^value: 1 values for 2 CPUs$"):
        counters[17] = [{"packets": 1}]
    with pytest.raises(BtfValueError, match=r"^value\[cpu 1\]\.bytes: -1 does not fit u64$"):
        counters[17] = [{}, {"bytes": -1}]


# -- lpm_route: struct keys --------------------------------------------------------------------

ROUTES = [
    ({"prefixlen": 0, "addr": [0, 0, 0, 0]}, {"action": 2}),
    ({"prefixlen": 24, "addr": [8, 8, 8, 0]},
     {"action": 1, "src_mac": b"\x02\xaa\0\0\0\x01", "dst_mac": b"\x02\xcc\0\0\0\x03"}),
    ({"prefixlen": 32, "addr": b"\x08\x08\x08\x08"},
     {"action": 1, "src_mac": [2, 0xAA, 0, 0, 0, 1], "dst_mac": [2, 0xDD, 0, 0, 0, 4]}),
]  # fmt: skip


def test_lpm_routes_with_struct_keys() -> None:
    obj = example("lpm_route")
    routes = obj.typed("routes")
    for key, value in ROUTES:
        routes[key] = value
    assert {f"{k}={v}" for k, v in (t.split(":")[1].split("=") for t in
            CASES["route_longest_prefix"]["map_set"])} == {
        f"{routes.encode_key(k).hex()}={routes.encode_value(v).hex()}"  # type: ignore[union-attr]
        for k, v in ROUTES
    }  # fmt: skip
    res = obj.test_run("xdp_router", packet("ipv4_dns"))
    case = CASES["route_longest_prefix"]["expect"]
    assert (res.retval, res.data_out.hex()) == (case["retval"], case["data_out"])
    assert as_bytes(routes) == expected("route_longest_prefix", "routes")
    assert {"prefixlen": 32, "addr": [8, 8, 8, 8]} in routes
    assert routes[{"prefixlen": 24, "addr": [8, 8, 8, 0]}] == {
        "action": 1, "src_mac": [2, 0xAA, 0, 0, 0, 1], "dst_mac": [2, 0xCC, 0, 0, 0, 3]
    }  # fmt: skip
    assert sorted(k["prefixlen"] for k in routes) == [0, 24, 32]  # type: ignore[index]

    del routes[{"prefixlen": 32, "addr": [8, 8, 8, 8]}]  # the /24 now wins
    res = obj.test_run("xdp_router", packet("ipv4_dns"))
    assert res.data_out.hex() == CASES["route_prefix_24"]["expect"]["data_out"]
    with pytest.raises(BtfValueError, match=r"^key\.addr: 5 elements do not fit __u8\[4\]$"):
        routes.lookup({"prefixlen": 8, "addr": [1, 2, 3, 4, 5]})


# -- global data: DATASECs placed from the ELF symbols -------------------------------------


def test_global_config_defaults() -> None:
    obj = example("global_config")
    assert obj.typed(".rodata")[0] == {
        "cfg_block_proto": 1, "cfg_max_len": 1514, "cfg_count_bytes": True, "cfg_debug": False,
        "record_verdict.____fmt": b"global_config: %s\0",
    }  # fmt: skip
    assert obj.typed(".data")[0] == {"blocked_port": 23, "config_generation": 1}
    res = obj.test_run("xdp_global_config", packet("ipv4_tcp"))
    assert res.retval == CASES["global_config_defaults"]["expect"]["retval"]
    bss = obj.typed(".bss")
    assert bss[0] == {
        "total_packets": 1, "total_bytes": 54, "dropped_len": 0, "dropped_proto": 0,
        "dropped_port": 0, "last_verdict": b"pass\0\0\0\0",
    }  # fmt: skip
    for name in (".bss", ".data", ".rodata"):
        assert as_bytes(obj.typed(name)) == expected("global_config_defaults", name), name


def test_global_config_data_knob() -> None:
    obj = example("global_config")
    data = obj.typed(".data")
    data[0] = {"blocked_port": 80, "config_generation": 2}
    case = CASES["global_config_port_knob"]
    assert case["map_set"] == [f".data:00000000={obj.map('.data')[0].hex()}"]  # type: ignore[union-attr]
    res = obj.test_run("xdp_global_config", packet("ipv4_tcp"))
    assert res.retval == case["expect"]["retval"] == 1  # XDP_DROP
    assert obj.typed(".bss")[0]["last_verdict"] == b"drop-por"  # type: ignore[index]
    assert as_bytes(obj.typed(".bss")) == expected("global_config_port_knob", ".bss")


@pytest.mark.parametrize(
    ("setting", "verdict", "counter"),
    [
        ({"cfg_block_proto": 6}, b"drop-pro", "dropped_proto"),  # TCP blocked
        ({"cfg_max_len": 40}, b"drop-len", "dropped_len"),
    ],
)
def test_global_config_rodata_before_the_run(
    setting: dict[str, int], verdict: bytes, counter: str
) -> None:
    """.rodata set typed, as a skeleton sets ``skel->rodata`` between open and load."""
    obj = example("global_config")
    rodata = obj.typed(".rodata")
    value = rodata[0]
    assert isinstance(value, dict)
    rodata[0] = value | setting  # read-modify-write: a partial dict would zero the rest
    assert obj.test_run("xdp_global_config", packet("ipv4_tcp")).retval == 1
    bss = obj.typed(".bss")[0]
    assert isinstance(bss, dict)
    assert (bss["last_verdict"], bss[counter], bss["total_packets"]) == (verdict, 1, 1)


def test_queue_stack_bss_order_comes_from_the_symbols() -> None:
    case = CASES["queue_stack_ids"]
    obj = example("queue_stack")
    recent, free = obj.typed("recent_src"), obj.typed("free_ids")
    for text in case["map_set"]:
        name, _, value = text.partition(":=")
        typed = recent if name == "recent_src" else free
        typed.update(None, typed.value_codec.decode(bytes.fromhex(value)))
    assert free.lookup(None) == 300  # peek
    obj.test_run("xdp_queue_stack", packet("ipv4_tcp"))
    bss = obj.typed(".bss")
    assert bss[0] == {"out_of_ids": 0, "last_id": 300, "next_id": 200}  # not declaration order
    assert as_bytes(bss) == expected("queue_stack_ids", ".bss")
    with pytest.raises(BtfValueError, match=r"^key: map recent_src has no keys$"):
        recent.lookup(0)


# -- maps that cannot be typed -------------------------------------------------------------------


def test_maps_without_btf_types() -> None:
    with pytest.raises(TypedMapError, match=r"no DATASEC '\.rodata\.str1\.1'"):
        example("global_config").typed(".rodata.str1.1")
    with pytest.raises(TypedMapError, match="map ports_by_proto: no BTF type for its value"):
        example("map_in_map").typed("ports_by_proto")
    with pytest.raises(TypedMapError, match="map events: no BTF type for its value"):
        example("ringbuf_events").typed("events")
    obj = example("spin_lock")
    btf = obj.object.btf
    assert btf is not None
    u64 = btf.find("__u64")
    assert u64 is not None
    with pytest.raises(TypedMapError, match="value type __u64 is 8 bytes, value_size is 24"):
        TypedMap(obj.map("src_stats"), btf, 0, u64)
    with pytest.raises(TypedMapError, match="key type __u64 is 8 bytes, key_size is 4"):
        TypedMap(obj.map("src_stats"), btf, u64, 12)


# -- every case: the typed view of the dumped maps, encoded back, is the kernel's bytes -----


def _typed_cases() -> list[dict[str, Any]]:
    return [c for c in CASES.values() if c["map_dump"]]


@pytest.mark.parametrize("case", _typed_cases(), ids=lambda c: c["name"])
def test_typed_dump_matches_the_kernel(case: dict[str, Any]) -> None:
    path = EXAMPLES / case["object"]
    obj = load(str(path), ncpus=PINNED_NCPUS)
    for text in case["map_set"]:
        apply_map_set(obj, text)
    obj.test_run(case["program"], case_bytes(case["data"]) or b"", case_bytes(case["ctx"]),
                 repeat=case["repeat"])  # fmt: skip
    checked = 0
    for name in case["map_dump"]:
        if obj.map(name).spec.type in KEYLESS:
            continue
        try:
            typed = obj.typed(name)
        except TypedMapError:
            assert name == ".rodata.str1.1"  # the only dumped map without BTF types
            continue
        assert as_bytes(typed) == case["expect"]["maps"][name], name
        checked += 1
    assert checked
