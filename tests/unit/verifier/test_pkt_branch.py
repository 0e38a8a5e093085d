"""``is_pkt_ptr_branch_taken``: a packet pointer known to be beyond (or at) pkt_end."""

from __future__ import annotations

import pytest

from bpfvm.isa.opcodes import JmpOp
from bpfvm.verifier.check_jmp import AT_PKT_END, BEYOND_PKT_END, _pkt_branch_taken
from bpfvm.verifier.state import PTR_TO_PACKET, PTR_TO_PACKET_END, RegState


def _regs(rng: int) -> tuple[RegState, RegState]:
    pkt, end = RegState(), RegState()
    pkt.type, pkt.range = PTR_TO_PACKET, rng
    end.type = PTR_TO_PACKET_END
    return pkt, end


@pytest.mark.parametrize(
    ("rng", "op", "taken"),
    [
        (BEYOND_PKT_END, JmpOp.JGT, 1), (BEYOND_PKT_END, JmpOp.JLE, 0),
        (BEYOND_PKT_END, JmpOp.JGE, 1), (BEYOND_PKT_END, JmpOp.JLT, 0),
        (AT_PKT_END, JmpOp.JGE, 1), (AT_PKT_END, JmpOp.JLT, 0),
        (AT_PKT_END, JmpOp.JGT, -1), (AT_PKT_END, JmpOp.JLE, -1), (0, JmpOp.JGT, -1),
    ],
)  # fmt: skip
def test_pkt_vs_pkt_end(rng: int, op: JmpOp, taken: int) -> None:
    pkt, end = _regs(rng)
    assert _pkt_branch_taken(pkt, end, op) == taken
