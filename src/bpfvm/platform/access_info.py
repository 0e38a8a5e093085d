"""``struct bpf_insn_access_aux``: what an ``is_valid_access`` tells the verifier back."""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.platform.arg_types import SCALAR_VALUE, RegType


@dataclass(slots=True)
class AccessInfo:
    """Filled in by an ``is_valid_access``: the loaded register's type, and the field size
    recorded for loads that may be narrower than the field (``bpf_ctx_record_field_size``;
    0 = only whole-field access)."""

    reg_type: RegType = SCALAR_VALUE
    field_size: int = 0


def narrow_ok(size: int, size_default: int) -> bool:
    """``bpf_ctx_narrow_access_ok``: a power-of-two access no wider than the field."""
    return size <= size_default and size & (size - 1) == 0
