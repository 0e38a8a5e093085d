"""Bridges to the running Linux kernel, used as an oracle by the differential tests."""

from bpfvm.kernel.syscall import (
    BpfCmd,
    KernelUnavailable,
    LoadedProg,
    LoadResult,
    ProgType,
    TestRunResult,
    kernel_available,
    map_create,
    map_lookup,
    map_update,
    prog_load,
    prog_test_run,
)

__all__ = [
    "BpfCmd",
    "KernelUnavailable",
    "LoadResult",
    "LoadedProg",
    "ProgType",
    "TestRunResult",
    "kernel_available",
    "map_create",
    "map_lookup",
    "map_update",
    "prog_load",
    "prog_test_run",
]
