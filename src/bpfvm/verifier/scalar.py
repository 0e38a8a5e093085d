"""Scalar values for the verifier: the abstract domain of ``struct bpf_reg_state`` numbers.

This module is the public face of the scalar domain; the work is split by concern:

* :mod:`.scalar_state` -- :class:`Scalar` (tnum + s64/u64/s32/u32 bounds), ``reg_bounds_sync``
  and the width changes (``zext_32_to_64``, ``coerce_reg_to_size``, sign extension);
* :mod:`.scalar_alu` -- ``adjust_scalar_min_max_vals``: :func:`scalar_alu`, :func:`scalar_neg`,
  :func:`scalar_end`, :func:`scalar_movsx`, the ``AND``/``OR`` state fork and the delta
  arithmetic of linked registers;
* :mod:`.scalar_branch` -- ``is_scalar_branch_taken`` and ``regs_refine_cond_op``;
* :mod:`.scalar_format` -- the log text of a scalar.

Every function is pure: it takes :class:`Scalar` values and returns new ones. The reference is
the Linux 6.18.y verifier as the 6.18.44 kernel runs it (with its stable backports: BPF_END
tracking, the tnum_step single-value refinement, the 32-bit sign-boundary deduction and the
[-1, 0] fork of ``AND``/``OR``). The domain is sound (property-tested with hypothesis against
concrete arithmetic) and its printed states are compared with the running kernel's log
(``tests/kernel/test_scalar_vs_kernel.py``).
"""

from __future__ import annotations

from bpfvm.verifier.scalar_alu import (
    fork_scalar,
    is_safe_to_compute,
    linked_scalar_delta,
    scalar_alu,
    scalar_end,
    scalar_movsx,
    scalar_neg,
)
from bpfvm.verifier.scalar_branch import branch_taken, flip_jmp, negate_jmp, refine_cond
from bpfvm.verifier.scalar_format import format_scalar, format_scalar_ranges
from bpfvm.verifier.scalar_state import (
    S32_MAX,
    S32_MIN,
    S64_MAX,
    S64_MIN,
    Scalar,
    coerce_reg_to_size,
    coerce_reg_to_size_sx,
    coerce_subreg_to_size_sx,
    reg_bounds_sync,
    zext_32_to_64,
)

__all__ = [
    "S32_MAX",
    "S32_MIN",
    "S64_MAX",
    "S64_MIN",
    "Scalar",
    "branch_taken",
    "coerce_reg_to_size",
    "coerce_reg_to_size_sx",
    "coerce_subreg_to_size_sx",
    "flip_jmp",
    "fork_scalar",
    "format_scalar",
    "format_scalar_ranges",
    "is_safe_to_compute",
    "linked_scalar_delta",
    "negate_jmp",
    "refine_cond",
    "reg_bounds_sync",
    "scalar_alu",
    "scalar_end",
    "scalar_movsx",
    "scalar_neg",
    "zext_32_to_64",
]
