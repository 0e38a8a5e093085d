"""Linked scalar ids: ``BPF_ADD_CONST64``/``BPF_ADD_CONST32`` deltas and ``check_scalar_ids``.

The end-to-end behaviour is pinned against the kernel by the ``bounds_linked_*`` and
``bounds_scalar_id_*`` cases; these tests pin the two building blocks directly.
"""

from __future__ import annotations

from bpfvm.verifier.check_alu import _update_linked_id
from bpfvm.verifier.prune import IdMap
from bpfvm.verifier.scalar import Scalar
from bpfvm.verifier.state import BPF_ADD_CONST32, BPF_ADD_CONST64, SCALAR_VALUE, RegState

ADD, SUB = 0x00, 0x10


def _linked(op: int, alu64: bool, imm: int, dst_umax: int = 0xFFFF) -> tuple[int, int]:
    reg = RegState(SCALAR_VALUE, Scalar.unknown())
    reg.id = 5
    _update_linked_id(op, alu64, reg, Scalar.const(imm), dst_umax)
    return reg.id, reg.off


def test_add_sub_record_signed_deltas() -> None:
    assert _linked(ADD, True, 10) == (5 | BPF_ADD_CONST64, 10)
    assert _linked(ADD, True, -4) == (5 | BPF_ADD_CONST64, -4)
    assert _linked(SUB, True, 3) == (5 | BPF_ADD_CONST64, -3)
    assert _linked(ADD, False, -1) == (5 | BPF_ADD_CONST32, -1)
    assert _linked(SUB, False, 5) == (5 | BPF_ADD_CONST32, -5)


def test_links_that_cannot_be_kept() -> None:
    assert _linked(ADD, True, 1 << 31) == (0, 0)  # not an s32
    assert _linked(SUB, True, -(1 << 31)) == (0, 0)  # negation overflows
    assert _linked(ADD, False, 1, dst_umax=1 << 32) == (0, 0)  # upper half may be set
    assert _linked(0x20, True, 2) == (0, 0)  # MUL


def test_delta_on_a_delta_drops_the_link() -> None:
    reg = RegState(SCALAR_VALUE, Scalar.unknown())
    reg.id, reg.off = 5 | BPF_ADD_CONST64, 1
    _update_linked_id(ADD, True, reg, Scalar.const(1), 0)
    assert (reg.id, reg.off) == (0, 0)


def test_old_scalar_without_id_accepts_any_current_id() -> None:
    idmap = IdMap(100)
    assert idmap.check_scalar(0, 7)
    assert idmap.check_scalar(3, 7)  # 7 was not claimed by the unlinked old scalar


def test_linked_old_scalars_need_linked_current_ones() -> None:
    idmap = IdMap(100)
    assert idmap.check_scalar(3, 0)
    assert not idmap.check_scalar(3, 0)  # two independent current scalars


def test_add_const_base_ids_map_consistently() -> None:
    idmap = IdMap(100)
    assert idmap.check_scalar(3, 8)
    assert not idmap.check_scalar(3 | BPF_ADD_CONST64, 9 | BPF_ADD_CONST64)
    idmap = IdMap(100)
    assert idmap.check_scalar(3, 8)
    assert idmap.check_scalar(3 | BPF_ADD_CONST64, 8 | BPF_ADD_CONST64)
