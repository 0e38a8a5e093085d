"""CO-RE: computing a relocation's local and target values and patching its instruction.

This follows libbpf's ``relo_core.c`` (``bpf_core_calc_relo_insn`` and
``bpf_core_patch_insn``):

1. The relocation's access string is parsed against the local (object) BTF into a local spec
   (:func:`~bpfvm.btf.core_spec.parse_spec`); a malformed one is an error.
2. Candidates are the target types of a CO-RE compatible kind whose essential name (the name
   without a ``___flavour`` suffix) equals the local type's (``bpf_core_add_cands``); they are
   cached per local type id and pruned to the ones that matched, as libbpf does.
3. Each candidate is matched; for each match the local value (what the compiler put in the
   instruction) and the new value are computed. All matches must agree on the bit offset and
   on the result, else the relocation is ambiguous (an error).
4. With no match, existence relocations yield 0 and the others *poison* the instruction: it
   becomes ``call 0xbad2310`` (helper 195896080) so that the verifier reports
   ``invalid func unknown#195896080`` if, and only if, that code is reachable.
5. The instruction is patched after checking that it holds the expected local value (unless the
   value is one libbpf does not validate: bitfield offsets/sizes, target type ids): the ``imm``
   of an ALU/ALU64 K-form, the ``off`` (and, when the field size changed for a pointer or an
   unsigned integer, the access size) of LDX/ST/STX, the 64-bit immediate of ``ld_imm64``.

Values are 64-bit unsigned as in libbpf (a 32-bit enumerator value is sign-extended first).
Errors are :class:`~bpfvm.errors.InputError` with libbpf's wording,
``prog 'NAME': relo #N: ...``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bpfvm.btf.btf import Btf, essential_name
from bpfvm.btf.core_spec import (
    CoreSpec,
    CoreSpecError,
    kind_core_compat,
    match_spec,
    parse_spec,
)
from bpfvm.btf.ext import CoreRelo
from bpfvm.btf.kinds import (
    CORE_RELO_KIND_STR,
    FIELD_RELO_KINDS,
    TYPE_RELO_KINDS,
    BtfKind,
    CoreReloKind,
    IntEncoding,
    kind_str,
)
from bpfvm.errors import BpfvmError, InputError
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.isa.opcodes import SIZE_BYTES, InsnClass, JmpOp, Size, Source

POISON_HELPER_ID = 0xBAD2310  # 195896080, "bad relo"
POISON_INSN = Insn(InsnClass.JMP | JmpOp.CALL, imm=POISON_HELPER_ID)
MASK64 = (1 << 64) - 1
_BYTES_SIZE = {n: size for size, n in SIZE_BYTES.items()}

__all__ = [
    "POISON_HELPER_ID",
    "POISON_INSN",
    "CandidateCache",
    "CoreReloKind",
    "CoreReloResult",
    "apply_core_relo",
    "calc_core_relo",
    "parse_access_string",
    "patch_core_insn",
]


class _Poison(Exception):
    """libbpf's ``-EUCLEAN``: poison the instruction."""


@dataclass(frozen=True)
class CoreReloResult:
    """``struct bpf_core_relo_res``."""

    orig_val: int = 0
    new_val: int = 0
    poison: bool = False
    validate: bool = True
    fail_memsz_adjust: bool = False
    orig_sz: int = 0
    new_sz: int = 0
    orig_type_id: int = 0
    new_type_id: int = 0
    local_spec: CoreSpec | None = field(default=None, compare=False, repr=False)
    target_spec: CoreSpec | None = field(default=None, compare=False, repr=False)


@dataclass
class CandidateCache:
    """Candidate target type ids per local type id (libbpf's ``cand_cache``)."""

    cands: dict[int, list[int]] = field(default_factory=dict)


def parse_access_string(access: str) -> list[int]:
    """``"0:1:2"`` -> ``[0, 1, 2]``; InputError if malformed."""
    parts = access.split(":")
    if not access or not all(p.isdigit() and p.isascii() for p in parts):
        raise InputError(f"malformed CO-RE access string {access!r}")
    return [int(p) for p in parts]


def _relo_error(prog: str, idx: int, message: str) -> InputError:
    return InputError(f"prog '{prog}': relo #{idx}: {message}")


def _find_cands(local: Btf, local_id: int, target: Btf) -> list[int]:
    """``bpf_core_find_cands``: target types named like ``local_id`` modulo flavour."""
    local_t = local[local_id]
    essential = essential_name(local_t.name)
    if not essential:
        raise CoreSpecError("anonymous types have no candidates (-EINVAL)")
    return [tid for tid in target.find_flavors(essential) if kind_core_compat(target[tid], local_t)]


def calc_core_relo(
    relo: CoreRelo,
    local: Btf,
    target: Btf,
    *,
    cache: CandidateCache | None = None,
    prog_name: str = "",
    relo_idx: int = 0,
) -> CoreReloResult:
    """``bpf_core_calc_relo_insn``: the local and target values of one relocation."""
    if not local.has(relo.type_id) or relo.type_id == 0:
        raise _relo_error(prog_name, relo_idx, f"bad type id {relo.type_id}")
    if relo.kind not in CORE_RELO_KIND_STR:
        raise _relo_error(
            prog_name,
            relo_idx,
            f"unrecognized CO-RE relocation unknown ({relo.kind}) at insn #{relo.insn_off // 8}",
        )
    kind = CoreReloKind(relo.kind)
    local_t = local[relo.type_id]
    try:
        local_spec = parse_spec(local, relo.type_id, relo.access_str, kind)
    except (CoreSpecError, InputError) as exc:
        raise _relo_error(
            prog_name,
            relo_idx,
            f"parsing [{relo.type_id}] {kind_str(local_t.kind)} {local_t.name or '<anon>'} + "
            f"{relo.access_str} failed: {exc}",
        ) from None
    if kind == CoreReloKind.TYPE_ID_LOCAL:
        root = local_spec.root_type_id
        return CoreReloResult(root, root, validate=False, local_spec=local_spec)
    try:
        return _resolve(relo, kind, local_spec, target, cache or CandidateCache())
    except CoreSpecError as exc:
        raise _relo_error(prog_name, relo_idx, str(exc)) from None


def _resolve(
    relo: CoreRelo, kind: CoreReloKind, local_spec: CoreSpec, target: Btf, cache: CandidateCache
) -> CoreReloResult:
    local = local_spec.btf
    cands = cache.cands.get(relo.type_id)
    if cands is None:
        try:
            cands = cache.cands[relo.type_id] = _find_cands(local, relo.type_id, target)
        except CoreSpecError as exc:
            t = local[relo.type_id]
            raise CoreSpecError(
                f"target candidate search failed for [{relo.type_id}] {kind_str(t.kind)} "
                f"{t.name or '<anon>'}: {exc}"
            ) from None
    result: CoreReloResult | None = None
    first_offset = 0
    matched = []
    for cand in cands:
        ok, cand_spec = match_spec(local_spec, target, cand)
        if not ok:
            continue
        res = _calc(relo, kind, local_spec, cand_spec)
        if result is None:
            result, first_offset = res, cand_spec.bit_offset
        elif cand_spec.bit_offset != first_offset:
            raise CoreSpecError(f"field offset ambiguity: {cand_spec.bit_offset} != {first_offset}")
        elif res.poison != result.poison or res.new_val != result.new_val:
            raise CoreSpecError(
                "relocation decision ambiguity: "
                f"{_decision(res)} {res.new_val} != {_decision(result)} {result.new_val}"
            )
        matched.append(cand)
    if matched:
        cache.cands[relo.type_id] = matched
    return result if result is not None else _calc(relo, kind, local_spec, None)


def _decision(res: CoreReloResult) -> str:
    return "failure" if res.poison else "success"


def _calc(
    relo: CoreRelo, kind: CoreReloKind, local_spec: CoreSpec, targ_spec: CoreSpec | None
) -> CoreReloResult:
    """``bpf_core_calc_relo``: values for the local spec and one target spec (or none)."""
    try:
        if kind in FIELD_RELO_KINDS:
            orig, orig_sz, orig_tid, validate = _calc_field(relo, kind, local_spec)
            new, new_sz, new_tid, _ = _calc_field(relo, kind, targ_spec)
            fail = orig_sz != new_sz and not _resizable(local_spec, orig_tid, targ_spec, new_tid)
            res = CoreReloResult(
                orig, new, False, validate, fail, orig_sz, new_sz, orig_tid, new_tid
            )
        elif kind in TYPE_RELO_KINDS:
            orig, validate = _calc_type(kind, local_spec)
            res = CoreReloResult(orig, _calc_type(kind, targ_spec)[0], validate=validate)
        else:
            orig, new = _calc_enumval(kind, local_spec), _calc_enumval(kind, targ_spec)
            res = CoreReloResult(orig, new)
    except _Poison:
        res = CoreReloResult(poison=True)
    return replace(res, local_spec=local_spec, target_spec=targ_spec)


def _resizable(local: CoreSpec, orig_tid: int, targ: CoreSpec | None, new_tid: int) -> bool:
    """A load/store may change size for pointers and for unsigned integers only."""
    assert targ is not None  # sizes differ only when both sides were computed
    ot, nt = local.btf[orig_tid], targ.btf[new_tid]
    if ot.kind == BtfKind.PTR and nt.kind == BtfKind.PTR:
        return True
    return (
        ot.kind == BtfKind.INT
        and nt.kind == BtfKind.INT
        and ot.int_info.encoding != IntEncoding.SIGNED
        and nt.int_info.encoding != IntEncoding.SIGNED
    )


def _calc_field(
    relo: CoreRelo, kind: CoreReloKind, spec: CoreSpec | None
) -> tuple[int, int, int, bool]:
    """``bpf_core_calc_field_relo``: (value, field size, field type id, validate)."""
    if kind == CoreReloKind.FIELD_EXISTS:
        return (1 if spec is not None else 0), 0, 0, True
    if spec is None:
        raise _Poison
    btf = spec.btf
    acc = spec.spec[-1]
    if acc.name is None:  # a[n]: the element itself
        size = _size(btf, acc.type_id)
        if kind == CoreReloKind.FIELD_BYTE_OFFSET:
            return spec.bit_offset // 8, size, acc.type_id, True
        if kind == CoreReloKind.FIELD_BYTE_SIZE:
            return size, 0, 0, True
        raise CoreSpecError(
            f"relo {int(kind)} at insn #{relo.insn_off // 8} can't be applied to array access"
        )
    t = btf[acc.type_id]
    member = t.members[acc.idx]
    field_tid = btf.strip(member.type)
    mt = btf[field_tid]
    bit_off, bit_sz = spec.bit_offset, member.bitfield_size
    bitfield = bit_sz > 0
    if bitfield:
        byte_sz = mt.size
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise CoreSpecError(
                    f"relo {int(kind)} at insn #{relo.insn_off // 8} "
                    "can't be satisfied for bitfield"
                )
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
    else:
        byte_sz = _size(btf, field_tid)
        byte_off = bit_off // 8
        bit_sz = byte_sz * 8
    validate = not bitfield  # bitfield layout is ambiguous, but signedness and rshift are not
    if kind == CoreReloKind.FIELD_BYTE_OFFSET:
        return byte_off, (0 if bitfield else byte_sz), (0 if bitfield else field_tid), validate
    if kind == CoreReloKind.FIELD_BYTE_SIZE:
        return byte_sz, 0, 0, validate
    if kind == CoreReloKind.FIELD_SIGNED:
        signed = (mt.is_enum and mt.kind_flag) or (mt.kind == BtfKind.INT and mt.int_info.signed)
        return int(signed), 0, 0, True
    if kind == CoreReloKind.FIELD_LSHIFT_U64:  # little-endian
        return 64 - (bit_off + bit_sz - byte_off * 8), 0, 0, validate
    return 64 - bit_sz, 0, 0, True  # FIELD_RSHIFT_U64


def _size(btf: Btf, type_id: int) -> int:
    try:
        return btf.resolve_size(type_id)
    except BpfvmError as exc:
        raise CoreSpecError(str(exc)) from None


def _calc_type(kind: CoreReloKind, spec: CoreSpec | None) -> tuple[int, bool]:
    """``bpf_core_calc_type_relo``: (value, validate); missing types give 0."""
    if spec is None:
        return 0, True
    if kind == CoreReloKind.TYPE_ID_TARGET:
        return spec.root_type_id, False  # ids change when objects are linked
    if kind == CoreReloKind.TYPE_SIZE:
        return _size(spec.btf, spec.root_type_id), True
    return 1, True  # TYPE_EXISTS, TYPE_MATCHES


def _calc_enumval(kind: CoreReloKind, spec: CoreSpec | None) -> int:
    """``bpf_core_calc_enumval_relo``; a 32-bit enumerator is sign-extended as libbpf's s32."""
    if kind == CoreReloKind.ENUMVAL_EXISTS:
        return 1 if spec is not None else 0
    if spec is None:
        raise _Poison
    t = spec.btf[spec.spec[0].type_id]
    value = t.enum_values[spec.spec[0].idx].value
    if t.kind == BtfKind.ENUM:
        value = (value & 0xFFFFFFFF) - ((value & 0x80000000) << 1)
    return value & MASK64


# -- patching -------------------------------------------------------------------------------


def patch_core_insn(
    insn: Insn,
    res: CoreReloResult,
    *,
    insn_idx: int = 0,
    relo_idx: int = 0,
    prog_name: str = "",
) -> tuple[Insn, ...]:
    """``bpf_core_patch_insn``: the instruction(s) replacing ``insn``, filling as many slots
    as ``insn`` did (a poisoned ``ld_imm64`` becomes two poison calls, as in libbpf)."""
    if res.poison:
        return (POISON_INSN, POISON_INSN) if insn.code == LD_IMM64_CODE else (POISON_INSN,)
    err = _PatchError(prog_name, relo_idx, insn_idx, res)
    cls = insn.code & 0x07
    if cls in (InsnClass.ALU, InsnClass.ALU64):
        return (_patch_alu(insn, res, err),)
    if cls in (InsnClass.LDX, InsnClass.ST, InsnClass.STX):
        if res.fail_memsz_adjust and _check_mem(insn, res, err):
            return (POISON_INSN,)
        return (_patch_mem(insn, res, err),)
    if cls == InsnClass.LD:
        return (_patch_ld_imm64(insn, res, err),)
    raise err(
        f"trying to relocate unrecognized insn #{insn_idx}, code:0x{insn.code:x}, "
        f"src:0x{insn.src:x}, dst:0x{insn.dst:x}, off:0x{insn.off & 0xFFFF:x}, "
        f"imm:0x{insn.imm & 0xFFFFFFFF:x}"
    )


@dataclass(frozen=True)
class _PatchError:
    prog: str
    relo_idx: int
    insn_idx: int
    res: CoreReloResult

    def __call__(self, message: str) -> InputError:
        return _relo_error(self.prog, self.relo_idx, message)

    def unexpected(self, what: str, got: int) -> InputError:
        return self(
            f"unexpected insn #{self.insn_idx} ({what}) value: got {got}, "
            f"exp {self.res.orig_val} -> {self.res.new_val}"
        )


def _patch_alu(insn: Insn, res: CoreReloResult, err: _PatchError) -> Insn:
    if insn.code & 0x08 != Source.K:
        raise err(f"insn #{err.insn_idx} (ALU/ALU64) is not an immediate (K) form")
    if res.validate and insn.imm & MASK64 != res.orig_val:
        raise err.unexpected("ALU/ALU64", insn.imm & 0xFFFFFFFF)
    return replace(insn, imm=_s32(res.new_val))


def _check_mem(insn: Insn, res: CoreReloResult, err: _PatchError) -> bool:
    """Checks libbpf makes before it gives up on resizing an LDX/ST/STX (then: poison)."""
    if res.validate and insn.off & MASK64 != res.orig_val:
        raise err.unexpected("LDX/ST/STX", insn.off & 0xFFFFFFFF)
    if res.new_val > 0x7FFF:
        raise err(f"insn #{err.insn_idx} (LDX/ST/STX) value too big: {res.new_val}")
    return True


def _patch_mem(insn: Insn, res: CoreReloResult, err: _PatchError) -> Insn:
    _check_mem(insn, res, err)
    code = insn.code
    if res.new_sz != res.orig_sz:
        size_bytes = SIZE_BYTES[Size(code & 0x18)]
        if size_bytes != res.orig_sz:
            raise err(
                f"insn #{err.insn_idx} (LDX/ST/STX) unexpected mem size: "
                f"got {size_bytes}, exp {res.orig_sz}"
            )
        new_size = _BYTES_SIZE.get(res.new_sz)
        if new_size is None:
            raise err(f"insn #{err.insn_idx} (LDX/ST/STX) invalid new mem size: {res.new_sz}")
        code = (code & ~0x18) | new_size
    return replace(insn, code=code, off=res.new_val)


def _patch_ld_imm64(insn: Insn, res: CoreReloResult, err: _PatchError) -> Insn:
    if insn.code != LD_IMM64_CODE or insn.src != 0 or insn.off != 0:
        raise err(f"insn #{err.insn_idx} (LDIMM64) has unexpected form")
    if res.validate and insn.imm64 != res.orig_val:
        raise err.unexpected("LDIMM64", insn.imm64)
    return replace(insn, imm=_s32(res.new_val), imm_hi=_s32(res.new_val >> 32))


def _s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def apply_core_relo_slots(
    insn: Insn,
    relo: CoreRelo,
    local: Btf,
    target: Btf,
    *,
    cache: CandidateCache | None = None,
    prog_name: str = "",
    relo_idx: int = 0,
) -> tuple[Insn, ...]:
    """Resolve ``relo`` and patch ``insn``; the result fills the slots ``insn`` filled."""
    res = calc_core_relo(relo, local, target, cache=cache, prog_name=prog_name, relo_idx=relo_idx)
    return patch_core_insn(
        insn, res, insn_idx=relo.insn_off // 8, relo_idx=relo_idx, prog_name=prog_name
    )


def apply_core_relo(
    insn: Insn,
    relo: CoreRelo,
    local: Btf,
    target: Btf,
    *,
    cache: CandidateCache | None = None,
    prog_name: str = "",
    relo_idx: int = 0,
) -> Insn:
    """Resolve ``relo`` and patch ``insn``. A poisoned ``ld_imm64`` comes back as
    :data:`POISON_INSN`; its second slot must be poisoned too (or use
    :func:`apply_core_relo_slots`, which returns both)."""
    slots = apply_core_relo_slots(
        insn, relo, local, target, cache=cache, prog_name=prog_name, relo_idx=relo_idx
    )
    return slots[0]
