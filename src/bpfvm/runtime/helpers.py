"""Helper functions: the registry the engines call through, and the basic helpers.

A helper is a Python callable ``fn(call, r1, r2, r3, r4, r5) -> int`` where ``call`` is the
:class:`HelperCall` context (address space, pc of the call instruction). The
registry maps the kernel's helper ids (``bpf.isa.helper_ids``) to implementations; it is a
value a caller builds or extends, never module-level state.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.runtime.memory import AddressSpace

MASK64 = (1 << 64) - 1
_CLOCK_MONOTONIC_COARSE = getattr(time, "CLOCK_MONOTONIC_COARSE", 6)  # Linux clock id 6


@dataclass
class HelperCall:
    """What a helper sees of the run that called it."""

    mem: AddressSpace
    pc: int = 0
    cpu: int = 0
    rng: random.Random = field(default_factory=random.Random)


HelperFn = Callable[[HelperCall, int, int, int, int, int], int]


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


class HelperRegistry:
    """Helper id -> implementation."""

    def __init__(self, helpers: Mapping[str, HelperFn] | None = None) -> None:
        self._by_id: dict[int, HelperFn] = {}
        for name, fn in (BASIC_HELPERS if helpers is None else helpers).items():
            self.register(name, fn)

    def register(self, name: str, fn: HelperFn) -> None:
        if name not in HELPER_IDS:
            raise KeyError(f"unknown helper {name}")
        self._by_id[HELPER_IDS[name]] = fn

    def get(self, helper_id: int) -> HelperFn | None:
        return self._by_id.get(helper_id)

    def __contains__(self, helper_id: int) -> bool:
        return helper_id in self._by_id


def describe_missing(helper_id: int) -> str:
    """The error for a call to a helper the registry lacks (kernel wording where it has one)."""
    name = HELPER_NAMES.get(helper_id)
    if name is None or helper_id == 0:
        return f"invalid func unknown#{helper_id}"
    return f"helper {name}#{helper_id} is not implemented by this runtime"
