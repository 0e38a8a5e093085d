"""The Patcher: jumps keep their targets through insertions and removals, side tables follow,
nothing is truncated."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.fixups import FixupError, Patcher, start
from bpfvm.fixups.build import call_rel, ja, jmp_imm, mov64_imm
from bpfvm.fixups.patcher import GOTOL_CODE, branch_field
from bpfvm.isa.insn import Insn, ld_imm64
from bpfvm.isa.opcodes import JmpOp
from bpfvm.program.model import FuncInfo, LineInfo, Program

EXIT = Insn(0x95)


def program(insns: list[Insn], starts: tuple[int, ...] = (0,), **kw: object) -> Program:
    return Program("t", tuple(insns), func_starts=starts, **kw)  # type: ignore[arg-type]


# -- a reference model: nodes with identities, jumps naming their target node ---------------


@dataclass
class Node:
    ident: int
    insn: Insn
    target: int | None = None  # identity of the target node (jumps and calls)


def render(nodes: list[Node]) -> list[Insn]:
    pos: dict[int, int] = {}
    pc = 0
    for n in nodes:
        pos[n.ident] = pc
        pc += n.insn.width
    out = []
    for n in nodes:
        insn = n.insn
        if n.target is not None:
            rel = pos[n.target] - pos[n.ident] - 1
            field = branch_field(insn)
            if field == "imm":
                insn = Insn(insn.code, insn.dst, insn.src, insn.off, rel, insn.imm_hi)
            elif -(1 << 15) <= rel < 1 << 15:
                insn = Insn(insn.code, insn.dst, insn.src, rel, insn.imm, insn.imm_hi)
            else:  # the patcher's widening
                insn = Insn(GOTOL_CODE, 0, 0, 0, rel)
        out.append(insn)
    return out


@st.composite
def programs(draw: st.DrawFn) -> list[Node]:
    n = draw(st.integers(2, 25))
    nodes: list[Node] = []
    for i in range(n - 1):
        kind = draw(st.sampled_from(["mov", "lddw", "jcc", "ja"]))
        if kind == "mov":
            nodes.append(Node(i, mov64_imm(0, i)))
        elif kind == "lddw":
            nodes.append(Node(i, ld_imm64(1, i)))
        else:
            insn = jmp_imm(JmpOp.JEQ, 0, i, 0) if kind == "jcc" else ja(0)
            nodes.append(Node(i, insn, draw(st.integers(0, n - 1))))
    nodes.append(Node(n - 1, EXIT))
    return nodes


@settings(max_examples=200, deadline=None)
@given(programs(), st.data())
def test_random_patches_keep_every_jump_target(nodes: list[Node], data: st.DataObject) -> None:
    p = Patcher(start(program(render(nodes))))
    fresh = 1000
    for _ in range(data.draw(st.integers(1, 6))):
        k = data.draw(st.integers(0, len(nodes) - 1))
        size = data.draw(st.integers(1, 4))
        new: list[Node] = []
        for _j in range(size):
            insn = ld_imm64(2, fresh) if data.draw(st.booleans()) else mov64_imm(3, fresh)
            new.append(Node(fresh, insn))
            fresh += 1
        old = nodes[k]
        # jumps to the patched node land on the first node of its replacement
        for n in nodes:
            if n.target == old.ident:
                n.target = new[0].ident
        slot = sum(x.insn.width for x in nodes[:k])
        assert p.patch(slot, [x.insn for x in new]) == sum(x.insn.width for x in new) - (
            old.insn.width
        )
        nodes[k : k + 1] = new
    assert [i for i in p.slots if i is not None] == render(nodes)
    assert len(p.aux) == len(p.slots)


def test_jump_to_patched_insn_lands_on_first_of_replacement() -> None:
    insns = [jmp_imm(JmpOp.JEQ, 1, 0, 1), EXIT, mov64_imm(0, 1), EXIT]
    p = Patcher(start(program(insns)))
    p.patch(2, [mov64_imm(2, 2), mov64_imm(0, 1)])
    assert p.insn(0).off == 1  # the first instruction of the replacement
    assert p.insn(4) == EXIT
    p.patch(0, [mov64_imm(3, 3), insns[0]])  # a prologue before a jump: its offset is the author's
    assert p.insn(1).off == 1


def test_subprogs_line_info_func_info_and_aux_follow() -> None:
    insns = [call_rel(1), EXIT, mov64_imm(0, 7), EXIT]
    li = (LineInfo(0, "f.c", 1, 0, "a"), LineInfo(2, "f.c", 5, 0, "b"))
    fi = (FuncInfo(0, 1), FuncInfo(2, 2))
    x = start(program(insns, (0, 2), line_info=li, func_info=fi))
    p = Patcher(x)
    p.patch(0, [mov64_imm(5, 5), mov64_imm(6, 6), call_rel(1)])
    out = p.finish()
    assert out.func_starts == (0, 4)
    assert out.insns[2].imm == 1  # the call inside the patch is the author's
    assert [li.insn_off for li in out.line_info] == [0, 4]
    assert [f.insn_off for f in out.final_func_info()] == [0, 4]
    # the original aux ends on the last slot of the replacement; new ones inherit orig_idx
    assert [a.orig_idx for a in out.aux.insns] == [0, 0, 0, 1, 2, 3]


def test_call_into_moved_subprog_is_remapped() -> None:
    insns = [call_rel(2), mov64_imm(0, 0), EXIT, mov64_imm(0, 7), EXIT]
    p = Patcher(start(program(insns, (0, 3))))
    p.patch(1, [mov64_imm(0, 0), mov64_imm(1, 0), mov64_imm(2, 0)])
    assert p.insn(0).imm == 4
    assert p.subprogs[1].start == 5


def test_ja_widens_to_gotol_and_a_cond_jump_fails() -> None:
    insns = [ja(1), EXIT, mov64_imm(0, 0), EXIT]
    p = Patcher(start(program(insns)))
    p.patch(1, [mov64_imm(0, 0)] * 40_000 + [EXIT])
    first = p.insn(0)
    assert first.code == GOTOL_CODE and first.imm == 40_001
    insns = [jmp_imm(JmpOp.JEQ, 1, 0, 1), EXIT, mov64_imm(0, 0), EXIT]
    p = Patcher(start(program(insns)))
    with pytest.raises(FixupError, match=r"insn 1 cannot be patched due to 16-bit range"):
        p.patch(1, [mov64_imm(0, 0)] * 40_000 + [EXIT])
    assert p.insn(0).off == 1  # nothing changed


def test_adjust_jmp_off_skips_the_inserted_prologue() -> None:
    insns = [mov64_imm(0, 0), jmp_imm(JmpOp.JNE, 0, 0, -2), EXIT]
    p = Patcher(start(program(insns)))
    first = p.insn(0)
    p.patch(0, [mov64_imm(9, 9), first])
    assert p.insn(2).off == -3  # lands on the prologue
    p.adjust_jmp_off(0, 1)
    assert p.insn(2).off == -2  # now on the original first instruction


def test_remove_dead_range_and_subprog() -> None:
    insns = [ja(2), mov64_imm(0, 1), mov64_imm(0, 2), call_rel(1), EXIT, mov64_imm(0, 3), EXIT]
    li = (LineInfo(1, "f.c", 2, 0, "dead"), LineInfo(3, "f.c", 3, 0, "call"))
    x = start(program(insns, (0, 5), line_info=li, func_info=(FuncInfo(0, 1), FuncInfo(5, 2))))
    p = Patcher(x)
    p.remove(1, 2)
    assert p.insn(0).off == 0  # ja +2 now jumps to the next instruction
    assert p.insn(1).imm == 1 and p.subprogs[1].start == 3
    assert [(li.insn_off, li.text) for li in p.line_info] == [(1, "call")]
    p.remove(3, 2)  # the whole second subprogram, with its func_info
    out = p.finish()
    assert out.func_starts == (0,) and len(out.final_func_info()) == 1


def test_removed_lines_are_inherited_by_the_next_instruction() -> None:
    insns = [mov64_imm(0, 0), mov64_imm(0, 1), mov64_imm(0, 2), EXIT]
    li = (LineInfo(0, "f.c", 1, 0, "a"), LineInfo(1, "f.c", 2, 0, "b"))
    p = Patcher(start(program(insns, line_info=li)))
    p.remove(1, 1)
    assert [(li.insn_off, li.text) for li in p.line_info] == [(0, "a"), (1, "b")]
