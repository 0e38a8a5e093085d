"""Linking one program out of an object: relocations and subprogram placement.

This follows libbpf's ``bpf_object__relocate``. A program starts as the instructions of its
function. Walking them in order, each bpf-to-bpf call (``call`` with ``src=1``) and each
function-address ``ld_imm64`` names a target instruction, either through a relocation
against a symbol (target slot = ``symbol value / 8 + imm + 1`` for calls, ``symbol value / 8
+ imm / 8`` for addresses) or, without one, relative to the call's own place in its section.
The function containing the target is appended to the program the first time it is needed,
and the instruction gets the pc-relative offset of its new place; appended functions are
walked in turn, so every reachable subprogram is copied exactly once per program.

``ld_imm64`` relocations against map symbols become ``BPF_PSEUDO_MAP_FD`` with the map's
index, against global data ``BPF_PSEUDO_MAP_VALUE`` with the index and the offset
(``symbol value + imm``) in ``imm_hi``, and against a function ``BPF_PSEUDO_FUNC``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from bpfvm.elf.objfile import ObjectFile, Reloc, Section
from bpfvm.errors import InputError
from bpfvm.isa.insn import LD_IMM64_CODE
from bpfvm.isa.opcodes import CallSrc, PseudoSrc

CALL_CODE = 0x85
_SLOT = struct.Struct("<BBhi")
Slot = list[int]  # [code, regs, off, imm]


@dataclass(frozen=True)
class Function:
    section: Section
    name: str
    start: int  # first slot in the section
    nslots: int

    def contains(self, slot: int) -> bool:
        return self.start <= slot < self.start + self.nslots


@dataclass(frozen=True)
class DataRef:
    """What an ``ld_imm64`` relocation resolved to: a map, or a place in a map's value."""

    map_index: int
    value_off: int | None  # None: the map itself (BPF_PSEUDO_MAP_FD)


@dataclass(frozen=True)
class Placement:
    function: Function
    base: int  # first slot of the function in the linked program


def decode_slots(code: bytes) -> list[Slot]:
    return [list(_SLOT.unpack_from(code, i)) for i in range(0, len(code) - 7, 8)]


def section_slots(sec: Section) -> list[Slot]:
    if len(sec.data) % 8:
        raise InputError(f"section {sec.name} size {len(sec.data)} is not a multiple of 8")
    return decode_slots(sec.data)


def encode_slots(slots: list[Slot]) -> bytes:
    return b"".join(_SLOT.pack(*s) for s in slots)


class Linker:
    """Links programs of one object; ``resolve_data`` maps a relocation to a :class:`DataRef`."""

    def __init__(
        self,
        obj: ObjectFile,
        functions: dict[int, list[Function]],
        slots: dict[int, list[Slot]],
        resolve_data: Callable[[Reloc, int], DataRef | None],
        resolve_kfunc: Callable[[str], int | None],
    ) -> None:
        self.obj = obj
        self.functions = functions
        self.slots = slots
        self.resolve_data = resolve_data
        self.resolve_kfunc = resolve_kfunc
        self.relocs = {idx: {r.offset: r for r in entries} for idx, entries in obj.relocs.items()}

    def link(self, main: Function) -> tuple[list[Slot], list[Placement]]:
        out: list[Slot] = []
        placements: list[Placement] = []
        placed: dict[tuple[int, int], int] = {}

        def place(func: Function) -> int:
            key = (func.section.index, func.start)
            if key not in placed:
                placed[key] = len(out)
                placements.append(Placement(func, len(out)))
                body = self.slots[func.section.index][func.start : func.start + func.nslots]
                out.extend([list(s) for s in body])
            return placed[key]

        place(main)
        done = 0
        while done < len(placements):
            where = placements[done]
            done += 1
            for i in range(where.function.nslots):
                self._relocate(main, where, i, out, place)
        return out, placements

    def _target(self, sec: Section, slot: int, main: Function) -> Function:
        for func in self.functions.get(sec.index, []):
            if func.contains(slot):
                return func
        raise InputError(
            f"prog '{main.name}': call target insn {slot} of section '{sec.name}' is in no function"
        )

    def _relocate(
        self, main: Function, where: Placement, i: int, out: list[Slot],
        place: Callable[[Function], int],
    ) -> None:  # fmt: skip
        func = where.function
        pc = where.base + i
        insn = out[pc]
        sec_slot = func.start + i
        rel = self.relocs.get(func.section.index, {}).get(sec_slot * 8)
        code, src = insn[0], insn[1] >> 4
        is_call = code == CALL_CODE
        if rel is None:
            if is_call and src == CallSrc.PSEUDO_CALL:  # a call within the same section
                callee = self._target(func.section, sec_slot + insn[3] + 1, main)
                insn[3] = place(callee) + (sec_slot + insn[3] + 1 - callee.start) - pc - 1
            return
        sym = rel.symbol
        if code == LD_IMM64_CODE:
            self._relocate_ld_imm64(main, rel, pc, out, place)
        elif is_call and sym.shndx == 0:
            btf_id = self.resolve_kfunc(sym.name)
            if btf_id is None:
                raise InputError(
                    f"prog '{main.name}': unresolved call to extern function '{sym.name}'"
                )
            insn[1] = (insn[1] & 0x0F) | (CallSrc.KFUNC_CALL << 4)
            insn[3] = btf_id
        elif is_call and src == CallSrc.PSEUDO_CALL:
            target_sec = self._exec_section(main, sym.shndx, sym.name)
            target = sym.value // 8 + insn[3] + 1
            callee = self._target(target_sec, target, main)
            insn[3] = place(callee) + (target - callee.start) - pc - 1
        elif is_call:
            return  # a helper call with a (debug) relocation: nothing to patch
        else:
            raise InputError(
                f"prog '{main.name}': invalid relo against '{sym.name}' for "
                f"insns[{pc}].code {code:#x}"
            )

    def _exec_section(self, main: Function, shndx: int, name: str) -> Section:
        if shndx <= 0 or not self.obj.sections[shndx].executable:
            raise InputError(f"prog '{main.name}': bad call relo against '{name}'")
        return self.obj.sections[shndx]

    def _relocate_ld_imm64(
        self, main: Function, rel: Reloc, pc: int, out: list[Slot],
        place: Callable[[Function], int],
    ) -> None:  # fmt: skip
        insn, sym = out[pc], rel.symbol
        if pc + 1 >= len(out):
            raise InputError(f"prog '{main.name}': truncated ld_imm64 at insn {pc}")
        if sym.shndx > 0 and self.obj.sections[sym.shndx].executable:
            target_sec = self.obj.sections[sym.shndx]
            target = sym.value // 8 + insn[3] // 8
            callee = self._target(target_sec, target, main)
            insn[1] = (insn[1] & 0x0F) | (PseudoSrc.FUNC << 4)
            insn[3] = place(callee) + (target - callee.start) - pc - 1
            return
        ref = self.resolve_data(rel, insn[3])
        if ref is None:
            where = self.obj.sections[sym.shndx].name if sym.shndx > 0 else "extern"
            raise InputError(
                f"prog '{main.name}': bad data relo against '{sym.name}' in section '{where}'"
            )
        if ref.value_off is None:
            insn[1] = (insn[1] & 0x0F) | (PseudoSrc.MAP_FD << 4)
            insn[3] = ref.map_index
        else:
            insn[1] = (insn[1] & 0x0F) | (PseudoSrc.MAP_VALUE << 4)
            insn[3] = ref.map_index
            out[pc + 1][3] = ref.value_off
