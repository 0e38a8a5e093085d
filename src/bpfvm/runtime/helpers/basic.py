"""Helpers that read the clock, the CPU and the host process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping

from bpfvm.runtime.helpers.registry import MASK64, HelperCall, HelperFn

_CLOCK_MONOTONIC_COARSE = getattr(time, "CLOCK_MONOTONIC_COARSE", 6)  # Linux clock id 6


def _ktime_get_ns(call: HelperCall, *_: int) -> int:
    return time.monotonic_ns() & MASK64


def _ktime_get_boot_ns(call: HelperCall, *_: int) -> int:
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) & MASK64


def _ktime_get_coarse_ns(call: HelperCall, *_: int) -> int:
    return time.clock_gettime_ns(_CLOCK_MONOTONIC_COARSE) & MASK64


def _get_prandom_u32(call: HelperCall, *_: int) -> int:
    return call.rng.getrandbits(32)


def _get_smp_processor_id(call: HelperCall, *_: int) -> int:
    return call.cpu


def _get_numa_node_id(call: HelperCall, *_: int) -> int:
    return 0


def _get_current_pid_tgid(call: HelperCall, *_: int) -> int:
    return (os.getpid() << 32) | threading.get_native_id()


def _get_current_uid_gid(call: HelperCall, *_: int) -> int:
    return (os.getgid() << 32) | os.getuid()


BASIC_HELPERS: Mapping[str, HelperFn] = {
    "bpf_ktime_get_ns": _ktime_get_ns,
    "bpf_ktime_get_boot_ns": _ktime_get_boot_ns,
    "bpf_ktime_get_coarse_ns": _ktime_get_coarse_ns,
    "bpf_get_prandom_u32": _get_prandom_u32,
    "bpf_get_smp_processor_id": _get_smp_processor_id,
    "bpf_get_numa_node_id": _get_numa_node_id,
    "bpf_get_current_pid_tgid": _get_current_pid_tgid,
    "bpf_get_current_uid_gid": _get_current_uid_gid,
}
