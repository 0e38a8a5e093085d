"""bpfvm's whole level-2 verifier log against the kernel's, case by case (``cases.json``).

``scripts/verifier_logs.py`` prints the same comparison with the first differing line of each
case. The three ``limit_`` cases (up to a million processed instructions, minutes at level 2)
are left out here; the script covers them.
"""

from __future__ import annotations

import pytest

from tests.verifier import pinning
from tests.verifier.harness import load_corpus
from tests.verifier.level2 import log_difference

# kernel behaviours whose logs were made byte-identical (each name stands for the behaviour)
FIXED = (
    "cb_bpf_loop_ok",  # a callback call scratches the whole state (R10 and the stack printed)
    "cb_loop_callback_uses_caller_stack_var",
    "cb_for_each_map_ok",
    "tail_call_in_subprog_ok",  # a tail call in a subprogram exits it and is also a branch
    "cb_subprog_tail_call_ok",
    "cb_tail_call_in_callback",
    "tail_call_two_frames_big_stack",
    "tail_call_wrong_map",  # the message the kernel prints without its newline
    "helper_id_zero",  # call bpf_unspec#0
    "map_in_map_ok",  # an inner-map template has no name
    "global_func_bad_arg",  # the argument check's own message before "Caller passes ..."
    "global_func_ctx_for_ptr",
    "global_func_count_mismatch_static_main_ok",  # static subprograms' arguments are checked
    "lock_unlock_in_subprog_ok",
    "call_max_subprogs_ok",  # max_states_per_insn counts the explored-states hash bucket
    "cb_bpf_loop_ctx_stack_ok",  # an 8-byte fill gives a widened (id-less) scalar no id
)
MIN_EQUAL = 432  # every case but the three limit_ ones (equal too: scripts/verifier_logs.py)


def _cases() -> list[str]:
    pins = pinning.read_pins(pinning.CASES_FILE)["cases"]
    return [n for n, rec in pins.items() if "log" in rec and not n.startswith("limit_")]


@pytest.mark.parametrize("name", FIXED)
def test_fixed_logs_equal(name: str) -> None:
    (item,) = load_corpus("cases", only=[name])
    assert log_difference(item) is None, log_difference(item)


def test_level2_log_equality_count() -> None:
    items = load_corpus("cases", only=_cases())
    assert len(items) >= 430
    different = {i.key: d for i in items if (d := log_difference(i)) is not None}
    assert len(items) - len(different) >= MIN_EQUAL, different
