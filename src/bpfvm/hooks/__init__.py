"""Hooks that run programs: packet contexts of ``BPF_PROG_TEST_RUN`` (XDP, socket buffers)."""

from bpfvm.hooks.context import PACKET_PROG_TYPES, build_packet_context
from bpfvm.hooks.packet_ctx import LOOPBACK, NetDevice, PacketContext, TestRunError
from bpfvm.hooks.typed import TypedMap, TypedMapError, typed_map

__all__ = [
    "LOOPBACK",
    "PACKET_PROG_TYPES",
    "NetDevice",
    "PacketContext",
    "TestRunError",
    "TypedMap",
    "TypedMapError",
    "build_packet_context",
    "typed_map",
]
