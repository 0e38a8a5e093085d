"""The helper registry the engines call through, and what a helper sees of the run.

A helper is a Python callable ``fn(call, r1, r2, r3, r4, r5) -> int`` where ``call`` is the
:class:`HelperCall` context of the running program (address space, pc of the call
instruction, CPU, maps, the packet of a packet hook, the trace buffer). The registry maps the
kernel's helper ids (``bpfvm.isa.helper_ids``) to implementations; it is a value a caller
builds or extends, never module-level state.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.runtime.memory import AddressSpace

MASK64 = (1 << 64) - 1


@dataclass
class HelperCall:
    """What a helper sees of the run that called it."""

    mem: AddressSpace
    pc: int = 0
    cpu: int = 0
    rng: random.Random = field(default_factory=random.Random)
    maps: dict[int, Any] = field(default_factory=dict)  # map handle address -> runtime map
    packet: Any = None  # the packet state of a packet hook's run (runtime.packet)
    trace: list[str] = field(default_factory=list)  # bpf_trace_printk output, one line each
    # runs a callback (a function reference the program loaded) with r1.. and returns its r0
    invoke: Callable[[int, Sequence[int]], int] | None = None
    cookie: int = 0  # bpf_get_attach_cookie of a tracing attachment
    func_ip: int = 0  # bpf_get_func_ip: the traced function's address


HelperFn = Callable[[HelperCall, int, int, int, int, int], int]


class HelperRegistry:
    """Helper id -> implementation."""

    def __init__(self, helpers: Mapping[str, HelperFn] | None = None) -> None:
        self._by_id: dict[int, HelperFn] = {}
        for name, fn in (helpers or {}).items():
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
