"""The call half of ``bpf_do_misc_fixups``: tail calls, inlined map lookups, kfuncs, and the
resolution of every remaining helper call into the program's runtime call table.

* ``bpf_tail_call`` becomes the interpreter's own ``JMP | TAIL_CALL`` instruction (``imm``
  0). At run time it checks the index against the prog array's ``max_entries`` and the
  per-run count against ``MAX_TAIL_CALL_CNT`` (33), and falls through when either fails or the
  slot is empty. An unprivileged program also gets the kernel's Spectre-v1 prefix: ``if r3 >=
  max_entries goto +2; w3 &= index_mask`` (which needs the verifier's map; a call that saw
  several maps is ``tail_call abusing map_ptr``).
* ``bpf_map_lookup_elem`` on a single array map (``map_gen_lookup`` of ``arraymap.c``) becomes
  inline code over bpfvm's map handle: load the value area's address from the handle
  (``data_addr``), bound-check the u32 index against ``max_entries`` (and mask it for an
  unprivileged loader), multiply by the element size (a shift when it is a power of two),
  add; NULL when out of bounds. Same result as the helper.
* kfunc calls: ``bpf_cast_to_kern_ctx``/``bpf_rdonly_cast`` are ``r0 = r1`` when the kfunc's
  name is known; any other kfunc makes the program require the JIT.
* every other helper call: ``imm`` becomes the index of a :class:`RuntimeFunc` in the
  program's call table (the kernel makes it the helper's address). A helper the runtime does
  not implement fails as ``not inlined functions %s#%d is missing func``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bpfvm.fixups.aux import MAP_POISONED, InsnAux
from bpfvm.fixups.build import (
    alu32_imm,
    alu64_imm,
    alu64_reg,
    ja,
    jmp_imm,
    ldx_mem,
    mov64_imm,
    mov64_reg,
)
from bpfvm.fixups.errors import EINVAL, FixupError
from bpfvm.fixups.program import TAIL_CALL_CODE, RuntimeFunc
from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import AluOp, JmpOp
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType

FUNC_TAIL_CALL = HELPER_IDS["bpf_tail_call"]
FUNC_MAP_LOOKUP = HELPER_IDS["bpf_map_lookup_elem"]
BPF_F_INNER_MAP = 1 << 12
HANDLE_DATA_ADDR = 32  # runtime map handle: u64 address of the value area (maps/base.py)
R0, R1, R2, R3 = 0, 1, 2, 3
INLINE_KFUNCS = frozenset({"bpf_cast_to_kern_ctx", "bpf_rdonly_cast"})


@dataclass
class CallState:
    """What the call rewrites accumulate over the pass."""

    table: list[RuntimeFunc] = field(default_factory=list)
    jit_required: str = ""

    def index_of(self, func: RuntimeFunc) -> int:
        if func not in self.table:
            self.table.append(func)
        return self.table.index(func)


def index_mask(max_entries: int) -> int:
    """``array->index_mask``: ``roundup_pow_of_two(max_entries) - 1``."""
    return (1 << max(max_entries - 1, 0).bit_length()) - 1


def tail_call_patch(
    insn: Insn, aux: InsnAux, maps: tuple[MapSpec, ...], privileged: bool
) -> list[Insn]:
    call = Insn(TAIL_CALL_CODE, 0, 0, 0, 0)
    if privileged or aux.map_idx == -1:
        return [call]
    if aux.map_idx == MAP_POISONED:
        raise FixupError("tail_call abusing map_ptr", EINVAL)
    m = maps[aux.map_idx]
    mask = index_mask(m.max_entries)
    return [
        jmp_imm(JmpOp.JGE, R3, m.max_entries, 2),
        alu32_imm(AluOp.AND, R3, mask),
        call,
    ]


def array_lookup_inline(m: MapSpec, privileged: bool) -> list[Insn] | None:
    """``array_map_gen_lookup`` over bpfvm's handle, or None when it does not apply."""
    if m.type != MapType.ARRAY or m.map_flags & BPF_F_INNER_MAP or m.max_entries >= 1 << 31:
        return None
    elem = (m.value_size + 7) & ~7
    if elem.bit_count() == 1:
        scale = alu64_imm(AluOp.LSH, R0, elem.bit_length() - 1)
    else:
        scale = alu64_imm(AluOp.MUL, R0, elem)
    body = [
        ldx_mem(8, R1, R1, HANDLE_DATA_ADDR),
        ldx_mem(4, R0, R2, 0),
    ]
    if privileged:
        body.append(jmp_imm(JmpOp.JGE, R0, m.max_entries, 3))
    else:
        body.append(jmp_imm(JmpOp.JGE, R0, m.max_entries, 4))
        body.append(alu32_imm(AluOp.AND, R0, index_mask(m.max_entries)))
    body += [scale, alu64_reg(AluOp.ADD, R0, R1), ja(1), mov64_imm(R0, 0)]
    return body


_FOR_EACH_OPS = {
    MapType.ARRAY: "bpf_for_each_array_elem",
    MapType.PERCPU_ARRAY: "bpf_for_each_array_elem",
    MapType.HASH: "bpf_for_each_hash_elem",
    MapType.LRU_HASH: "bpf_for_each_hash_elem",
    MapType.PERCPU_HASH: "bpf_for_each_hash_elem",
    MapType.LRU_PERCPU_HASH: "bpf_for_each_hash_elem",
}
_SPECIAL_OPS = {  # map->ops entries whose name does not follow PREFIX_OP
    (MapType.QUEUE, "bpf_map_push_elem"): "queue_stack_map_push_elem",
    (MapType.STACK, "bpf_map_push_elem"): "queue_stack_map_push_elem",
    (MapType.ARRAY_OF_MAPS, "bpf_map_lookup_elem"): "array_of_map_lookup_elem",
    (MapType.HASH_OF_MAPS, "bpf_map_lookup_elem"): "htab_of_map_lookup_elem",
}


def map_ops_name(m: MapSpec, helper: str) -> str:
    """The runtime function a map helper on a known map resolves to (``map->ops``)."""
    if helper == "bpf_for_each_map_elem":
        return _FOR_EACH_OPS.get(MapType(m.type), helper)
    special = _SPECIAL_OPS.get((MapType(m.type), helper))
    if special is not None:
        return special
    prefix = {
        MapType.ARRAY: "array_map",
        MapType.PERCPU_ARRAY: "percpu_array_map",
        MapType.HASH: "htab_map",
        MapType.LRU_HASH: "htab_lru_map",
        MapType.PERCPU_HASH: "htab_percpu_map",
        MapType.LRU_PERCPU_HASH: "htab_lru_percpu_map",
        MapType.LPM_TRIE: "trie",
        MapType.QUEUE: "queue_map",
        MapType.STACK: "stack_map",
    }.get(MapType(m.type))
    op = helper.removeprefix("bpf_map_")
    if prefix is None or helper == op:
        return helper
    return f"{prefix}_{op}"


MAP_OPS_HELPERS = frozenset(
    HELPER_IDS[n]
    for n in (
        "bpf_map_lookup_elem",
        "bpf_map_update_elem",
        "bpf_map_delete_elem",
        "bpf_map_push_elem",
        "bpf_map_pop_elem",
        "bpf_map_peek_elem",
        "bpf_map_lookup_percpu_elem",
        "bpf_for_each_map_elem",
    )
)


def helper_call_patch(
    insn: Insn,
    aux: InsnAux,
    maps: tuple[MapSpec, ...],
    state: CallState,
    helper_ids: frozenset[int] | None,
    privileged: bool,
    inline_lookups: bool,
    seen_facts: bool = True,
) -> list[Insn] | None:
    """The replacement of one helper call (None: unchanged), updating ``state``."""
    hid = insn.imm
    if hid == FUNC_TAIL_CALL:
        return tail_call_patch(insn, aux, maps, privileged)
    known_map = maps[aux.map_idx] if 0 <= aux.map_idx < len(maps) else None
    if hid == FUNC_MAP_LOOKUP and known_map is not None and inline_lookups:
        inline = array_lookup_inline(known_map, privileged)
        if inline is not None:
            return inline
    name = HELPER_NAMES.get(hid, f"unknown#{hid}")
    if not seen_facts and (hid not in HELPER_NAMES or (helper_ids and hid not in helper_ids)):
        return None  # maybe dead code (libbpf's poisoned CO-RE call): the verifier would know
    if helper_ids is not None and hid not in helper_ids:
        raise FixupError(f"not inlined functions {name}#{hid} is missing func", EINVAL)
    if known_map is not None and hid in MAP_OPS_HELPERS:
        name = map_ops_name(known_map, name)
    index = state.index_of(RuntimeFunc(name, hid))
    return [replace(insn, imm=index)]


def kfunc_call_patch(insn: Insn, kfunc_name: str | None, state: CallState) -> list[Insn] | None:
    if kfunc_name in INLINE_KFUNCS:
        return [mov64_reg(R0, R1)]
    if not state.jit_required:
        state.jit_required = "kfunc calls"
    return None
