"""Differential tests: bpfvm's platform tables against the running kernel's verifier.

* helper availability and gpl_only: every helper id 1..211 is called as ``call N; r0 = 0; exit``
  from each program type (and some attach types); ``program of this type cannot use helper`` /
  ``unknown func`` means unavailable, anything else available; with license "MIT",
  ``cannot call GPL-restricted function`` marks gpl_only. The same loads check ``might_sleep``
  (``helper call might sleep in a non-sleepable prog``) and ``fn->allowed``
  (``helper call is not allowed in probe``);
* the same without CAP_PERFMON/CAP_SYS_ADMIN (in a child process), for the capability tiers;
* context accesses: every offset in [0, ctx size + 8) x sizes 1/2/4/8, as a load, a
  ``BPF_STX`` store of a scalar and a ``BPF_ST`` store of an immediate (the kernel treats both
  stores alike since 6.4), against ``check_ctx_access``; the register type of each
  accepted load is read from the log_level 2 state (``R0=pkt(r=0)``);
* helper argument types: with valid values in the other argument registers, probing one
  argument at a time with a non-zero scalar (the ``R%d type=scalar expected=...`` list names the
  base type), NULL (``PTR_MAYBE_NULL``), 0 and -1 for size arguments (``ARG_CONST_SIZE`` vs
  ``_OR_ZERO`` vs ``ARG_ANYTHING``), a read-only map value (``MEM_WRITE``), a packet pointer
  (``pkt_access``) and, without CAP_PERFMON, uninitialised stack (``MEM_UNINIT``);
* map type / helper compatibility (``cannot pass map_type %d into func %s#%d``);
* return-value ranges, expected attach types, LD_ABS and direct packet access.

The kernel under test must be Linux 6.18 with its configuration in /proc/config.gz (lockdown
and config options change which helpers exist). Tracing programs are loaded as ``tp_btf`` and
``iter`` (fentry/fexit/LSM loads are refused on the reference machine).
"""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from bpfvm.isa.codec import encode
from bpfvm.isa.helper_ids import HELPER_NAMES
from bpfvm.isa.insn import Insn, ld_imm64
from bpfvm.kernel import LoadResult, map_create, prog_load
from bpfvm.platform import (
    PROG_TYPES,
    Cap,
    HelperProto,
    KernelConfig,
    PacketAccess,
    ProgEnv,
    check_ctx_access,
    func_proto,
    map_func_compatible,
)
from bpfvm.platform.arg_types import ArgBase, RegType, TypeFlag
from bpfvm.platform.prog_types import helper_allowed
from bpfvm.program.uapi import AttachType as At
from bpfvm.program.uapi import MapType as Mt
from bpfvm.program.uapi import ProgType as Pt

HELPER_IDS = range(1, 212)
SLEEPABLE = 1 << 4  # BPF_F_SLEEPABLE
MOV_K, MOV_X, ADD_K, STX_DW, EXIT, CALL, JGT_X = 0xB7, 0xBF, 0x07, 0x7B, 0x95, 0x85, 0x2D
LDX, STX, ST = 0x61, 0x63, 0x62
SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}

# --- loading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One program to load: type, expected attach type, BTF target, sleepable."""

    name: str
    prog_type: Pt
    attach: int = 0
    btf_target: str = ""  # a BTF FUNC (or TYPEDEF, for tp_btf) name
    sleepable: bool = False

    def env(self, kconfig: KernelConfig, caps: Cap = Cap.ALL) -> ProgEnv:
        target = "" if self.btf_target.startswith("btf_trace_") else self.btf_target
        return ProgEnv(self.attach, self.sleepable, target, caps, kconfig)


@cache
def _btf_ids() -> dict[str, int]:
    """Names of the FUNC and TYPEDEF types in the kernel's BTF."""
    trailer = {1: 4, 3: 12, 14: 4, 17: 4}
    per_member = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
    try:
        data = Path("/sys/kernel/btf/vmlinux").read_bytes()
    except OSError:
        pytest.skip("needs the kernel's BTF (/sys/kernel/btf/vmlinux)")
    _, _, _, hdr, toff, tlen, soff, _ = struct.unpack_from("<HBBIIIII", data, 0)
    types, strings = hdr + toff, hdr + soff
    ids: dict[str, int] = {}
    pos, tid = types, 1
    while pos < types + tlen:
        name_off, info, _ = struct.unpack_from("<III", data, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind in (8, 12):
            end = data.index(b"\0", strings + name_off)
            ids[data[strings + name_off : end].decode()] = tid
        pos += 12 + trailer.get(kind, 0) + per_member.get(kind, 0) * vlen
        tid += 1
    return ids


def _load_with_btf(insns: bytes, cfg: Config, license: str, log_level: int) -> LoadResult:
    """BPF_PROG_LOAD with ``attach_btf_id`` (which ``prog_load`` does not take)."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(1 << 16)
    attr = ctypes.create_string_buffer(168)
    addr = ctypes.addressof
    struct.pack_into("<IIQQ", attr, 0, cfg.prog_type, len(insns) // 8, addr(code), addr(lic))
    struct.pack_into("<IIQ", attr, 24, log_level, len(log), addr(log))
    struct.pack_into("<I", attr, 44, SLEEPABLE if cfg.sleepable else 0)
    struct.pack_into("<I", attr, 68, cfg.attach)
    struct.pack_into("<I", attr, 108, _btf_ids()[cfg.btf_target])
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(321, 5, ctypes.c_void_p(addr(attr)), 168)
    err = ctypes.get_errno() if fd < 0 else 0
    if fd >= 0:
        os.close(fd)
    return LoadResult(fd >= 0, err, log.value.decode("utf-8", "replace"))


def load(insns: list[Insn], cfg: Config, license: str = "GPL", log_level: int = 1) -> LoadResult:
    code = encode(insns)
    if cfg.btf_target:
        return _load_with_btf(code, cfg, license, log_level)
    flags = SLEEPABLE if cfg.sleepable else 0
    prog, result = prog_load(
        code, cfg.prog_type, license=license, log_level=log_level, log_size=1 << 16,
        expected_attach_type=cfg.attach, prog_flags=flags,
    )  # fmt: skip
    if prog is not None:
        prog.close()
    return result


def error(insns: list[Insn], cfg: Config, license: str = "GPL") -> str | None:
    """The verifier's error line, None when the program loads."""
    return load(insns, cfg, license).error_line


@cache
def kconfig() -> KernelConfig:
    try:
        with gzip.open("/proc/config.gz") as f:
            text = f.read().decode()
    except OSError:
        pytest.skip("needs /proc/config.gz to know the kernel's configuration")
    return KernelConfig.from_kconfig(text)


# --- (a), (b): helper availability, gpl_only, might_sleep, allowed ------------------------------

CONFIGS = [
    Config("socket_filter", Pt.SOCKET_FILTER),
    Config("sched_cls", Pt.SCHED_CLS),
    Config("sched_act", Pt.SCHED_ACT),
    Config("xdp", Pt.XDP),
    Config("cgroup_skb", Pt.CGROUP_SKB),
    Config("raw_tracepoint", Pt.RAW_TRACEPOINT),
    Config("kprobe", Pt.KPROBE),
    Config("tracepoint", Pt.TRACEPOINT),
    Config("perf_event", Pt.PERF_EVENT),
    Config("syscall", Pt.SYSCALL, sleepable=True),
    Config("xdp_devmap", Pt.XDP, At.XDP_DEVMAP),
    Config("cgroup_skb_egress", Pt.CGROUP_SKB, At.CGROUP_INET_EGRESS),
    Config("kprobe_multi", Pt.KPROBE, At.TRACE_KPROBE_MULTI),
    Config("uprobe_session", Pt.KPROBE, At.TRACE_UPROBE_SESSION),
    Config("uprobe_sleepable", Pt.KPROBE, sleepable=True),
    Config("tp_btf", Pt.TRACING, At.TRACE_RAW_TP, "btf_trace_sched_switch"),
    Config("iter_task", Pt.TRACING, At.TRACE_ITER, "bpf_iter_task", sleepable=True),
    Config("iter_tcp", Pt.TRACING, At.TRACE_ITER, "bpf_iter_tcp"),
    Config("lwt_xmit", Pt.LWT_XMIT),
    Config("lwt_seg6local", Pt.LWT_SEG6LOCAL),
    Config("sock_ops", Pt.SOCK_OPS),
    Config("sk_skb", Pt.SK_SKB),
    Config("sk_msg", Pt.SK_MSG),
    Config("flow_dissector", Pt.FLOW_DISSECTOR),
    Config("cgroup_sock", Pt.CGROUP_SOCK),
    Config("sock_addr_connect4", Pt.CGROUP_SOCK_ADDR, At.CGROUP_INET4_CONNECT),
    Config("sock_addr_recvmsg6", Pt.CGROUP_SOCK_ADDR, At.CGROUP_UDP6_RECVMSG),
    Config("sk_reuseport", Pt.SK_REUSEPORT),
    Config("sk_lookup", Pt.SK_LOOKUP, At.SK_LOOKUP),
]
NET_TYPES = ["socket_filter", "sched_cls", "xdp", "cgroup_skb"]

_UNAVAILABLE = ("program of this type cannot use helper", "unknown func")


def _call(n: int) -> list[Insn]:
    return [Insn(CALL, imm=n), Insn(MOV_K, 0), Insn(EXIT)]


def kernel_helpers(cfg: Config) -> dict[str, list[int]]:
    """What the kernel says about every helper id, sorted into classes."""
    found: dict[str, list[int]] = {"available": [], "gpl": [], "sleep": [], "not_allowed": []}
    for n in HELPER_IDS:
        err = error(_call(n), cfg) or ""
        if err.startswith(_UNAVAILABLE):
            continue
        found["available"].append(n)
        if err.startswith("helper call might sleep"):
            found["sleep"].append(n)
        if err.startswith("helper call is not allowed in probe"):
            found["not_allowed"].append(n)
        if (error(_call(n), cfg, "MIT") or "").startswith("cannot call GPL-restricted"):
            found["gpl"].append(n)
    return found


def model_helpers(cfg: Config, caps: Cap = Cap.ALL) -> dict[str, list[int]]:
    env = cfg.env(kconfig(), caps)
    protos = {n: func_proto(cfg.prog_type, n, env) for n in HELPER_IDS}
    have = {n: p for n, p in protos.items() if p is not None}
    return {
        "available": sorted(have),
        "gpl": sorted(n for n, p in have.items() if p.gpl_only),
        "sleep": sorted(n for n, p in have.items() if p.might_sleep and not cfg.sleepable),
        "not_allowed": sorted(
            n for n, p in have.items() if not helper_allowed(p, cfg.prog_type, env)
        ),
    }


def _diff(kernel: dict[str, list[int]], model: dict[str, list[int]]) -> list[str]:
    out = []
    for key in kernel:
        k, m = set(kernel[key]), set(model[key])
        if k != m:
            only_k = sorted(HELPER_NAMES[i] for i in k - m)
            only_m = sorted(HELPER_NAMES[i] for i in m - k)
            out.append(f"{key}: kernel only {only_k}, bpfvm only {only_m}")
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
def test_helper_availability(kernel: None, cfg: Config) -> None:
    assert _diff(kernel_helpers(cfg), model_helpers(cfg)) == []


# --- (c): context accesses ----------------------------------------------------------------------

CTX_CONFIGS = [
    *(c for c in CONFIGS if c.name in ("socket_filter", "sched_cls", "xdp", "cgroup_skb")),
    *(c for c in CONFIGS if c.name in ("raw_tracepoint", "kprobe", "xdp_devmap", "perf_event")),
    *(c for c in CONFIGS if c.name in ("sk_skb", "flow_dissector", "cgroup_sock", "sk_msg")),
    *(c for c in CONFIGS if c.name in ("sock_addr_connect4", "sk_reuseport", "sk_lookup")),
    Config("lwt_in", Pt.LWT_IN),
    Config("cgroup_sock_post_bind6", Pt.CGROUP_SOCK, At.CGROUP_INET6_POST_BIND),
    Config("sock_addr_sendmsg6", Pt.CGROUP_SOCK_ADDR, At.CGROUP_UDP6_SENDMSG),
    *(c for c in CONFIGS if c.name == "sock_ops"),
]
_REG_NAMES = {"SCALAR_VALUE": "scalar", "PTR_TO_PACKET": "pkt", "PTR_TO_PACKET_META": "pkt_meta",
              "PTR_TO_PACKET_END": "pkt_end", "PTR_TO_FLOW_KEYS": "flow_keys",
              "PTR_TO_SOCKET": "sock", "PTR_TO_SOCK_COMMON": "sock_common"}  # fmt: skip


def _reg_name(reg: RegType) -> str:
    """The kernel's ``reg_type_str`` spelling of a context field's register type."""
    null = "_or_null" if TypeFlag.PTR_MAYBE_NULL in reg.flags else ""
    return _REG_NAMES[reg.base.name] + null


def _ctx_prog(off: int, size: int, write: bool, imm: bool = False) -> list[Insn]:
    if write and imm:
        body = [Insn(ST | SIZE_BITS[size], 1, 0, off, 0)]
    elif write:
        body = [Insn(MOV_K, 2), Insn(STX | SIZE_BITS[size], 1, 2, off)]
    else:
        body = [Insn(LDX | SIZE_BITS[size], 0, 1, off)]
    return [*body, Insn(MOV_K, 0), Insn(EXIT)]


def _ctx_mismatches(cfg: Config) -> Iterator[str]:
    env = cfg.env(kconfig())
    size = PROG_TYPES[cfg.prog_type].ctx_size
    for off in range(size + 8):
        for width in (1, 2, 4, 8):
            for write, imm in ((False, False), (True, False), (True, True)):
                mine = check_ctx_access(cfg.prog_type, off, width, write, env)
                prog = _ctx_prog(off, width, write, imm)
                result = load(prog, cfg, log_level=2 if mine and not write else 1)
                err = result.error_line or ""
                what = f"{['load', 'stx', 'st'][write + imm]} off={off} size={width}"
                if not result.accepted and not err.startswith("invalid bpf_context access"):
                    yield f"{what}: unexpected error {err!r}"
                elif result.accepted != (mine is not None):
                    yield f"{what}: kernel {'accepts' if result.accepted else err!r}"
                elif mine is not None and not write:
                    m = re.search(r"^0: \(.*; R0=(\w+)\(", result.log, re.MULTILINE)
                    got = m.group(1) if m else None
                    if got != _reg_name(mine.reg_type):
                        yield f"{what}: kernel loads {got}, bpfvm {_reg_name(mine.reg_type)}"


@pytest.mark.parametrize("cfg", CTX_CONFIGS, ids=lambda c: c.name)
def test_ctx_access(kernel: None, cfg: Config) -> None:
    assert list(_ctx_mismatches(cfg)) == []


def test_atomic_stores_into_ctx_are_rejected(kernel: None) -> None:
    cfg = Config("sched_cls", Pt.SCHED_CLS)
    assert check_ctx_access(Pt.SCHED_CLS, 8, 4, True) is not None  # a plain store to mark is fine
    atomic_add = Insn(0xC3, 1, 2, 8, 0)  # lock *(u32 *)(r1 + 8) += w2
    err = error([Insn(MOV_K, 2), atomic_add, Insn(MOV_K, 0), Insn(EXIT)], cfg)
    assert err == "BPF_ATOMIC stores into R1 ctx is not allowed"


# --- (d): helper argument types -------------------------------------------------------------

_MEM = "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
EXPECTED_TYPES = {
    ArgBase.PTR_TO_MAP_KEY: _MEM, ArgBase.PTR_TO_MAP_VALUE: _MEM, ArgBase.PTR_TO_MEM: _MEM,
    ArgBase.CONST_MAP_PTR: "map_ptr", ArgBase.PTR_TO_CTX: "ctx",
    ArgBase.PTR_TO_SOCK_COMMON: "sock_common, sock, tcp_sock, xdp_sock",
    ArgBase.PTR_TO_BTF_ID_SOCK_COMMON: "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_",
    ArgBase.PTR_TO_SOCKET: "sock", ArgBase.PTR_TO_BTF_ID: "ptr_, trusted_ptr_, rcu_ptr_",
    ArgBase.PTR_TO_SPIN_LOCK: "map_value, ptr_", ArgBase.PTR_TO_RINGBUF_MEM: "ringbuf_mem",
    ArgBase.PTR_TO_PERCPU_BTF_ID: "percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_",
    ArgBase.PTR_TO_FUNC: "func", ArgBase.PTR_TO_STACK: "fp", ArgBase.PTR_TO_CONST_STR: "map_value",
    ArgBase.PTR_TO_TIMER: "map_value", ArgBase.KPTR_XCHG_DEST: "map_value, ptr_",
    ArgBase.PTR_TO_DYNPTR: "fp, dynptr_ptr",
}  # fmt: skip
_MEMLIKE = (ArgBase.PTR_TO_MAP_KEY, ArgBase.PTR_TO_MAP_VALUE, ArgBase.PTR_TO_MEM)
_SIZES = (ArgBase.CONST_SIZE, ArgBase.CONST_SIZE_OR_ZERO, ArgBase.CONST_ALLOC_SIZE_OR_ZERO)
_BUILDABLE = {*_MEMLIKE, *_SIZES, ArgBase.CONST_MAP_PTR, ArgBase.PTR_TO_CTX, ArgBase.ANYTHING,
              ArgBase.PTR_TO_STACK}  # fmt: skip
# map type -> (key size, value size, max entries) for maps created without BTF
_MAPS = {Mt.HASH: (8, 8, 4), Mt.PROG_ARRAY: (4, 4, 4), Mt.PERF_EVENT_ARRAY: (4, 4, 4),
         Mt.PERCPU_HASH: (8, 8, 4), Mt.PERCPU_ARRAY: (4, 8, 4), Mt.STACK_TRACE: (4, 64, 4),
         Mt.CGROUP_ARRAY: (4, 4, 4), Mt.LRU_PERCPU_HASH: (8, 8, 4), Mt.DEVMAP: (4, 4, 4),
         Mt.SOCKMAP: (4, 4, 4), Mt.CPUMAP: (4, 4, 4), Mt.XSKMAP: (4, 4, 4),
         Mt.SOCKHASH: (4, 4, 4), Mt.CGROUP_STORAGE: (8, 8, 0), Mt.QUEUE: (0, 8, 4),
         Mt.STACK: (0, 8, 4), Mt.DEVMAP_HASH: (4, 4, 4), Mt.RINGBUF: (0, 0, 4096),
         Mt.USER_RINGBUF: (0, 0, 4096), Mt.BLOOM_FILTER: (0, 8, 4),
         Mt.REUSEPORT_SOCKARRAY: (4, 4, 4)}  # fmt: skip
_PKT_FIELDS = {Pt.SCHED_CLS: (76, 80), Pt.XDP: (0, 4)}
BPF_F_RDONLY_PROG = 1 << 7


@cache
def _map_fd(map_type: Mt, flags: int = 0) -> int:
    if map_type is Mt.ARRAY:
        return map_create(map_type, 4, 64, 1, flags)
    key, value, entries = _MAPS[map_type]
    return map_create(map_type, key, value, entries)


def _map_for(p: HelperProto) -> Mt | None:
    allowed = p.allowed_map_types
    if allowed is None:
        return Mt.HASH
    return next((m for m in sorted(allowed) if m in _MAPS), None)


def _arg_value(p: HelperProto, argno: int, kind: str) -> list[Insn] | None:
    """Instructions loading r<argno> with a value of ``kind`` (None: cannot build one)."""
    stack = [Insn(MOV_X, argno, 10), Insn(ADD_K, argno, imm=-64)]
    probes = {
        "scalar": [Insn(MOV_K, argno, imm=1)],
        "null": [Insn(MOV_K, argno)],
        "negative": [Insn(MOV_K, argno, imm=-1)],
        "uninit": [Insn(MOV_X, argno, 10), Insn(ADD_K, argno, imm=-256)],
        "rdonly": [ld_imm64(argno, _map_fd(Mt.ARRAY, BPF_F_RDONLY_PROG), src=2)],
        "pkt": [Insn(MOV_X, argno, 7)],
    }
    if kind in probes:
        return probes[kind]
    arg = p.arg(argno)
    if arg.base is ArgBase.CONST_MAP_PTR:
        map_type = _map_for(p)
        return None if map_type is None else [ld_imm64(argno, _map_fd(map_type), src=1)]
    if arg.base is ArgBase.PTR_TO_STACK:
        return probes["null"] if arg.may_be_null else stack
    if arg.base in _MEMLIKE:
        return stack
    if arg.base in _SIZES:
        return [Insn(MOV_K, argno, imm=8)]
    if arg.base is ArgBase.PTR_TO_CTX:
        return [Insn(MOV_X, argno, 6)]
    return probes["null"] if arg.base in (ArgBase.ANYTHING, ArgBase.DONTCARE) else None


def _arg_prog(p: HelperProto, pt: Pt, probe: int = 0, kind: str = "") -> list[Insn] | None:
    """``call`` with valid arguments except ``probe`` (given a ``kind`` value); scratch stack
    fp-64..fp-1 is zeroed, ctx is kept in r6 and, for ``pkt``, a checked packet pointer in r7."""
    insns = [Insn(MOV_X, 6, 1)]
    for off in range(-64, 0, 8):
        insns += [Insn(MOV_K, 0), Insn(STX_DW, 10, 0, off)]
    guard = None
    if kind == "pkt":
        data, data_end = _PKT_FIELDS[pt]
        insns += [Insn(LDX, 7, 6, data), Insn(LDX, 8, 6, data_end), Insn(MOV_X, 9, 7),
                  Insn(ADD_K, 9, imm=64)]  # fmt: skip
        guard = len(insns)
        insns.append(Insn(JGT_X, 9, 8))
    null_size = kind == "null" and probe < 5 and p.arg(probe + 1).is_mem_size
    for argno in range(1, 6):
        k = kind if argno == probe else ("null" if null_size and argno == probe + 1 else "")
        value = _arg_value(p, argno, k)
        if value is None:
            if argno < probe:
                return None
            value = [Insn(MOV_K, argno)]
        insns += value
    insns.append(Insn(CALL, imm=p.func_id))
    if guard is not None:
        insns[guard] = Insn(JGT_X, 9, 8, sum(i.width for i in insns[guard + 1 :]))
    return [*insns, Insn(MOV_K, 0), Insn(EXIT)]


def _arg_props(p: HelperProto, cfg: Config, uninit: bool) -> Iterator[tuple[str, object, object]]:
    """(property, bpfvm's value, the kernel's answer) for each checkable argument property."""
    baseline = _arg_prog(p, cfg.prog_type)
    probe1 = _arg_prog(p, cfg.prog_type, 1, "scalar")
    if baseline is None or probe1 is None:
        return
    base_err = error(baseline, cfg)
    if base_err and not base_err.startswith("R") and error(probe1, cfg) == base_err:
        return  # rejected before the arguments are checked (might sleep, not allowed, ...)

    def rejects(i: int, kind: str) -> str:
        """The error the probe gets at argument ``i`` ("" when argument ``i`` passes)."""
        prog = _arg_prog(p, cfg.prog_type, i, kind)
        err = (error(prog, cfg) if prog else "") or ""
        at_i = err.startswith(f"R{i} ") or f" R{i} " in err
        return (
            err if at_i or err.startswith(("write into map", "helper access to the packet")) else ""
        )

    for i, arg in enumerate(p.args, 1):
        if _arg_prog(p, cfg.prog_type, i, "scalar") is None:
            break
        err = rejects(i, "scalar")
        seen = err.split("expected=", 1)[1] if "type=scalar expected=" in err else err or None
        yield f"arg{i} accepts", EXPECTED_TYPES.get(arg.base), seen
        if arg.base in EXPECTED_TYPES:
            yield f"arg{i} may be NULL", arg.may_be_null, not rejects(i, "null")
        if arg.base in (*_SIZES, ArgBase.ANYTHING):
            sized = arg.base in (ArgBase.CONST_SIZE, ArgBase.CONST_SIZE_OR_ZERO)
            yield f"arg{i} is a size", sized, bool(rejects(i, "negative"))
            yield f"arg{i} refuses 0", arg.base is ArgBase.CONST_SIZE, bool(rejects(i, "null"))
        if arg.base in _MEMLIKE:
            if uninit:
                yield (
                    f"arg{i} MEM_UNINIT",
                    TypeFlag.MEM_UNINIT in arg.flags,
                    not rejects(i, "uninit"),
                )
            if cfg.prog_type in _PKT_FIELDS:
                no_pkt = rejects(i, "pkt").startswith("helper access to the packet")
                yield f"arg{i} pkt_access", p.pkt_access, not no_pkt
            writes = rejects(i, "rdonly").startswith("write into map forbidden")
            yield f"arg{i} MEM_WRITE", TypeFlag.MEM_WRITE in arg.flags, writes
        if arg.base not in _BUILDABLE:
            break


ARG_CONFIGS = [c for c in CONFIGS if c.name not in ("sched_act", "xdp_devmap", "uprobe_session")]


def arg_mismatches(cfgs: list[Config], caps: Cap, uninit: bool) -> tuple[int, list[str]]:
    """Probe every prototype variant once (in the first configuration that has it)."""
    seen: set[str] = set()
    checked, bad = 0, []
    for cfg in cfgs:
        env = cfg.env(kconfig(), caps)
        for n in HELPER_IDS:
            p = func_proto(cfg.prog_type, n, env)
            if p is None or p.symbol in seen:
                continue
            seen.add(p.symbol)
            for prop, mine, kernel in _arg_props(p, cfg, uninit):
                checked += 1
                if mine != kernel:
                    bad.append(f"{cfg.name} {p.symbol} {prop}: bpfvm {mine}, kernel {kernel}")
    return checked, bad


def test_helper_arg_types(kernel: None) -> None:
    checked, bad = arg_mismatches(ARG_CONFIGS, Cap.ALL, uninit=False)
    assert bad == []
    assert checked > 1500


# --- the capability tiers and MEM_UNINIT, in a child without CAP_PERFMON and CAP_SYS_ADMIN ------


def _drop_perfmon() -> None:
    class Header(ctypes.Structure):
        _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))

    class Data(ctypes.Structure):
        _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32))  # fmt: skip

    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    for cap in (38, 21):  # CAP_PERFMON, CAP_SYS_ADMIN
        word, bit = divmod(cap, 32)
        data[word].effective &= ~(1 << bit)
        data[word].permitted &= ~(1 << bit)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _child_report() -> dict[str, object]:
    _drop_perfmon()
    net = [c for c in CONFIGS if c.name in NET_TYPES]
    caps = Cap.BPF | Cap.NET_ADMIN
    report: dict[str, object] = {
        c.name: [_diff(kernel_helpers(c), model_helpers(c, caps))] for c in net
    }
    report["args"] = arg_mismatches(net, caps, uninit=True)
    return report


def test_without_perfmon(kernel: None) -> None:
    kconfig()
    child = subprocess.run(
        [sys.executable, __file__, "--without-perfmon"], capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout)
    checked, bad = report.pop("args")
    assert bad == []
    assert checked > 700
    assert {name: diffs for name, diffs in report.items() if diffs != [[]]} == {}


# --- map type / helper compatibility -----------------------------------------------------------

MAP_CONFIGS = ["socket_filter", "sched_cls", "xdp", "cgroup_skb", "kprobe", "sock_ops", "sk_skb",
               "sk_msg", "sk_reuseport", "syscall"]  # fmt: skip


def test_map_func_compatibility(kernel: None) -> None:
    """Each helper taking a map, given every map type creatable without BTF: the kernel's
    ``cannot pass map_type %d into func %s#%d`` must match :func:`map_func_compatible`. A
    program rejected earlier (by an argument check) decides nothing."""
    decided, bad = 0, []
    for cfg in (c for c in CONFIGS if c.name in MAP_CONFIGS):
        env = cfg.env(kconfig())
        for n in HELPER_IDS:
            p = func_proto(cfg.prog_type, n, env)
            bases = [a.base for a in p.args] if p else []
            if p is None or ArgBase.CONST_MAP_PTR not in bases:
                continue
            reg = bases.index(ArgBase.CONST_MAP_PTR) + 1
            prog = _arg_prog(p, cfg.prog_type)
            if prog is None:
                continue
            for map_type in _MAPS:
                swapped = [
                    ld_imm64(reg, _map_fd(map_type), src=1)
                    if i.code == 0x18 and i.dst == reg and i.src == 1
                    else i
                    for i in prog
                ]
                err = error(swapped, cfg) or ""
                refused = err.startswith(("cannot pass map_type", "expected prog array map"))
                mine = map_func_compatible(map_type, n, cfg.prog_type, cfg.attach)
                if refused or not err:
                    decided += 1
                    if refused == mine:
                        bad.append(f"{cfg.name} {p.symbol} {map_type.name}: kernel {err!r}")
    assert bad == []
    assert decided > 2500


# --- return ranges, attach types, LD_ABS, direct packet access ----------------------------------


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if not c.btf_target], ids=lambda c: c.name)
def test_return_range(kernel: None, cfg: Config) -> None:
    expect = PROG_TYPES[cfg.prog_type].return_range(cfg.attach)
    for value in (-1, 0, 1, 2, 3, 4):
        err = error([Insn(MOV_K, 0, imm=value), Insn(EXIT)], cfg) or ""
        ok = expect is None or expect[0] <= value <= expect[1]
        assert (not err) == ok, (value, err)
        if not ok:
            assert err.endswith(f"should have been in [{expect[0]}, {expect[1]}]")  # type: ignore[index]


@pytest.mark.parametrize("pt", [Pt.CGROUP_SKB, Pt.SYSCALL, Pt.SK_LOOKUP, Pt.SK_REUSEPORT,
                                Pt.CGROUP_SOCK, Pt.XDP, Pt.SOCKET_FILTER])  # fmt: skip
def test_expected_attach_types(kernel: None, pt: Pt) -> None:
    spec = PROG_TYPES[pt]
    cfg_flags = pt is Pt.SYSCALL
    for attach in range(max(At) + 1):
        result = load([Insn(MOV_K, 0), Insn(EXIT)], Config("", pt, attach, sleepable=cfg_flags))
        assert result.accepted == spec.accepts_attach_type(attach), attach


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if not c.btf_target], ids=lambda c: c.name)
def test_ld_abs(kernel: None, cfg: Config) -> None:
    ld_abs_b = Insn(0x30, imm=0)  # r0 = *(u8 *)skb[0]
    err = error([Insn(MOV_X, 6, 1), ld_abs_b, Insn(MOV_K, 0), Insn(EXIT)], cfg) or ""
    refused = err == "BPF_LD_[ABS|IND] instructions not allowed for this program type"
    assert refused != PROG_TYPES[cfg.prog_type].ld_abs, err


@pytest.mark.parametrize("pt", [Pt.SCHED_CLS, Pt.XDP, Pt.CGROUP_SKB, Pt.LWT_IN, Pt.SK_SKB,
                                Pt.LWT_XMIT, Pt.FLOW_DISSECTOR])  # fmt: skip
def test_direct_packet_access(kernel: None, pt: Pt) -> None:
    data, data_end = (0, 4) if pt is Pt.XDP else (76, 80)
    head = [Insn(LDX, 2, 1, data), Insn(LDX, 3, 1, data_end), Insn(MOV_X, 4, 2),
            Insn(ADD_K, 4, imm=1), Insn(JGT_X, 4, 3, 2)]  # fmt: skip
    tail = [Insn(MOV_K, 0), Insn(EXIT)]
    read = error([*head, Insn(0x71, 0, 2, 0), Insn(MOV_K, 0), *tail], Config("", pt))
    write = error([*head, Insn(0x72, 2, 0, 0, 0), Insn(MOV_K, 0), *tail], Config("", pt))
    access = PROG_TYPES[pt].packet
    assert (read is None) == (access is not PacketAccess.NONE), read
    assert (write is None) == (access is PacketAccess.READ_WRITE), write


if __name__ == "__main__" and sys.argv[1:] == ["--without-perfmon"]:
    print(json.dumps(_child_report()))
