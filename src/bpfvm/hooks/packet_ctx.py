"""What the packet hooks share: the test_run error, the network devices a run may name, and
the built context of one run (:class:`PacketContext`)."""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from bpfvm.errors import BpfvmError
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.memory import Region
from bpfvm.runtime.packet import PAGE_SIZE, SkbPacket, XdpPacket

if TYPE_CHECKING:
    from bpfvm.hooks.pool import PacketPool

ENOTSUPP = 524  # kernel-internal errno: the program type has no test_run


class TestRunError(BpfvmError):
    """``BPF_PROG_TEST_RUN`` refuses the input; ``errno`` is what the kernel returns."""

    __test__ = False  # not a pytest test class

    def __init__(self, errno: int, message: str) -> None:
        name = _errno.errorcode.get(errno, "ENOTSUPP" if errno == ENOTSUPP else str(errno))
        super().__init__(f"{message} ({name})")
        self.errno = errno
        self.reason = message


@dataclass(frozen=True)
class NetDevice:
    """A network device a test run may name by ifindex (``ctx_in``'s ifindex fields)."""

    ifindex: int
    name: str
    mac: bytes = bytes(6)
    broadcast: bytes = b"\xff" * 6
    rx_queues: int = 1  # real_num_rx_queues, each with a registered XDP rxq


LOOPBACK = NetDevice(1, "lo", mac=bytes(6), broadcast=bytes(6), rx_queues=1)
"""The loopback device test_run runs packets on (``net->loopback_dev``)."""


def find_device(devices: tuple[NetDevice, ...], ifindex: int) -> NetDevice:
    for dev in devices:
        if dev.ifindex == ifindex:
            return dev
    raise TestRunError(_errno.ENODEV, f"no network device with ifindex {ifindex}")


def ctx_init(ctx_in: bytes | None, size: int, has_ctx_out: bool) -> bytes | None:
    """``bpf_ctx_init``: the user's context zero-extended to ``size`` (None when the user
    passed neither ctx_in nor ctx_out); a longer one must have an all-zero tail."""
    if ctx_in is None:
        return bytes(size) if has_ctx_out else None
    if len(ctx_in) > PAGE_SIZE or any(ctx_in[size:]):
        raise TestRunError(_errno.E2BIG, f"ctx_in has non-zero bytes past its {size} bytes")
    return ctx_in[:size].ljust(size, b"\0")


@dataclass(eq=False)
class PacketContext:
    """One packet run, ready for the interpreter.

    Run it as ``vm.call.packet = pc.packet_state`` and then
    ``vm.run(pc.args, pc.regions, packet=pc.packet)``; afterwards :meth:`finish` gives the
    ``data_out`` and ``ctx_out`` that ``BPF_PROG_TEST_RUN`` would copy out. Close it (or use
    it as a context manager) to unmap the packet buffer.
    """

    prog_type: ProgType
    state: XdpPacket | SkbPacket
    ctx: bytes | None  # the user's context as the kernel holds it (None: no ctx_in/ctx_out)
    pool: PacketPool | None = None  # where the state goes back on close (None: unmapped)

    @property
    def r1(self) -> int:
        """The context pointer the program receives in r1."""
        return self.state.ctx.addr

    @property
    def args(self) -> tuple[int, ...]:
        return (self.r1,)

    @property
    def regions(self) -> list[Region]:
        """The regions to map: the context and the packet window."""
        return [self.state.ctx, self.state.window]

    @property
    def packet(self) -> Region | None:
        """The socket buffer data ``LD_ABS``/``LD_IND`` read (None for XDP)."""
        return self.state.window if isinstance(self.state, SkbPacket) else None

    @property
    def packet_state(self) -> XdpPacket | SkbPacket:
        """What the packet helpers work on (``HelperCall.packet``)."""
        return self.state

    def data_out(self) -> bytes:
        return self.state.data_out()

    def ctx_out(self) -> bytes | None:
        """The context copied back to user space, None when the kernel copies none."""
        return None if self.ctx is None else self.state.ctx_out(self.ctx)

    def finish(self) -> tuple[bytes, bytes]:
        """(data_out, ctx_out); ctx_out is empty when the kernel returns no context."""
        return self.data_out(), self.ctx_out() or b""

    def close(self) -> None:
        if self.pool is None or not self.pool.release(self.state):
            self.state.close()
        self.pool = None

    def __enter__(self) -> PacketContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
