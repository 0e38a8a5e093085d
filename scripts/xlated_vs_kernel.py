#!/usr/bin/env python3
"""bpfvm's xlated program next to the running kernel's, for the example objects.

    scripts/xlated_vs_kernel.py                          # every examples/c/*.bpf.o program
    scripts/xlated_vs_kernel.py --prog xdp_firewall examples/c/xdp_firewall.bpf.o
    scripts/xlated_vs_kernel.py --summary                # only the per-program summary table

For each program: bpfvm's xlated program (verified, fixed up with the verifier's facts, as
``bpfvm xlated`` does) and the kernel's (the object loaded as libbpf would, then
``bpf_prog_info.xlated_prog_insns``, what ``bpftool prog dump xlated`` prints), both printed in
the kernel's syntax by bpfvm's xlated formatter, aligned in two columns, then a summary of the
pass effects on each side. Needs root (``bpf()``); bpftool is not used.

The kernel does not say which original instruction an xlated one came from. bpfvm's side
knows (``InsnAux.orig_idx``); the kernel's is attributed by aligning its instructions with
the original program (:func:`attribute`): exact matches first (jump offsets, call targets and
map addresses ignored), then same opcode and registers, then what is left of each gap belongs
to the original instruction before it, and originals left with nothing were removed.
:func:`attribute` applied to bpfvm's own xlated program reproduces ``orig_idx`` on every
example (tests/kernel/test_xlated_vs_kernel.py checks it), which is what the kernel-side
figures rest on.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpfvm.kernel.syscall as sc
from bpfvm.cli.xlated import verifier_facts
from bpfvm.errors import BpfvmError
from bpfvm.fixups import FixupAux, FixupOptions, XlatedProgram, fixup, start
from bpfvm.fixups.dump import format_xlated_insn
from bpfvm.fixups.program import CALL_ARGS_CODE, TAIL_CALL_CODE, RuntimeFunc
from bpfvm.isa.codec import decode
from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.isa.insn import LD_IMM64_CODE, Insn, slot_pcs
from bpfvm.isa.opcodes import AluOp, CallSrc, InsnClass, JmpOp, Mode, PseudoSrc
from bpfvm.kernel.loader import KernelVerdict, ObjectExtras, load_program
from bpfvm.platform.arg_types import RegBase
from bpfvm.program.model import Program
from tests.verifier.objects import EXAMPLES, ObjectEntry, iter_objects

FUNC_MAP_LOOKUP_ELEM = HELPER_IDS["bpf_map_lookup_elem"]
FUNC_TAIL_CALL = HELPER_IDS["bpf_tail_call"]
FUNC_LOOP = HELPER_IDS["bpf_loop"]
CALL_CODE = InsnClass.JMP | JmpOp.CALL
JCOND_CODE = InsnClass.JMP | JmpOp.JCOND

# Kernel functions that stand for a helper in an xlated program (``map->ops`` called
# directly by do_misc_fixups, ``map_gen_lookup``'s out-of-line part, gen_ld_abs's helpers).
_MAP_OP_SUFFIXES = {  # first match wins (trie_lookup_elem, htab_map_lookup_elem, ...)
    "_lookup_percpu_elem": "bpf_map_lookup_percpu_elem",
    "_lookup_elem": "bpf_map_lookup_elem",
    "_update_elem": "bpf_map_update_elem",
    "_delete_elem": "bpf_map_delete_elem",
    "_push_elem": "bpf_map_push_elem",
    "_pop_elem": "bpf_map_pop_elem",
    "_peek_elem": "bpf_map_peek_elem",
    "_map_redirect": "bpf_redirect_map",
}
LD_ABS_HELPER = -100  # bpf_skb_load_helper_*: gen_ld_abs's out-of-line part


def helper_of(name: str) -> int:
    """The helper id a runtime function name stands for (-1 unknown)."""
    if name in HELPER_IDS:
        return HELPER_IDS[name]
    if name.startswith("bpf_skb_load_helper_"):
        return LD_ABS_HELPER
    if name.startswith("bpf_for_each_") and name.endswith("_elem"):  # map_for_each_callback
        return HELPER_IDS["bpf_for_each_map_elem"]
    for suffix, helper in _MAP_OP_SUFFIXES.items():
        if name.endswith(suffix):
            return HELPER_IDS[helper]
    return -1


# --- the kernel's side -------------------------------------------------------------------------


class KallSyms:
    """Kernel text symbols by address, to name the helper calls of an xlated program (their
    ``imm`` is the function's address minus ``__bpf_call_base``, as bpftool resolves them)."""

    def __init__(self, path: str = "/proc/kallsyms") -> None:
        self.by_addr: dict[int, str] = {}
        self.base = 0
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] in "tTwW":
                    addr = int(parts[0], 16)
                    self.by_addr.setdefault(addr, parts[2])
                    if parts[2] == "__bpf_call_base":
                        self.base = addr
        if not self.base:  # addresses hidden (kptr_restrict): names unknown
            self.by_addr = {}

    def name(self, imm: int) -> str:
        if imm == FUNC_TAIL_CALL:  # bpf_insn_prepare_dump: TAIL_CALL -> call imm=12
            return "bpf_tail_call"
        found = self.by_addr.get(self.base + imm) if self.base else None
        return found or f"helper@{imm & 0xFFFFFFFF:#x}"


@dataclass(frozen=True)
class KernelSide:
    verdict: KernelVerdict
    insns: tuple[Insn, ...]  # as dumped (calls still carry the address-relative imm)


@contextlib.contextmanager
def _capture_xlated() -> Iterator[list[bytes]]:
    """Record the xlated program of every program ``load_program`` gets accepted."""
    got: list[bytes] = []
    load = sc.prog_load_ex

    def capture(*args: object, **kwargs: object) -> tuple[sc.LoadedProg | None, sc.LoadResult]:
        prog, res = load(*args, **kwargs)  # type: ignore[arg-type]
        if prog is not None:
            got.append(sc.prog_xlated_insns(prog.fd))
        return prog, res

    sc.prog_load_ex = capture
    try:
        yield got
    finally:
        sc.prog_load_ex = load


def kernel_xlated(program: Program, extras: ObjectExtras) -> KernelSide:
    """Load ``program`` as libbpf would and read back the kernel's xlated instructions."""
    with _capture_xlated() as got:
        verdict = load_program(program, extras=extras)
    raw = got[-1] if got and verdict.accepted else b""
    return KernelSide(verdict, tuple(decode(raw, validate=False)) if raw else ())


def kernel_as_xlated(program: Program, aux: FixupAux, insns: Sequence[Insn]) -> XlatedProgram:
    """The kernel's instructions as an :class:`XlatedProgram` bpfvm's formatter prints: helper
    calls index a call table of the kernel functions they call, bpf-to-bpf calls carry their
    relative target in ``imm`` (the JIT keeps it in ``off``, the subprogram in ``imm``)."""
    syms = _kallsyms()
    table: list[RuntimeFunc] = []
    index: dict[str, int] = {}
    out = []
    for insn in insns:
        if insn.code == CALL_CODE and insn.src == 0:
            name = syms.name(insn.imm)
            if name not in index:
                index[name] = len(table)
                table.append(RuntimeFunc(name, helper_of(name)))
            insn = replace(insn, imm=index[name])
        elif insn.code == CALL_CODE and insn.src == CallSrc.PSEUDO_CALL and insn.off:
            insn = replace(insn, imm=insn.off, off=0)
        out.append(insn)
    return replace(start(program, aux), insns=tuple(out), call_table=tuple(table), passes=())


_SYMS: list[KallSyms] = []


def _kallsyms() -> KallSyms:
    if not _SYMS:
        _SYMS.append(KallSyms())
    return _SYMS[0]


# --- instruction keys and attribution ----------------------------------------------------------


def call_name(insn: Insn, prog: XlatedProgram | None) -> str | None:
    """The helper a call instruction calls (runtime function name), None if not a helper call."""
    if insn.code == TAIL_CALL_CODE:
        return "bpf_tail_call"
    if insn.code != CALL_CODE or insn.src != 0:
        return None
    if prog is not None and prog.call_table and 0 <= insn.imm < len(prog.call_table):
        return prog.call_table[insn.imm].name
    return HELPER_NAMES.get(insn.imm, f"helper#{insn.imm}")


def call_helper(insn: Insn, prog: XlatedProgram | None) -> int | None:
    """The helper id a call stands for (None: not a helper call)."""
    name = call_name(insn, prog)
    if name is None:
        return None
    if prog is not None and prog.call_table and insn.code == CALL_CODE:
        return prog.call_table[insn.imm].helper_id
    return helper_of(name)


def strict_key(insn: Insn, prog: XlatedProgram | None) -> Hashable:
    """What must agree for two instructions to be "the same" across programs: everything but
    jump offsets, call targets and map/function addresses."""
    helper = call_helper(insn, prog)
    if helper is not None:
        return ("call", helper)
    cls = insn.code & 0x07
    if insn.code in (CALL_CODE, CALL_ARGS_CODE) and (insn.code != CALL_CODE or insn.src):
        return ("pcall", insn.src if insn.code == CALL_CODE else CallSrc.PSEUDO_CALL)
    if insn.code == LD_IMM64_CODE:
        if insn.src in (PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX):
            return ("map", insn.dst)
        if insn.src in (PseudoSrc.MAP_VALUE, PseudoSrc.MAP_IDX_VALUE):
            return ("map_value", insn.dst, insn.imm_hi)
        if insn.src:
            return ("ld64", insn.dst, insn.src)
        return ("ld64", insn.dst, insn.imm64)
    if cls in (InsnClass.JMP, InsnClass.JMP32) and insn.code & 0xF0 == JmpOp.JA:
        return ("ja",)
    if cls in (InsnClass.JMP, InsnClass.JMP32) and insn.code != JCOND_CODE:
        return (insn.code, insn.dst, insn.src, insn.imm)
    return (insn.code, insn.dst, insn.src, insn.off, insn.imm)


def loose_key(insn: Insn, prog: XlatedProgram | None) -> Hashable:
    """Same opcode and registers (a rewritten offset or immediate still lines up)."""
    key = strict_key(insn, prog)
    if not isinstance(key, tuple) or not isinstance(key[0], int):
        return key
    if insn.code & 0x07 in (InsnClass.LDX, InsnClass.ST, InsnClass.STX):
        return (insn.code & 0xE7, insn.dst, insn.src)  # a converted ctx access changes size
    return key[:3]


KeyFunc = Callable[[Insn, XlatedProgram | None], Hashable]


def _match(orig: Sequence[Hashable], xl: Sequence[Hashable]) -> list[tuple[int, int, int]]:
    sm = difflib.SequenceMatcher(None, orig, xl, autojunk=False)
    return [b for b in sm.get_matching_blocks() if b.size]


@dataclass(frozen=True)
class Model:
    """An xlated program whose instructions' originals are known (bpfvm's), used as the first
    reference when attributing another xlated program of the same original."""

    insns: Sequence[Insn]
    prog: XlatedProgram
    where: Sequence[int]


def attribute(
    original: Sequence[Insn],
    xlated: Sequence[Insn],
    prog: XlatedProgram | None,
    model: Model | None = None,
) -> list[int]:
    """For each xlated instruction, the index (in ``original``, instructions not slots) of the
    original instruction it is attributed to; see the module docstring."""
    out = [-1] * len(xlated)
    if model is not None:
        mk = [strict_key(i, model.prog) for i in model.insns]
        xk = [strict_key(i, prog) for i in xlated]
        sm = difflib.SequenceMatcher(None, mk, xk, autojunk=False)
        for tag, a0, a1, b0, b1 in sm.get_opcodes():
            if tag == "equal":
                out[b0:b1] = model.where[a0:a1]
            elif tag == "replace" and len(set(model.where[a0:a1])) == 1:
                out[b0:b1] = [model.where[a0]] * (b1 - b0)  # one original, patched otherwise
    # Between two attributed instructions (originals p and n), what is left is matched with
    # the originals after p and before n: exact keys, then opcode and registers; a run still
    # left is shared out among the originals of its range in order, or belongs to p (a patch
    # grows after its original) when the range is empty.
    keys: tuple[KeyFunc, ...] = (strict_key, loose_key)
    o_keys = [[k(i, None) for i in original] for k in keys]
    x_keys = [[k(i, prog) for i in xlated] for k in keys]

    def solve(o0: int, o1: int, x0: int, x1: int, level: int) -> None:
        if x0 >= x1:
            return
        if o0 >= o1:
            owner = o1 if o1 < len(original) and _prepends(original[o1]) else o0 - 1
            for j in range(x0, x1):
                out[j] = owner  # -1: before the first original (a prologue)
            return
        if level == len(keys):
            m, r = o1 - o0, x1 - x0
            for i in range(r):
                out[x0 + i] = o0 + min(i * m // r, m - 1)
            return
        po, px = o0, x0
        for a, b, size in _match(o_keys[level][o0:o1], x_keys[level][x0:x1]):
            solve(po, o0 + a, px, x0 + b, level + 1)
            for k in range(size):
                out[x0 + b + k] = o0 + a + k
            po, px = o0 + a + size, x0 + b + size
        solve(po, o1, px, x1, level + 1)

    j = 0
    prev = -1
    while j < len(xlated):
        if out[j] >= 0:
            prev = out[j]
            j += 1
            continue
        end = j
        while end < len(xlated) and out[end] < 0:
            end += 1
        nxt = out[end] if end < len(xlated) else len(original)
        solve(prev + 1, nxt, j, end, 0)
        j = end
    _settle_jumps(original, xlated, prog, out)
    return out


def _prepends(insn: Insn) -> bool:
    """Whether the kernel's patch of ``insn`` puts instructions before it (div/mod guards,
    the unprivileged tail call's index check)."""
    return _is_div_mod(insn) or (insn.code == CALL_CODE and insn.imm == FUNC_TAIL_CALL)


def _jump_target(insns: Sequence[Insn], k: int) -> int | None:
    """The index (in ``insns``) a jump at index ``k`` lands on, None if not a jump."""
    insn = insns[k]
    cls = insn.code & 0x07
    op = insn.code & 0xF0
    if cls not in (InsnClass.JMP, InsnClass.JMP32) or op in (JmpOp.CALL, JmpOp.EXIT):
        return None
    pcs = slot_pcs(list(insns))
    rel = insn.imm if cls == InsnClass.JMP32 and op == JmpOp.JA else insn.off
    where = pcs[k] + insn.width + rel
    return pcs.index(where) if where in pcs else None


def _settle_jumps(
    original: Sequence[Insn], xlated: Sequence[Insn], prog: XlatedProgram | None, out: list[int]
) -> None:
    """When several xlated jumps of one original's patch look like the original (a patch of the
    previous original ends with the same test, as ``map_gen_lookup``'s NULL check), the
    original is the one that lands where the original lands; those before it belong to the
    previous original."""
    for k, insn in enumerate(original):
        target = _jump_target(original, k)
        if target is None or k == 0:
            continue
        key = strict_key(insn, None)
        patch = [j for j, o in enumerate(out) if o == k]
        same = [j for j in patch if strict_key(xlated[j], prog) == key]
        if len(same) < 2:
            continue
        for j in same:
            t = _jump_target(xlated, j)
            if t is not None and out[t] == target:
                for i in patch:
                    if i < j:
                        out[i] = k - 1
                break


def bpfvm_attribution(program: Program, xp: XlatedProgram) -> list[int]:
    """bpfvm's own record (``orig_idx``, a slot) as instruction indices."""
    slot_to_insn = {pc: k for k, pc in enumerate(slot_pcs(list(program.insns)))}
    out = []
    for pc in slot_pcs(list(xp.insns)):
        out.append(slot_to_insn.get(xp.aux.insns[pc].orig_idx, -1))
    return out


# --- pass effects ------------------------------------------------------------------------------


@dataclass
class Effects:
    """What the fixups did to one program, seen from its xlated instructions."""

    insns: int = 0
    calls: list[str] = field(default_factory=list)  # helper names, in order
    runtime_calls: list[str] = field(default_factory=list)  # the functions called
    removed: list[int] = field(default_factory=list)  # original insns with nothing left
    inlined: dict[int, str] = field(default_factory=dict)  # orig call -> helper, no call left
    ctx_rewritten: list[int] = field(default_factory=list)  # orig ctx accesses changed
    guards: list[int] = field(default_factory=list)  # orig div/mod given a guard
    may_goto: list[int] = field(default_factory=list)  # orig may_goto rewritten
    tail_calls: list[int] = field(default_factory=list)  # orig tail calls rewritten
    loop_inlined: list[int] = field(default_factory=list)  # orig bpf_loop calls inlined
    ld_abs_expanded: list[int] = field(default_factory=list)  # orig LD_ABS/LD_IND rewritten
    prologue: int = 0  # instructions before the first original's (gen_prologue)
    patches: dict[int, list[Insn]] = field(default_factory=dict)  # orig -> xlated insns

    def inline_names(self) -> str:
        """``map_lookup_elem x5``: the inlined helpers, counted."""
        names = [_short(self.inlined[k]) for k in sorted(self.inlined)]
        return ", ".join(f"{n} x{names.count(n)}" for n in dict.fromkeys(names)) or "-"


def _is_div_mod(insn: Insn) -> bool:
    cls = insn.code & 0x07
    return cls in (InsnClass.ALU, InsnClass.ALU64) and insn.code & 0xF0 in (AluOp.DIV, AluOp.MOD)


def _is_ld_abs(insn: Insn) -> bool:
    return insn.code & 0x07 == InsnClass.LD and insn.code & 0xE0 in (Mode.ABS, Mode.IND)


def effects(
    program: Program,
    ctx_accesses: set[int],
    xlated: Sequence[Insn],
    prog: XlatedProgram,
    where: Sequence[int],
) -> Effects:
    """The pass effects, given each xlated instruction's original (``where``)."""
    orig = list(program.insns)
    e = Effects(insns=len(xlated))
    for insn, o in zip(xlated, where, strict=True):
        e.patches.setdefault(o, []).append(insn)
        name = call_name(insn, prog)
        if name is not None:
            helper = call_helper(insn, prog)
            e.runtime_calls.append(name)
            e.calls.append(HELPER_NAMES.get(helper or -1, name))
    e.prologue = len(e.patches.get(-1, []))
    for k, insn in enumerate(orig):
        patch = e.patches.get(k, [])
        if not patch:
            e.removed.append(k)
            continue
        same = len(patch) == 1 and strict_key(patch[0], prog) == strict_key(insn, None)
        if insn.code == CALL_CODE and insn.src == 0:
            kept = [call_helper(i, prog) for i in patch]
            if insn.imm == FUNC_TAIL_CALL:
                e.tail_calls.append(k)
            elif insn.imm == FUNC_LOOP and FUNC_LOOP not in kept:
                e.loop_inlined.append(k)
            elif not any(h is not None and h >= 0 for h in kept):
                e.inlined[k] = HELPER_NAMES.get(insn.imm, str(insn.imm))
        elif k in ctx_accesses and not same:
            e.ctx_rewritten.append(k)
        elif _is_div_mod(insn) and len(patch) > 1:
            e.guards.append(k)
        elif insn.code == JCOND_CODE and not same:
            e.may_goto.append(k)
        elif _is_ld_abs(insn) and not same:
            e.ld_abs_expanded.append(k)
    return e


def ctx_access_insns(program: Program, aux: FixupAux) -> set[int]:
    """Original instructions (indices) the verifier saw access the context."""
    out = set()
    for k, pc in enumerate(slot_pcs(list(program.insns))):
        if aux.insns[pc].ptr_type == RegBase.PTR_TO_CTX:
            out.add(k)
    return out


# --- one program -------------------------------------------------------------------------------


@dataclass
class Comparison:
    key: str
    program: Program
    bpfvm: XlatedProgram
    kernel: XlatedProgram
    bpfvm_where: list[int]
    kernel_where: list[int]
    bpfvm_effects: Effects
    kernel_effects: Effects
    ctx_accesses: set[int]


class Skip(Exception):
    """The program cannot be compared here (the kernel or bpfvm refuses it)."""


def compare(entry: ObjectEntry, engine: str = "interp") -> Comparison:
    program = entry.program
    aux, why = verifier_facts(program, True)
    if aux is None:
        raise Skip(f"{entry.key}: no verifier facts ({why})")
    xp = fixup(program, aux, FixupOptions(engine=engine))
    ks = kernel_xlated(program, entry.extras)
    if not ks.verdict.accepted:
        raise Skip(f"{entry.key}: the kernel rejects it: {ks.verdict.error}")
    if not ks.insns:
        raise Skip(f"{entry.key}: the kernel reports no xlated instructions (privilege?)")
    kx = kernel_as_xlated(program, aux, ks.insns)
    ctx = ctx_access_insns(program, aux)
    bw = bpfvm_attribution(program, xp)
    kw = attribute(program.insns, kx.insns, kx, Model(xp.insns, xp, bw))
    return Comparison(
        entry.key,
        program,
        xp,
        kx,
        bw,
        kw,
        effects(program, ctx, xp.insns, xp, bw),
        effects(program, ctx, kx.insns, kx, kw),
        ctx,
    )


def example_entries(files: Sequence[str] = (), prog: str | None = None) -> Iterator[ObjectEntry]:
    """The example programs (all of ``examples/c`` unless ``files`` names objects)."""
    wanted = {Path(f).resolve().name for f in files}
    outside = [Path(f) for f in files if Path(f).resolve().parent != EXAMPLES.resolve()]
    if outside:
        raise SystemExit(f"only objects of {EXAMPLES} can be compared: {outside[0]}")

    def only(prefix: str) -> bool:
        name = prefix.split("/", 1)[1] if prefix.startswith("examples/") else ""
        return bool(name) and (not wanted or name in wanted)

    for entry in iter_objects(only=only):
        if prog is None or prog in (entry.program.name, entry.program.section):
            yield entry


# --- differences by design ----------------------------------------------------------------------

# Helpers the kernel inlines (or calls through map_gen_lookup) and bpfvm calls as they are.
KERNEL_ONLY_INLINES = frozenset(
    HELPER_IDS[n]
    for n in (
        "bpf_map_lookup_elem",  # map_gen_lookup of hash, LRU hash, per-CPU array, map-in-map
        "bpf_get_smp_processor_id",
        "bpf_jiffies64",
        "bpf_get_func_arg",
        "bpf_get_func_ret",
        "bpf_get_func_arg_cnt",
        "bpf_get_func_ip",
        "bpf_get_branch_snapshot",
        "bpf_kptr_xchg",
    )
)
CATEGORIES = {
    "ctx-layout": "context access converted to a different runtime structure",
    "array-lookup-address": "inlined array lookup: value area from bpfvm's handle",
    "kernel-helper-inline": "a helper the kernel inlines and bpfvm calls",
    "ld-abs": "LD_ABS/LD_IND kept by bpfvm, expanded by the kernel",
    "prologue": "the kernel's gen_prologue (bpfvm has none)",
    "unexplained": "a difference no documented category covers",
}


def _patch_keys(c: Comparison, k: int) -> tuple[list[Hashable], list[Hashable]]:
    b = [strict_key(i, c.bpfvm) for i in c.bpfvm_effects.patches.get(k, [])]
    n = [strict_key(i, c.kernel) for i in c.kernel_effects.patches.get(k, [])]
    return b, n


def classify(c: Comparison) -> dict[int, str]:
    """Each original instruction (-1: before the first) whose xlated instructions differ
    between bpfvm and the kernel, with its category (:data:`CATEGORIES`)."""
    out: dict[int, str] = {}
    for k in range(-1, len(c.program.insns)):
        b, n = _patch_keys(c, k)
        if b == n:
            continue
        if k < 0:
            out[k] = "prologue" if not b else "unexplained"
            continue
        insn = c.program.insns[k]
        bpatch = c.bpfvm_effects.patches.get(k, [])
        if k in c.ctx_accesses:
            out[k] = "ctx-layout"
        elif _is_ld_abs(insn):
            out[k] = "ld-abs"
        elif insn.code == CALL_CODE and insn.src == 0 and b and n:
            both_inline = k in c.bpfvm_effects.inlined and k in c.kernel_effects.inlined
            bname = call_name(bpatch[0], c.bpfvm) if len(bpatch) == 1 else None
            if both_inline and insn.imm == FUNC_MAP_LOOKUP_ELEM:
                out[k] = "array-lookup-address"
            elif (
                bname is not None
                and insn.imm in KERNEL_ONLY_INLINES
                and bname != "array_map_lookup_elem"
            ):
                out[k] = "kernel-helper-inline"
            else:
                out[k] = "unexplained"
        else:
            out[k] = "unexplained"
    return out


# --- text --------------------------------------------------------------------------------------


def _lines(xp: XlatedProgram, where: Sequence[int]) -> list[tuple[int, str]]:
    out = []
    for pc, insn, o in zip(slot_pcs(list(xp.insns)), xp.insns, where, strict=True):
        out.append((o, f"{pc:4d}: {format_xlated_insn(insn, pc, xp)}"))
    return out


def side_by_side(c: Comparison, width: int = 52) -> str:
    """Two columns (bpfvm | kernel) aligned on the original instruction each came from; ``!``
    marks an original whose instructions differ between the two, ``-`` one a side removed."""
    left = _lines(c.bpfvm, c.bpfvm_where)
    right = _lines(c.kernel, c.kernel_where)
    rows = [f"{'orig':>5}  {'bpfvm':<{width}}   kernel", "-" * (width * 2 + 10)]
    li = ri = 0
    for k in range(-1, len(c.program.insns)):
        lpart = []
        while li < len(left) and left[li][0] == k:
            lpart.append(left[li][1])
            li += 1
        rpart = []
        while ri < len(right) and right[ri][0] == k:
            rpart.append(right[ri][1])
            ri += 1
        bp = c.bpfvm_effects.patches.get(k, [])
        kp = c.kernel_effects.patches.get(k, [])
        same = [strict_key(i, c.bpfvm) for i in bp] == [strict_key(i, c.kernel) for i in kp]
        mark = " " if same else ("-" if not bp or not kp else "!")
        if k < 0 and same:
            continue
        for n in range(max(len(lpart), len(rpart), 1)):
            lt = lpart[n] if n < len(lpart) else ""
            rt = rpart[n] if n < len(rpart) else ""
            head = (f"{k:5d}{mark}" if k >= 0 else "  pro ") if n == 0 else " " * 6
            rows.append(f"{head} {lt:<{width}} | {rt}")
    return "\n".join(rows)


def _fmt(items: Sequence[object]) -> str:
    return ",".join(str(i) for i in items) if items else "-"


SUMMARY_ROWS: tuple[tuple[str, Callable[[Effects], str]], ...] = (
    ("insns", lambda e: str(e.insns)),
    ("helper calls", lambda e: _fmt([_short(n) for n in e.calls])),
    ("inlined helpers", lambda e: _fmt([f"{k}:{_short(v)}" for k, v in e.inlined.items()])),
    ("ctx rewritten", lambda e: str(len(e.ctx_rewritten))),
    ("div/mod guards", lambda e: _fmt(e.guards)),
    ("may_goto", lambda e: _fmt(e.may_goto)),
    ("tail calls", lambda e: _fmt(e.tail_calls)),
    ("bpf_loop inlined", lambda e: _fmt(e.loop_inlined)),
    ("LD_ABS expanded", lambda e: _fmt(e.ld_abs_expanded)),
    ("dead code removed", lambda e: _fmt(e.removed)),
    ("prologue insns", lambda e: str(e.prologue)),
)


def _short(name: str) -> str:
    return name.removeprefix("bpf_")


def summary(c: Comparison) -> str:
    rows = [f"{'':18} {'bpfvm':<40} kernel"]
    for label, get in SUMMARY_ROWS:
        rows.append(f"{label:18} {get(c.bpfvm_effects):<40} {get(c.kernel_effects)}")
    diffs: dict[str, list[int]] = {}
    for k, cat in classify(c).items():
        diffs.setdefault(cat, []).append(k)
    text = "; ".join(f"{cat} at {_fmt(ks)}" for cat, ks in diffs.items()) or "none"
    rows.append(f"{'differences':18} {text}")
    rows.append(f"{'calls (runtime)':18} {_fmt(c.bpfvm_effects.runtime_calls)}")
    rows.append(f"{'':18} {_fmt(c.kernel_effects.runtime_calls)}")
    return "\n".join(rows)


def table_row(c: Comparison) -> str:
    b, k = c.bpfvm_effects, c.kernel_effects

    def both(f: Callable[[Effects], object]) -> str:
        x, y = f(b), f(k)
        return str(x) if x == y else f"{x} / {y}"

    return (
        f"| {c.key.removeprefix('examples/')} | {len(c.program.insns)} | {b.insns} / {k.insns} "
        f"| {both(lambda e: len(e.calls))} | {both(lambda e: e.inline_names())} "
        f"| {both(lambda e: len(e.ctx_rewritten))} | {both(lambda e: len(e.guards))} "
        f"| {both(lambda e: len(e.tail_calls))} | {both(lambda e: len(e.loop_inlined))} "
        f"| {both(lambda e: len(e.ld_abs_expanded))} | {both(lambda e: len(e.removed))} "
        f"| {both(lambda e: e.prologue)} | {_categories(c)} |"
    )


def _categories(c: Comparison) -> str:
    cats = list(classify(c).values())
    return ", ".join(f"{k} x{cats.count(k)}" for k in dict.fromkeys(cats)) or "none"


TABLE_HEAD = (
    "| program | orig | insns bpfvm / kernel | calls | inlined helpers | ctx rewritten "
    "| div/mod guards | tail calls | bpf_loop inlined | LD_ABS expanded | dead removed "
    "| prologue | differences by design |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


MARKDOWN_HEAD = """\
# bpfvm's xlated programs next to the kernel's

Generated by `scripts/xlated_vs_kernel.py{args}` on Linux {release} (do not
edit by hand; rerun the script). Left: `bpfvm xlated` (verifier facts, interpreter engine);
right: the kernel's `xlated_prog_insns` of the same object loaded as libbpf would, printed by
bpfvm's formatter (helper calls named from `/proc/kallsyms` as bpftool does, map ids are the
kernel's). Rows are the original instructions: `!` marks one whose rewrite differs between the
two, `-` one a side removed, `pro` the kernel's prologue. The differences are explained in
[fixups.md](fixups.md#compared-with-the-running-kernel).
"""


def markdown(comps: Sequence[Comparison], detail: Sequence[str], args: str) -> str:
    release = Path("/proc/sys/kernel/osrelease")
    rel = release.read_text().strip() if release.exists() else "?"
    out = [MARKDOWN_HEAD.format(args=args, release=rel), "## Pass effects, every example\n"]
    out.append(
        "Each cell is `bpfvm / kernel` when the two differ. *calls*: helper calls left in the "
        "program; *inlined helpers*: calls replaced by inline code; *ctx rewritten*: context "
        "accesses whose instructions changed; *dead removed*: original instructions with "
        "nothing left.\n"
    )
    out.append(TABLE_HEAD)
    out.extend(table_row(c) for c in comps)
    for c in comps:
        if c.program.name not in detail:
            continue
        out.append(f"\n## {c.key.removeprefix('examples/')}\n")
        out.append("```\n" + summary(c) + "\n```\n")
        out.append("```\n" + side_by_side(c) + "\n```")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("files", nargs="*", help="example objects (default: all of examples/c)")
    ap.add_argument("--prog", help="only this program")
    ap.add_argument("--engine", choices=("interp", "jit"), default="interp")
    ap.add_argument("--summary", action="store_true", help="only the summary table")
    ap.add_argument(
        "--markdown",
        metavar="PROG",
        action="append",
        help="print docs/xlated_examples.md: the table, and the side-by-side of PROG (repeat)",
    )
    args = ap.parse_args(argv)
    if not sc.kernel_available():
        print("bpf() cannot load programs here (needs root): nothing to compare")
        return 0
    comps = []
    quiet = bool(args.summary or args.markdown)
    for entry in example_entries(args.files, args.prog):
        try:
            c = compare(entry, args.engine)
        except Skip as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        except BpfvmError as exc:
            print(f"error: {entry.key}: {exc}", file=sys.stderr)
            continue
        comps.append(c)
        if not quiet:
            print(f"=== {c.key} ===")
            print(side_by_side(c))
            print()
            print(summary(c))
            print()
    if not comps:
        print("no program compared: no example matches, or every one was skipped", file=sys.stderr)
        return 1
    if args.markdown:
        flags = "".join(f" --markdown {p}" for p in args.markdown)
        print(markdown(comps, args.markdown, flags), end="")
        return 0
    print(TABLE_HEAD)
    for c in comps:
        print(table_row(c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
