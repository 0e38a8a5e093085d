"""Differential tests: bpfvm's opcode table and field validator against the running kernel.

Every instruction under test is loaded as the socket filter ``r6 = r1; r0 = 0; r1 = 0; <insn>;
r0 = 0; exit`` and the verifier's last error line is compared with ``check_fields(insn)``.
``r6 = r1`` gives ``ld_abs``/``ld_ind`` their skb context (the kernel checks R6 before the
``ld_ind`` source register); the trailing ``r0 = 0; exit`` gives jumps a target (``off`` 1 lands
on the final ``exit``). An ``exit`` under test is itself the last instruction (otherwise the
kernel would first report the epilogue as unreachable).

Two comparisons:

* strict, over a well-encoded baseline instruction per opcode and single-field mutations of it:
  when ``check_fields`` reports an encoding error M, the kernel must reject the program with
  exactly M; when ``check_fields`` accepts, the kernel may still reject the program (bad memory
  access, unknown helper, jump out of range, ...) but not with an encoding message;
* over the full cross product of the field grid, where the kernel's whole-program passes
  (subprogram and jump-range checks, ld_imm64 resolution, CFG checks) can legitimately stop at
  a non-encoding error before the per-instruction field checks: whenever the kernel reports an
  encoding message, ``check_fields`` must report the same one, and ``check_fields`` must not
  reject an instruction the kernel accepts.

All mismatches are collected and reported in one assertion message.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import product

import pytest

from bpfvm.errors import EncodingError
from bpfvm.isa import KERNEL_OPCODES, OPCODES, Insn, OpKind, OpSpec, check_fields, decode, encode
from bpfvm.isa.opcodes import AluOp, AtomicOp, InsnClass, Size, Source
from bpfvm.isa.validate import is_stack_arg_access
from bpfvm.kernel import ProgType, map_create, prog_load

MOV64_K = InsnClass.ALU64 | AluOp.MOV | Source.K  # 0xb7
MOV64_X = InsnClass.ALU64 | AluOp.MOV | Source.X  # 0xbf
EXIT = InsnClass.JMP | 0x90  # 0x95
LD_IMM64 = 0x18
PROLOGUE = [Insn(MOV64_X, 6, 1), Insn(MOV64_K, 0), Insn(MOV64_K, 1)]  # r6 = r1; r0 = 0; r1 = 0
EPILOGUE = [Insn(MOV64_K, 0), Insn(EXIT)]  # r0 = 0; exit
LOG_SIZE = 1 << 16  # plenty for these tiny programs; prog_load grows it if needed

# The messages by which the kernel reports a malformed instruction encoding.
_ENCODING = re.compile(
    r"^(.* uses reserved fields"
    r"|unknown opcode [0-9a-f]+"
    r"|R(1[1-9]|[2-9]\d|\d{3,}) is invalid"
    r"|invalid bpf_ld_imm64 insn"
    r"|unrecognized bpf_ld_imm64 insn"
    r"|BPF_ATOMIC uses invalid atomic opcode [0-9a-f]+"
    r"|invalid atomic operand size"
    r"|invalid may_goto imm -?\d+"
    r"|addr_space_cast insn can only convert between address space 1 and 0)$"
)


def is_encoding_message(line: str | None) -> bool:
    return line is not None and _ENCODING.match(line) is not None


@pytest.fixture(scope="module")
def map_fd(kernel: None) -> Iterator[int]:
    """An array map (4-byte key, 8-byte value, 1 entry), for ld_imm64's map pseudo sources."""
    fd = map_create(2, 4, 8, 1)  # BPF_MAP_TYPE_ARRAY
    yield fd
    os.close(fd)


def kernel_error(insn: Insn, map_fd: int) -> str | None:
    """The kernel's error line for ``insn`` in the test program (None: accepted).

    ``map_fd`` is also passed as ``fd_array[0]``, for ld_imm64 with ``BPF_PSEUDO_MAP_IDX*``.
    """
    tail = [] if insn.code == EXIT else EPILOGUE
    prog, result = prog_load(
        encode([*PROLOGUE, insn, *tail]),
        ProgType.SOCKET_FILTER,
        log_size=LOG_SIZE,
        fd_array=[map_fd] if insn.code == LD_IMM64 else None,
    )
    if prog is not None:
        prog.close()
    return result.error_line


def fmt(insn: Insn) -> str:
    s = f"code={insn.code:#04x} dst={insn.dst} src={insn.src} off={insn.off} imm={insn.imm:#x}"
    return s + (f" imm_hi={insn.imm_hi:#x}" if insn.imm_hi else "")


def disagree(ours: str | None, theirs: str | None) -> bool:
    """Strict: our encoding error must be the kernel's; if we accept, the kernel must not
    report an encoding error."""
    if ours is not None:
        return theirs != ours
    return is_encoding_message(theirs)


def disagree_relaxed(ours: str | None, theirs: str | None) -> bool:
    """Like :func:`disagree`, but a non-encoding kernel error before ours is no disagreement."""
    if ours is not None and theirs is not None and not is_encoding_message(theirs):
        return False
    return disagree(ours, theirs)


Mismatch = tuple[Insn, str | None, str | None]  # instruction, bpfvm's message, kernel's


def describe(m: Mismatch) -> str:
    insn, ours, theirs = m
    return f"{fmt(insn)}: bpfvm {ours or 'accepts'!r}, kernel {theirs or 'accepts'!r}"


def group(m: Mismatch) -> str:
    """The mismatch's opcode kind and message pair, register numbers named by their field."""
    insn, ours, theirs = m
    spec = OPCODES.get(insn.code)
    kind = f"{spec.kind.name}/{spec.source.name if spec.source else '-'}" if spec else "?"

    def role(r: re.Match[str]) -> str:
        names = [n for n, v in (("dst", insn.dst), ("src", insn.src)) if v == int(r[1])]
        return f"R<{'='.join(names) or r[1]}> is"

    pair = f"bpfvm {ours or 'accepts'!r}, kernel {theirs or 'accepts'!r}"
    return f"{kind}: " + re.sub(r"R(\d+) is", role, pair)


def report(checked: int, mismatches: list[Mismatch]) -> str:
    """One message: a summary by opcode kind and message pair, then every mismatch."""
    groups = Counter(group(m) for m in mismatches)
    lines = [f"{len(mismatches)} of {checked} instructions disagree. Summary:"]
    lines += [f"  {n:5d} x {key}" for key, n in groups.most_common()]
    lines += ["All:"] + [f"  {describe(m)}" for m in mismatches]
    return "\n".join(lines)


# --- the opcode set --------------------------------------------------------------------------


def test_encoding_message_pattern() -> None:
    assert is_encoding_message("BPF_ALU uses reserved fields")
    assert is_encoding_message("R11 is invalid")
    assert is_encoding_message("R12 is invalid")
    assert not is_encoding_message("R1 is invalid")
    assert not is_encoding_message("R10 is invalid")
    assert not is_encoding_message("R1 invalid mem access 'scalar'")
    assert not is_encoding_message(None)


def test_kernel_opcode_set(map_fd: int) -> None:
    """The opcodes the kernel knows are exactly ``KERNEL_OPCODES``.

    Each byte is loaded with all other fields zero. The kernel rejects an unknown opcode with
    ``unknown opcode %02x``, except that an LDX-class byte with a mode other than MEM/MEMSX is
    reported as ``BPF_LDX uses reserved fields`` before the opcode lookup (those bytes are not
    in its instruction table either). ``check_fields`` must give the same message for every
    byte, except for opcodes bpfvm knows but the kernel refuses (``callx``), which
    ``check_fields`` deliberately decodes and the verifier refuses.
    """
    accepted: set[int] = set()
    mismatches: list[Mismatch] = []
    for code in range(256):
        insn = Insn(code)
        theirs = kernel_error(insn, map_fd)
        unknown = theirs is not None and (
            theirs.startswith("unknown opcode ") or theirs == "BPF_LDX uses reserved fields"
        )
        if not unknown:
            accepted.add(code)
        spec = OPCODES.get(code)
        if spec is not None and not spec.kernel:
            continue
        ours = check_fields(insn)
        if disagree(ours, theirs):
            mismatches.append((insn, ours, theirs))
    extra = sorted(accepted - KERNEL_OPCODES)
    missing = sorted(KERNEL_OPCODES - accepted)
    lines = [f"kernel accepts, not in KERNEL_OPCODES: {c:#04x}" for c in extra]
    lines += [f"in KERNEL_OPCODES, kernel refuses: {c:#04x}" for c in missing]
    if mismatches:
        lines.append(report(256, mismatches))
    assert not lines, "\n".join(lines)


# --- field mutations -------------------------------------------------------------------------

DSTS = (0, 1, 11, 12)
SRCS = (0, 1, 11)
OFFS = (0, 1, 8, -1)
IMMS = (0, 1, 16, 0x100)


def baseline(spec: OpSpec) -> Insn:
    """A well-encoded instruction of ``spec`` (``check_fields`` accepts it)."""
    code, kind = spec.code, spec.kind
    src = 1 if spec.source is Source.X else 0
    if kind in (OpKind.ALU, OpKind.MOV):
        return Insn(code, 0, src, 0, 0 if src else 1)
    if kind in (OpKind.END, OpKind.BSWAP):
        return Insn(code, 0, 0, 0, 16)
    if kind is OpKind.CALL:
        return Insn(code, 0, 0, 0, 5)  # bpf_ktime_get_ns
    if kind in (OpKind.LDX, OpKind.LDX_SX):
        return Insn(code, 0, 10, -8, 0)
    if kind in (OpKind.ST, OpKind.STX):
        return Insn(code, 10, src, -8, 0)
    if kind is OpKind.ATOMIC:
        rmw = spec.size in (Size.W, Size.DW)
        return Insn(code, 10, 1, -8, AtomicOp.ADD if rmw else AtomicOp.STORE_REL)
    # NEG, JA, GOTOL, JCOND, JCC (K: r0 == 0, X: r0 == r1), EXIT, LD_IMM64, LD_ABS, LD_IND
    return Insn(code, 0, src, 0, 0)


def extras(spec: OpSpec, base: Insn, map_fd: int) -> Iterator[Insn]:
    """Opcode-specific variations beyond the single-field grid."""
    code, kind = spec.code, spec.kind
    if kind is OpKind.ATOMIC:
        for imm in (*(int(op) for op in AtomicOp), 0x02, 0xE0, 0xF0, 0x101, 0x120, -1):
            yield Insn(code, base.dst, base.src, base.off, imm)
    elif kind is OpKind.MOV and spec.source is Source.X:
        for off in (2, 7, 8, 16, 32, 64):
            yield Insn(code, 0, 1, off, 0)
        for imm in (0, 1, 2, 1 << 16, (1 << 16) | 1):  # off 1: addr_space_cast
            yield Insn(code, 0, 1, 1, imm)
    elif kind is OpKind.MOV:
        yield Insn(code, 0, 0, 8, 1)
    elif kind in (OpKind.END, OpKind.BSWAP):
        for imm in (8, 32, 64, 128):
            yield Insn(code, 0, 0, 0, imm)
    elif kind is OpKind.LD_IMM64:
        # Map pseudo sources get a real map: MAP_FD/MAP_VALUE (1, 2) name it in imm,
        # MAP_IDX/MAP_IDX_VALUE (5, 6) as index 0 of fd_array; imm_hi is the value offset of
        # the *_VALUE forms and must be 0 for the others. BTF_ID (3) and FUNC (4) would need
        # real BTF, so the kernel stops at resolving them; they are only tested with off 0.
        for src in range(16):
            imm = map_fd if src in (1, 2) else 0
            yield Insn(code, 0, src, 0, imm)
            if src in (1, 2, 5, 6):
                yield Insn(code, 0, src, 0, imm, 1)
            if src not in (3, 4):
                yield Insn(code, 0, src, 1, imm)
    elif kind is OpKind.CALL:
        for src in range(16):
            yield Insn(code, 0, src, 0, base.imm)
        yield Insn(code, 0, 2, 1, base.imm)
        yield Insn(code, 0, 2, -1, base.imm)
    elif kind is OpKind.JCOND:
        for src in range(16):
            yield Insn(code, 0, src, 0, 0)
    elif kind is OpKind.ALU and spec.alu_op in (AluOp.DIV, AluOp.MOD):
        yield Insn(code, 0, base.src, 1, base.imm)  # sdiv / smod


def variants(spec: OpSpec, map_fd: int) -> list[Insn]:
    """The baseline, each single-field mutation of it, and the opcode-specific extras."""
    base = baseline(spec)
    found = [base]
    found += [Insn(spec.code, d, base.src, base.off, base.imm) for d in DSTS]
    found += [Insn(spec.code, base.dst, s, base.off, base.imm) for s in SRCS]
    found += [Insn(spec.code, base.dst, base.src, o, base.imm) for o in OFFS]
    found += [Insn(spec.code, base.dst, base.src, base.off, i) for i in IMMS]
    found += extras(spec, base, map_fd)
    return list(dict.fromkeys(found))  # unique, in order


def cross_product(spec: OpSpec, map_fd: int) -> list[Insn]:
    """Every combination of the field grid (for ld_imm64 also a real map fd and imm_hi 1)."""
    imms: tuple[int, ...] = IMMS
    imm_his: tuple[int, ...] = (0,)
    if spec.kind is OpKind.LD_IMM64:
        imms, imm_his = (*IMMS, map_fd), (0, 1)
    return [
        Insn(spec.code, d, s, o, i, h) for d, s, o, i, h in product(DSTS, SRCS, OFFS, imms, imm_his)
    ]


def test_baselines_are_well_encoded() -> None:
    bad = [
        f"{fmt(insn)}: {msg}"
        for insn in (baseline(OPCODES[c]) for c in sorted(KERNEL_OPCODES))
        if (msg := check_fields(insn)) is not None
    ]
    assert not bad, bad


def differential(
    map_fd: int,
    insns_of: Callable[[OpSpec, int], list[Insn]],
    judge: Callable[[str | None, str | None], bool],
) -> tuple[int, list[Mismatch]]:
    """Load every instruction ``insns_of`` gives for each kernel opcode; collect mismatches."""
    mismatches: list[Mismatch] = []
    checked = 0
    for code in sorted(KERNEL_OPCODES):
        spec = OPCODES[code]
        for insn in insns_of(spec, map_fd):
            # bpfvm accepts r11 as the base register of 8-byte loads and stores (stack
            # arguments, an extension newer than Linux 6.18); the running kernel does not know
            # them and reports "R11 is invalid", so those forms are not comparable here.
            if is_stack_arg_access(insn, spec):
                continue
            checked += 1
            ours, theirs = check_fields(insn), kernel_error(insn, map_fd)
            if judge(ours, theirs):
                mismatches.append((insn, ours, theirs))
    return checked, mismatches


def test_field_mutations_match_kernel(map_fd: int) -> None:
    """Strict: single-field mutations of a well-encoded baseline, plus opcode extras."""
    checked, mismatches = differential(map_fd, variants, disagree)
    assert checked > 1500
    assert not mismatches, report(checked, mismatches)


def test_field_cross_product_matches_kernel(map_fd: int) -> None:
    """Relaxed: every grid combination; encoding messages must agree whenever the kernel
    reaches one, and bpfvm must not refuse an instruction the kernel accepts."""
    checked, mismatches = differential(map_fd, cross_product, disagree_relaxed)
    assert checked > 20000
    assert not mismatches, report(checked, mismatches)


# --- ld_imm64 pairs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "second",
    [
        bytes([0x95, 0, 0, 0, 0, 0, 0, 0]),  # exit where the second slot should be
        bytes([0, 0x01, 0, 0, 0, 0, 0, 0]),  # dst set
        bytes([0, 0x10, 0, 0, 0, 0, 0, 0]),  # src set
        bytes([0, 0, 1, 0, 0, 0, 0, 0]),  # off set
        bytes([0, 0, 0, 0, 7, 0, 0, 0]),  # imm only: valid
    ],
)
@pytest.mark.usefixtures("kernel")
def test_ld_imm64_second_slot(second: bytes) -> None:
    """``decode`` judges the second slot of a ld_imm64 as the kernel does."""
    first = bytes([0x18, 0, 0, 0, 0, 0, 0, 0])
    raw = encode(PROLOGUE) + first + second + encode(EPILOGUE)
    prog, result = prog_load(raw, ProgType.SOCKET_FILTER, log_size=LOG_SIZE)
    if prog is not None:
        prog.close()
    try:
        decode(raw)
        ours = None
    except EncodingError as e:
        ours = e.kernel_message
    theirs = result.error_line
    assert not disagree(ours, theirs), f"second slot {second.hex()}: " + describe(
        (Insn(LD_IMM64), ours, theirs)
    )
