"""The facts the fixup stage needs, per instruction and per subprogram (``insn_aux_data``,
``bpf_subprog_info``), and where they come from.

The fixup passes never run an analysis of their own that decides *safety*: the facts they
rewrite with (which pointer type an access used, which map a helper call sees, which branch
was never taken, whether ``bpf_loop`` may be inlined) are the verifier's. This module defines
those facts as bpfvm's own records, so that the fixups do not depend on how the verifier
stores them, and fills them from one of two sources:

* :func:`aux_from_verifier` reads a ``VerifierResult`` (``bpfvm.verifier``), duck-typed: a
  field the verifier does not produce yet keeps its conservative default;
* :func:`bpfvm.fixups.analysis.standalone_aux` derives only what the instruction text proves
  (reachability, subprogram extents, a sound over-estimate of each frame's stack depth) and
  leaves every verifier-only fact unset, so the passes that need them do nothing.

Invariant: ``FixupAux.insns`` has one entry per *slot* (a ``ld_imm64`` has two), indexed as
the kernel indexes ``insn_aux_data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bpfvm.platform.arg_types import RegBase

MAP_NONE = -1  # no map seen at this call
MAP_POISONED = -2  # several maps reach this call (BPF_MAP_PTR_POISON)


@dataclass(frozen=True, slots=True)
class LoopInline:
    """``bpf_loop_inline_state``: the verifier proved ``flags == 0`` and a single callback."""

    fit_for_inline: bool
    callback_subprog: int  # index of the callback's subprogram


@dataclass(frozen=True, slots=True)
class InsnAux:
    """Per-slot facts (``struct bpf_insn_aux_data``, the fields the fixups read)."""

    seen: bool = True  # the verifier reached this instruction
    orig_idx: int = -1  # the instruction's index in the program as loaded (for messages)
    ptr_type: int = RegBase.NOT_INIT  # what a LDX/STX/ST/atomic accessed (save_aux_ptr_type)
    ctx_field_size: int = 0  # ctx loads: the size of the whole field (narrow loads)
    map_idx: int = MAP_NONE  # helper calls on a map, tail calls: which map (index in maps)
    map_key: int | None = None  # constant key of that call, when known
    zext_dst: bool = False  # a 32-bit definition whose upper half is read as 64 bits
    needs_zext: bool = False  # an ALU64 op the verifier found needs only 32 bits
    loop_inline: LoopInline | None = None  # at a `call bpf_loop`
    fastcall_spills: int = 0  # at a fastcall call: spill/fill pairs around it to remove
    jmp_target: bool = False  # an indirect jump target (kept on the first insn of a patch)


@dataclass(frozen=True, slots=True)
class SubprogAux:
    """Per-subprogram facts (``struct bpf_subprog_info``)."""

    start: int
    stack_depth: int = 0  # bytes of r10 stack the verifier saw used
    in_stack_args: int = 0  # stack arguments (r11 + off) it reads: nargs - 5
    out_stack_args: int = 0  # highest outgoing stack-arg slot (r11 - off) it writes
    tail_call_reachable: bool = False
    is_async_cb: bool = False
    is_exception_cb: bool = False
    keep_fastcall_stack: bool = False
    fastcall_stack_off: int = 0  # the stack depth without the fastcall spill area


@dataclass(frozen=True)
class FixupAux:
    """Everything the passes may ask about one program."""

    insns: tuple[InsnAux, ...]
    subprogs: tuple[SubprogAux, ...]
    source: str  # "verifier" or "standalone"
    privileged: bool = True  # bpf_capable(): hard-wire and remove dead code
    seen_direct_write: bool = False  # the program writes packet data directly
    # Facts this source cannot provide; the passes that need them are skipped (and say so).
    missing: frozenset[str] = field(default_factory=frozenset)

    def has(self, fact: str) -> bool:
        return fact not in self.missing

    def with_insn(self, idx: int, **changes: Any) -> FixupAux:
        insns = list(self.insns)
        insns[idx] = replace(insns[idx], **changes)
        return replace(self, insns=tuple(insns))


# Facts only the verifier can give (what `standalone_aux` leaves missing).
FACT_SEEN = "seen"  # per-insn visited bits (branches and code the verifier never reached)
FACT_PTR_TYPE = "ptr_type"  # pointer type per memory access (ctx conversion)
FACT_MAP_PTR = "map_ptr"  # map per helper call (inline lookups, tail-call bounds)
FACT_LOOP_INLINE = "loop_inline"
FACT_FASTCALL = "fastcall"
FACT_ZEXT = "zext"
VERIFIER_FACTS = frozenset(
    {FACT_SEEN, FACT_PTR_TYPE, FACT_MAP_PTR, FACT_LOOP_INLINE, FACT_FASTCALL, FACT_ZEXT}
)


def _insn_aux_from(v: Any, idx: int) -> InsnAux:
    """One verifier ``InsnAux`` (any object with the kernel's field names) as ours."""
    loop = _loop_inline_from(v)
    map_idx = int(getattr(v, "map_idx", MAP_NONE))
    return InsnAux(
        seen=bool(getattr(v, "seen", True)),
        orig_idx=int(getattr(v, "orig_idx", idx)),
        ptr_type=int(getattr(v, "ptr_type", RegBase.NOT_INIT)) & 0xFF,
        ctx_field_size=int(getattr(v, "ctx_field_size", 0)),
        map_idx=map_idx if map_idx >= MAP_POISONED else MAP_POISONED,
        map_key=getattr(v, "map_key", None),
        zext_dst=bool(getattr(v, "zext_dst", False)),
        needs_zext=bool(getattr(v, "needs_zext", False)),
        loop_inline=loop,
        fastcall_spills=int(getattr(v, "fastcall_spills_num", 0) or 0),
        jmp_target=bool(getattr(v, "indirect_target", False)),
    )


def _loop_inline_from(v: Any) -> LoopInline | None:
    """``loop_inline_state``: ours, or the verifier's (``fit_for_inline`` and
    ``callback_subprogno``, set at every ``call bpf_loop`` it reached)."""
    loop = getattr(v, "loop_inline", None)
    if isinstance(loop, LoopInline):
        return loop
    if loop is not None:
        sub = getattr(loop, "callback_subprogno", getattr(loop, "callback_subprog", -1))
        return LoopInline(bool(getattr(loop, "fit_for_inline", False)), int(sub))
    if getattr(v, "loop_fit_for_inline", False):
        return LoopInline(True, int(getattr(v, "loop_callback_subprog", -1)))
    return None


def _subprogs_from(result: Any, starts: Sequence[int]) -> tuple[SubprogAux, ...]:
    depths = list(getattr(result, "stack_depths", ()) or ())
    infos = list(getattr(result, "subprogs", ()) or ())
    out = []
    for i, start in enumerate(starts):
        info = infos[i] if i < len(infos) else None
        depth = depths[i] if i < len(depths) else getattr(info, "stack_depth", 0)
        out.append(
            SubprogAux(
                start=start,
                stack_depth=int(depth or 0),
                in_stack_args=int(getattr(info, "in_stack_arg_cnt", 0) or 0),
                out_stack_args=int(getattr(info, "max_out_stack_arg_cnt", 0) or 0),
                tail_call_reachable=bool(getattr(info, "tail_call_reachable", False)),
                is_async_cb=bool(getattr(info, "is_async_cb", False)),
                is_exception_cb=bool(getattr(info, "is_exception_cb", False)),
                keep_fastcall_stack=bool(getattr(info, "keep_fastcall_stack", False)),
                fastcall_stack_off=int(getattr(info, "fastcall_stack_off", 0) or 0),
            )
        )
    return tuple(out)


def aux_from_verifier(
    result: Any, func_starts: Sequence[int], nslots: int, privileged: bool = True
) -> FixupAux:
    """The facts of an accepted ``VerifierResult``.

    Reads ``result.aux`` (one entry per slot, the verifier's ``InsnAux``), ``result.stack_depths``
    (one per subprogram) and, when present, ``result.subprogs`` (``bpf_subprog_info``-like) and
    ``result.seen_direct_write``. Raises ValueError for a rejected program or a table of the
    wrong length.
    """
    if not getattr(result, "accepted", False):
        raise ValueError(f"the verifier rejected the program: {getattr(result, 'error', '')}")
    raw = list(getattr(result, "aux", ()) or ())
    if len(raw) != nslots:
        raise ValueError(f"verifier aux has {len(raw)} entries for {nslots} slots")
    missing = {f for f in VERIFIER_FACTS if not _provides(raw, f)}
    return FixupAux(
        insns=tuple(_insn_aux_from(v, i) for i, v in enumerate(raw)),
        subprogs=_subprogs_from(result, func_starts),
        source="verifier",
        privileged=privileged,
        seen_direct_write=bool(getattr(result, "seen_direct_write", False)),
        missing=frozenset(missing),
    )


_FACT_FIELDS = {
    FACT_SEEN: ("seen",),
    FACT_PTR_TYPE: ("ptr_type",),
    FACT_MAP_PTR: ("map_idx",),
    FACT_LOOP_INLINE: ("loop_inline", "loop_fit_for_inline"),
    FACT_FASTCALL: ("fastcall_spills_num",),
    FACT_ZEXT: ("zext_dst",),
}


def _provides(raw: Sequence[Any], fact: str) -> bool:
    if not raw:
        return True
    return any(hasattr(raw[0], name) for name in _FACT_FIELDS[fact])
