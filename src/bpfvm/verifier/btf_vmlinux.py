"""The running kernel's BTF (``btf_vmlinux``) and the checks that walk it.

* ``btf_struct_walk``: which member of a kernel struct a read of ``size`` bytes at ``off`` hits
  (a scalar, or a whole pointer to another struct), in the kernel's words when it hits none.
* ``check_pseudo_btf_id``: the checks of ``ld_imm64`` with ``BPF_PSEUDO_BTF_ID`` (a kernel
  variable by its vmlinux BTF id) that need only the BTF: an id that is no type, an id that is
  neither a VAR nor a FUNC. Resolving a real ksym (its address, its type for the verifier) is
  not modelled: such a program is rejected, naming ksym resolution as the reason.

The BTF is ``/sys/kernel/btf/vmlinux``; when it cannot be read, the kernel's no-BTF messages
apply.
"""

from __future__ import annotations

from functools import lru_cache

from bpfvm.btf import Btf, BtfKind
from bpfvm.btf.target import VMLINUX_BTF
from bpfvm.errors import BpfvmError
from bpfvm.verifier.errors import EACCES, EINVAL, reject

ENOENT = 2
MAX_WALK_DEPTH = 32
STRUCT_KINDS = (BtfKind.STRUCT, BtfKind.UNION)


@lru_cache(maxsize=1)
def vmlinux_btf() -> Btf | None:
    """The running kernel's BTF (``btf_vmlinux``), or None when it cannot be read."""
    try:
        return Btf.parse(VMLINUX_BTF.read_bytes())
    except (OSError, BpfvmError):
        return None


def btf_struct_walk(btf: Btf, tid: int, off: int, size: int) -> int | None:
    """``btf_struct_walk`` for a read of ``size`` bytes at ``off`` of struct ``tid``.

    Returns None for a scalar, or the id of the struct a whole pointer member points to.
    """
    for _ in range(MAX_WALK_DEPTH):
        step = _walk_members(btf, tid, off, size)
        if not isinstance(step, tuple):
            return step
        tid, off = step
    raise reject(f"struct {btf.name(tid)} is nested too deeply", EINVAL)


def _walk_members(btf: Btf, tid: int, off: int, size: int) -> int | tuple[int, int] | None:
    """One level of the walk: a result, or the (struct, offset) to descend into."""
    t = btf[tid]
    tname = t.name
    if t.kind not in STRUCT_KINDS:
        raise reject(f"Type '{tname}' is not a struct", EINVAL)
    if off + size > t.size:
        raise reject(f"access beyond struct {tname} at off {off} size {size}", EACCES)
    for member in t.members:
        moff = member.bit_offset // 8
        if member.bitfield_size:
            end_bit = member.bit_offset + member.bitfield_size
            if off <= moff and (end_bit + 7) // 8 <= off + size:
                return None
            continue
        if off < moff:
            break  # the access starts in padding before this member
        mid = btf.strip(member.type)
        mtype = btf[mid]
        msize = btf.resolve_size(mid)
        mtrue_end = moff + msize
        if off >= mtrue_end:
            continue
        while mtype.kind == BtfKind.ARRAY:
            elem = btf.strip(mtype.array.type)
            esize = btf.resolve_size(elem)
            if esize == 0:
                break
            moff += (off - moff) // esize * esize
            msize = esize
            mid, mtype = elem, btf[elem]
        if mtype.kind in STRUCT_KINDS:
            return mid, off - moff
        if mtype.kind == BtfKind.PTR:
            if msize != size or off != moff:
                raise reject(
                    f"cannot access ptr member {member.name} with moff {moff} in struct "
                    f"{tname} with off {off} size {size}",
                    EACCES,
                )
            target = btf.strip(mtype.ref)
            return target if btf[target].kind in STRUCT_KINDS else None
        if off + size > mtrue_end:
            raise reject(
                f"access beyond the end of member {member.name} (mend:{mtrue_end}) in "
                f"struct {tname} with off {off} size {size}",
                EACCES,
            )
        return None
    raise reject(f"struct {tname} doesn't have field at offset {off}", EINVAL)


def check_pseudo_btf_id(insn_imm: int, btf_fd: int) -> None:
    """The BTF-only checks of ``check_pseudo_btf_id`` for ``ld_imm64`` with src_reg 3."""
    if btf_fd != 0:
        raise reject("invalid module BTF object FD specified.", EINVAL)
    btf = vmlinux_btf()
    if btf is None:
        raise reject(
            "kernel is missing BTF, make sure CONFIG_DEBUG_INFO_BTF=y is specified in Kconfig.",
            EINVAL,
        )
    type_id = insn_imm & 0xFFFFFFFF  # id 0 is void: a type, but no VAR
    if not btf.has(type_id):
        raise reject(f"ldimm64 insn specifies invalid btf_id {insn_imm}.", ENOENT)
    kind = btf.kind(type_id) if type_id else BtfKind.UNKN
    if kind not in (BtfKind.VAR, BtfKind.FUNC):
        raise reject(f"pseudo btf_id {insn_imm} in ldimm64 isn't KIND_VAR or KIND_FUNC", EINVAL)
    raise reject(
        f"ldimm64 of kernel symbol btf_id {insn_imm} ({btf.name(type_id)}): ksym resolution is "
        "not modelled",
        EINVAL,
    )
