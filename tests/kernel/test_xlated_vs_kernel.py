"""bpfvm's xlated program next to the running kernel's, for every example program (issue 5).

Each program is verified and fixed up by bpfvm (as ``bpfvm xlated`` does) and loaded into the
kernel (as libbpf would); ``scripts/xlated_vs_kernel.py`` attributes both xlated programs to
the original instructions and measures the pass effects. The effects that must agree do; every
instruction whose rewrite differs falls in a category ``docs/fixups.md`` explains
(``CATEGORIES``). Skipped where ``bpf()`` is refused.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from pathlib import Path

import pytest

from bpfvm.fixups import XlatedProgram
from bpfvm.fixups.program import CALL_ARGS_CODE, TAIL_CALL_CODE
from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.isa.insn import Insn
from scripts.xlated_vs_kernel import (
    CALL_CODE,
    CATEGORIES,
    FUNC_MAP_LOOKUP_ELEM,
    KERNEL_ONLY_INLINES,
    LD_ABS_HELPER,
    Comparison,
    Effects,
    Model,
    attribute,
    call_helper,
    classify,
    compare,
    example_entries,
    helper_of,
    side_by_side,
    strict_key,
)
from tests.verifier.objects import EXAMPLES, ObjectEntry

ENTRIES = list(example_entries())
_CACHE: dict[str, Comparison] = {}


@pytest.fixture
def comparison(kernel: None, request: pytest.FixtureRequest) -> Comparison:
    entry: ObjectEntry = request.param
    if entry.key not in _CACHE:
        _CACHE[entry.key] = compare(entry)
    return _CACHE[entry.key]


def _params() -> Iterator[object]:
    for e in ENTRIES:
        yield pytest.param(e, id=e.key.removeprefix("examples/"))


PARAMS = pytest.mark.parametrize("comparison", list(_params()), indirect=True)


def _calls(c: Comparison, e: Effects, side: str) -> list[tuple[int, int]]:
    """(original instruction, helper id) of each helper call a side makes, leaving out the
    kernel's prologue and gen_ld_abs calls."""
    prog = c.bpfvm if side == "bpfvm" else c.kernel
    out = []
    for k in sorted(e.patches):
        for insn in e.patches[k]:
            helper = call_helper(insn, prog)
            if helper is not None and k >= 0 and helper != LD_ABS_HELPER:
                out.append((k, helper))
    return out


def test_every_example_program_is_compared() -> None:
    names = {e.key.split(":")[0].removeprefix("examples/") for e in ENTRIES}
    assert names == {p.name for p in EXAMPLES.glob("*.bpf.o")}
    assert len(ENTRIES) >= len(names)


@PARAMS
def test_both_sides_accept_and_fix_up(comparison: Comparison) -> None:
    c = comparison
    assert c.bpfvm.insns and c.kernel.insns
    text = side_by_side(c)
    assert text.count("\n") >= len(c.program.insns)


@PARAMS
def test_same_dead_code_removed(comparison: Comparison) -> None:
    assert comparison.bpfvm_effects.removed == comparison.kernel_effects.removed


@PARAMS
def test_same_helper_calls_where_bpfvm_calls(comparison: Comparison) -> None:
    c = comparison
    bpfvm = _calls(c, c.bpfvm_effects, "bpfvm")
    kernel = _calls(c, c.kernel_effects, "kernel")
    kernel_inlined = set(c.kernel_effects.inlined)
    # a call the kernel inlines and bpfvm keeps is one of the documented kernel-only inlines
    for k, helper in bpfvm:
        if k in kernel_inlined:
            assert helper in KERNEL_ONLY_INLINES, (k, helper)
    assert [x for x in bpfvm if x[0] not in kernel_inlined] == kernel


@PARAMS
def test_array_lookups_the_kernel_inlines_bpfvm_inlines(comparison: Comparison) -> None:
    c = comparison
    b, k = c.bpfvm_effects.inlined, c.kernel_effects.inlined
    assert set(b) <= set(k)
    assert all(h == "bpf_map_lookup_elem" for h in b.values())
    for idx in set(k) - set(b):  # the kernel's extra inlines: not an array lookup bpfvm missed
        calls = c.bpfvm_effects.patches[idx]
        assert len(calls) == 1 and c.program.insns[idx].imm in KERNEL_ONLY_INLINES
        assert c.bpfvm.call_table[calls[0].imm].name != "array_map_lookup_elem"


@PARAMS
def test_same_loop_guard_may_goto_and_tail_call_rewrites(comparison: Comparison) -> None:
    c = comparison
    b, k = c.bpfvm_effects, c.kernel_effects
    assert b.loop_inlined == k.loop_inlined
    assert b.guards == k.guards
    assert b.may_goto == k.may_goto
    assert b.tail_calls == k.tail_calls
    for idx in b.loop_inlined + b.guards + b.may_goto + b.tail_calls:
        # the same instructions, jump offsets and call encodings aside (CALL_ARGS, TAIL_CALL)
        assert _keys(b.patches[idx], c.bpfvm) == _keys(k.patches[idx], c.kernel)
        assert _offsets(b.patches[idx]) == _offsets(k.patches[idx])


def _keys(patch: list[Insn], prog: XlatedProgram) -> list[Hashable]:
    return [strict_key(i, prog) for i in patch]


def _offsets(patch: list[Insn]) -> list[int]:
    """Jump offsets inside a patch (the inline loop's back edge, the guards' skips)."""
    calls = (0x80, 0x90, CALL_ARGS_CODE & 0xF0, TAIL_CALL_CODE & 0xF0)  # call, exit, internal
    return [i.off for i in patch if i.code & 0x07 in (5, 6) and i.code & 0xF0 not in calls]


@PARAMS
def test_every_difference_is_a_documented_category(comparison: Comparison) -> None:
    cats = classify(comparison)
    assert "unexplained" not in cats.values(), side_by_side(comparison)
    assert set(cats.values()) <= set(CATEGORIES)
    text = (Path(__file__).resolve().parents[2] / "docs" / "fixups.md").read_text()
    for cat in set(cats.values()):
        assert f"`{cat}`" in text, f"docs/fixups.md does not explain {cat}"


@PARAMS
def test_attribution_reproduces_bpfvm_orig_idx(comparison: Comparison) -> None:
    """The heuristic the kernel side rests on gives bpfvm's own record back, with and without
    a model, and the kernel's attribution needs the model for nothing but tie-breaks."""
    c = comparison
    assert attribute(c.program.insns, c.bpfvm.insns, c.bpfvm) == c.bpfvm_where
    model = Model(c.bpfvm.insns, c.bpfvm, c.bpfvm_where)
    assert attribute(c.program.insns, c.bpfvm.insns, c.bpfvm, model) == c.bpfvm_where
    alone = attribute(c.program.insns, c.kernel.insns, c.kernel)
    assert sorted(set(alone)) == sorted(set(c.kernel_where))


def test_kernel_function_names_map_to_helpers() -> None:
    assert helper_of("__htab_map_lookup_elem") == FUNC_MAP_LOOKUP_ELEM
    assert helper_of("trie_lookup_elem") == FUNC_MAP_LOOKUP_ELEM
    assert helper_of("queue_stack_map_push_elem") == HELPER_IDS["bpf_map_push_elem"]
    assert helper_of("bpf_for_each_hash_elem") == HELPER_IDS["bpf_for_each_map_elem"]
    assert helper_of("bpf_skb_load_helper_16_no_cache") == LD_ABS_HELPER
    assert helper_of("bpf_trace_printk") == HELPER_IDS["bpf_trace_printk"]
    assert helper_of("no_such_function") == -1
    assert CALL_CODE == 0x85
