"""The packet context of a ``BPF_PROG_TEST_RUN``, by program type.

:func:`build_packet_context` turns (program type, ``data_in``, ``ctx_in``) into a
:class:`~bpfvm.hooks.packet_ctx.PacketContext`: the packet state the helpers work on, the
regions to map and the r1 value, with the kernel's refusals as
:class:`~bpfvm.hooks.packet_ctx.TestRunError` carrying its errno.
"""

from __future__ import annotations

from bpfvm.hooks.packet_ctx import ENOTSUPP, LOOPBACK, NetDevice, PacketContext, TestRunError
from bpfvm.hooks.pool import PacketPool
from bpfvm.hooks.skb import build_skb_context
from bpfvm.hooks.xdp import build_xdp_context
from bpfvm.program.uapi import ProgType

SKB_PROG_TYPES = frozenset({
    ProgType.SOCKET_FILTER, ProgType.SCHED_CLS, ProgType.SCHED_ACT, ProgType.CGROUP_SKB,
    ProgType.LWT_IN, ProgType.LWT_OUT, ProgType.LWT_XMIT,
})  # fmt: skip
PACKET_PROG_TYPES = SKB_PROG_TYPES | {ProgType.XDP}

__all__ = [
    "PACKET_PROG_TYPES",
    "SKB_PROG_TYPES",
    "NetDevice",
    "PacketContext",
    "TestRunError",
    "build_packet_context",
]


def build_packet_context(
    prog_type: int,
    data_in: bytes,
    ctx_in: bytes | None = None,
    *,
    ctx_out: bool = False,
    devices: tuple[NetDevice, ...] = (LOOPBACK,),
    runtime_ctx: bool = False,
    pool: PacketPool | None = None,
) -> PacketContext:
    """The context of a test run of a ``prog_type`` program on ``data_in``.

    ``ctx_in`` is the user's context (None: not passed); ``ctx_out`` says whether the user
    passed a ctx_out buffer, which matters because the kernel builds a zeroed context then.
    ``devices`` are the network devices an ifindex in ``ctx_in`` may name. ``runtime_ctx``
    builds bpfvm's runtime context structure (:mod:`bpfvm.runtime.ctx_runtime`), which
    fixed-up programs expect, instead of the bare UAPI struct. ``pool`` reuses packet states
    between runs (:mod:`bpfvm.hooks.pool`).
    """
    if prog_type == ProgType.XDP:
        return build_xdp_context(
            data_in, ctx_in, ctx_out=ctx_out, devices=devices, runtime_ctx=runtime_ctx, pool=pool
        )
    if prog_type in SKB_PROG_TYPES:
        kind = ProgType(prog_type)
        return build_skb_context(
            kind, data_in, ctx_in, ctx_out=ctx_out, devices=devices, runtime_ctx=runtime_ctx,
            pool=pool,
        )  # fmt: skip
    raise TestRunError(ENOTSUPP, f"no packet test run for program type {prog_type}")
