"""The disassembler against LLVM 14, and the disassembler against our own assembler.

``bpfvm.asm.disasm`` promises that for every instruction LLVM 14 decodes correctly its text is
exactly ``llvm-objdump-14 -d``'s. These tests hold it to that on

1. every instruction of the 154 real objects in ``/work/shared/ebpf-samples`` (compared with
   ``llvm-objdump-14 -d``),
2. a generated set of encodings of every opcode in :data:`bpfvm.isa.spec.OPCODES` with
   boundary register, offset and immediate values (compared with ``llvm-mc-14
   --disassemble``, which uses the same decoder and printer with the same default CPU),

and check that the text reads back to the same instructions (``assemble(format_insn(i)) ==
i``) for every valid program of the ELF corpus and of the bpf_conformance suite.

Which instructions are *not* compared is decided by :func:`llvm14_skip_reason`, a predicate on
the instruction's fields only. It never looks at either text, so a wrong text can never be
skipped; every branch names the LLVM 14 limitation it stands for.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from bpfvm.asm.disasm import format_insn
from bpfvm.asm.parser import assemble
from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.elf.reader import read_programs
from bpfvm.errors import BpfvmError, EncodingError
from bpfvm.isa.codec import decode, encode_insn
from bpfvm.isa.insn import Insn, ld_imm64, slot_pcs
from bpfvm.isa.opcodes import AluOp, AtomicOp, CallSrc, InsnClass, JmpOp, PseudoSrc, Size
from bpfvm.isa.spec import OPCODES, OpKind
from bpfvm.isa.validate import check_fields

LLVM_OBJDUMP = "llvm-objdump-14"
LLVM_MC = "llvm-mc-14"
SAMPLES = Path("/work/shared/ebpf-samples")
CONFORMANCE = Path("/work/shared/conformance/tests")
EXAMPLES_SHOWN = 30

needs_objdump = pytest.mark.skipif(
    shutil.which(LLVM_OBJDUMP) is None, reason=f"{LLVM_OBJDUMP} not installed"
)
needs_mc = pytest.mark.skipif(shutil.which(LLVM_MC) is None, reason=f"{LLVM_MC} not installed")
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"{SAMPLES} not present")
needs_conformance = pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason=f"{CONFORMANCE} not present"
)


# --------------------------------------------------------------------------------------------
# What LLVM 14 does not know


def llvm14_skip_reason(insn: Insn) -> str | None:
    """Why LLVM 14's text for ``insn`` is not comparable with ours, or None if it is.

    Only the fields of ``insn`` are looked at. Each reason is an LLVM 14 limitation that
    ``llvm-mc-14`` shows (it rejects the encoding, ignores a field, or crashes), or one of the
    places where disasm.py's docstring says we print a different, lossless form on purpose.
    """
    spec = insn.spec
    if spec is None or check_fields(insn) is not None:
        # The contract covers valid instructions only; invalid ones are the verifier's job.
        return "invalid encoding"
    kind = spec.kind
    if kind is OpKind.MOV and insn.off != 0:
        # movsx (off 8/16/32, ISA v4) and addr_space_cast (ALU64, off 1): LLVM 14 ignores
        # `off` and prints a plain `r1 = r2`.
        return "v4 movsx / addr_space_cast"
    if kind is OpKind.ALU and spec.alu_op is AluOp.DIV and insn.off == 1:
        # sdiv (ISA v4): LLVM 14 ignores `off` and prints an unsigned `/=`.
        return "v4 sdiv"
    if kind is OpKind.ALU and spec.alu_op is AluOp.MOD:
        # LLVM 14 knows no BPF_MOD: every MOD encoding, 32 or 64 bit, K or X, smod or not, is
        # an `invalid instruction encoding` (`<unknown>` in llvm-objdump).
        return "MOD (not in LLVM 14)"
    if kind is OpKind.JCC and spec.jmp_op is JmpOp.JSET:
        # LLVM 14 knows no BPF_JSET: JMP and JMP32, K and X, are all rejected.
        return "JSET (not in LLVM 14)"
    if kind in (OpKind.LDX_SX, OpKind.BSWAP, OpKind.GOTOL, OpKind.JCOND):
        # ISA v4 / may_goto: sign-extending loads, unconditional bswap (ALU64 END), gotol
        # (JMP32 JA) and may_goto (JMP JCOND) are all rejected by LLVM 14.
        return "v4 ldsx / bswap / gotol / may_goto"
    if kind is OpKind.ST:
        # BPF_ST (store immediate) is not in LLVM 14's decoder: rejected.
        return "ST (not in LLVM 14)"
    if kind is OpKind.ATOMIC and insn.imm in (AtomicOp.LOAD_ACQ, AtomicOp.STORE_REL):
        # load-acquire / store-release: LLVM 14 rejects every store_release and the 8/16-bit
        # load_acquire, and prints the 32/64-bit load_acquire as `lock *(...) += rN`.
        return "load_acquire / store_release"
    if kind is OpKind.ATOMIC and spec.size is Size.W and insn.imm != AtomicOp.ADD:
        # 32-bit atomics other than plain add: without alu32 LLVM 14 prints atomic_fetch_add
        # as `lock *(u32 *)(...) += r` and rejects the others.
        return "32-bit fetching/bitwise atomic"
    if kind is OpKind.LD_IND and insn.imm != 0:
        # LLVM 14 drops the immediate of BPF_LD_IND: `skb[r1 + 4]` prints as `skb[r1]`.
        return "LD_IND with imm"
    if kind is OpKind.LD_IMM64 and insn.src == PseudoSrc.MAP_VALUE:
        # llvm-mc-14 dies with SIGSEGV on an ld_imm64 with src 2 (BPF_PSEUDO_MAP_VALUE).
        return "ld_imm64 src 2"
    if kind is OpKind.LD_IMM64 and insn.src != 0 and insn.imm_hi != 0:
        # Pseudo ld_imm64: LLVM 14 prints `ld_pseudo r1, 1, 3` without the second slot's
        # immediate; we print `ld_pseudo r1, 1, 3, 4` on purpose (see disasm.py). With a zero
        # second immediate nothing is lost, so those are compared.
        return "ld_pseudo with second imm"
    if kind is OpKind.CALL and insn.src != CallSrc.HELPER:
        # bpf-to-bpf call (src 1) and kfunc call (src 2): LLVM 14 prints `call N` / `call -1`
        # (the relocation is applied later), losing the kind of call; we print `call pc+N`
        # and `call kfunc#N` on purpose (see disasm.py's docstring).
        return "pseudo / kfunc call"
    if kind is OpKind.CALLX and insn.dst != 0:
        # LLVM 14 reads callx's register from `imm` (always 0 in a valid encoding, so it
        # prints `callx r0`); uBPF, bpf_conformance and newer LLVM put it in `dst`.
        return "callx register in dst"
    # Note: r11 (the stack-argument base, valid only as the base of a u64 load/store) is not
    # skipped: LLVM 14 has r11 in its register class and prints it like any other register.
    return None


# --------------------------------------------------------------------------------------------
# Mismatch reports


@dataclass(frozen=True)
class Mismatch:
    where: str  # object, section and slot; or the instruction's fields
    raw: bytes
    llvm: str
    ours: str

    def __str__(self) -> str:
        raw = self.raw.hex(" ")
        return f"{self.where}: [{raw}]\n    llvm: {self.llvm}\n    ours: {self.ours}"


def _report(title: str, mismatches: list[Mismatch], compared: int) -> str:
    lines = [f"{len(mismatches)} {title} (of {compared} compared):"]
    lines += [str(m) for m in mismatches[:EXAMPLES_SHOWN]]
    if len(mismatches) > EXAMPLES_SHOWN:
        lines.append(f"... and {len(mismatches) - EXAMPLES_SHOWN} more")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# 1. The ELF corpus against llvm-objdump-14 -d

_SECTION_HEADER = re.compile(r"^Disassembly of section (.*):$")
_INSN_LINE = re.compile(r"^\s*(\d+):\t(.*)$")
# llvm-objdump appends the symbolized target to a jump: `goto +8 <LBB0_3>`, `<func+0x88>`.
_JUMP_LABEL = re.compile(r"(goto [+-]?\d+) <[^<>]*>$")


def _objdump(path: Path) -> dict[str, dict[int, str]]:
    """Section name -> slot -> instruction text, as ``llvm-objdump-14 -d`` prints them."""
    # --triple: one object (ovs/datapath.o) has e_machine EM_NONE, which llvm cannot map to
    # a target by itself; for EM_BPF objects bpfel is what llvm picks anyway.
    proc = subprocess.run(
        [LLVM_OBJDUMP, "-d", "--no-show-raw-insn", "--triple=bpfel", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    sections: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    for line in proc.stdout.splitlines():
        if m := _SECTION_HEADER.match(line):
            assert m[1] not in sections, f"{path}: section {m[1]} listed twice"
            current = sections[m[1]] = {}
        elif (m := _INSN_LINE.match(line)) and current is not None:
            current[int(m[1])] = _JUMP_LABEL.sub(r"\1", m[2].rstrip())
    return sections


def _exec_sections(data: bytes) -> dict[str, bytes]:
    """Name -> contents of the executable sections, the ones ``llvm-objdump -d`` lists."""
    elf = ELFFile(io.BytesIO(data))
    return {
        sec.name: sec.data()
        for sec in elf.iter_sections()
        if sec["sh_type"] == "SHT_PROGBITS"
        and sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR
        and sec.data_size
    }


def _objects() -> list[Path]:
    return sorted(SAMPLES.rglob("*.o"))


@needs_objdump
@needs_samples
def test_elf_corpus_matches_llvm_objdump() -> None:
    objects = _objects()
    assert objects, f"no objects under {SAMPLES}"
    with ThreadPoolExecutor() as pool:
        listings = list(pool.map(_objdump, objects))
    mismatches: list[Mismatch] = []
    skipped: Counter[str] = Counter()
    compared = 0
    for path, llvm in zip(objects, listings, strict=True):
        name = str(path.relative_to(SAMPLES))
        ours = _exec_sections(path.read_bytes())
        for section in sorted(ours.keys() - llvm.keys()):
            mismatches.append(Mismatch(f"{name} {section}", b"", "<section missing>", "-"))
        for section, body in ours.items():
            llvm_text = llvm.get(section, {})
            try:
                insns = decode(body, validate=False)
            except EncodingError as exc:
                mismatches.append(Mismatch(f"{name} {section}", b"", "-", f"<{exc}>"))
                continue
            pcs = slot_pcs(insns)
            for pc, insn in zip(pcs, insns, strict=True):
                where = f"{name} {section} {pc}"
                text = llvm_text.get(pc)
                if text is None:
                    mismatches.append(Mismatch(where, encode_insn(insn), "<missing>", "-"))
                    continue
                reason = llvm14_skip_reason(insn)
                if reason is not None:
                    skipped[reason] += 1
                    continue
                compared += 1
                mine = format_insn(insn)
                if mine != text:
                    mismatches.append(Mismatch(where, encode_insn(insn), text, mine))
            extra = sorted(llvm_text.keys() - set(pcs))
            for pc in extra:
                where = f"{name} {section} {pc}"
                mismatches.append(Mismatch(where, b"", llvm_text[pc], "<not an insn start>"))
    print(f"\nELF corpus: {compared} instructions compared, skipped {dict(skipped)}")
    assert compared > 100_000, f"only {compared} instructions compared"
    assert not mismatches, _report("mismatches with llvm-objdump-14", mismatches, compared)


# --------------------------------------------------------------------------------------------
# 2. Generated encodings against llvm-mc-14 --disassemble

REGS = range(11)
OFFSETS = (-32768, -1, 0, 1, 8, 16, 32, 32767)  # 8/16/32: the movsx widths
IMMEDIATES = (-2147483648, -1, 0, 1, 16, 32, 64, 2147483647)
ATOMIC_IMMS = tuple(int(op) for op in AtomicOp)
LD_IMM64_VALUES = (
    0, 1, -1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32, 0x123456789ABCDEF0,
    -(1 << 63), (1 << 63) - 1,
)  # fmt: skip
LD_PSEUDO_IMMS = (-2147483648, -1, 0, 42, 2147483647)  # fd / map index / BTF id ...
# Placed after every test encoding so that each one's output can be told apart (llvm-mc
# prints nothing for an encoding it rejects). Its immediate is not among IMMEDIATES.
SENTINEL = Insn(InsnClass.ALU64 | AluOp.MOV, dst=10, imm=0x1A2B3C4D)
SENTINEL_TEXT = "r10 = 439041101"


def _variants(code: int) -> Iterator[Insn]:
    """Encodings of one opcode: all register pairs, and each offset and immediate."""
    spec = OPCODES[code]
    if spec.kind is OpKind.LD_IMM64:
        for dst in REGS:
            for value in LD_IMM64_VALUES:
                yield ld_imm64(dst, value)
        for src in PseudoSrc:
            for imm in LD_PSEUDO_IMMS:
                for imm_hi in (0, 7):
                    yield replace(ld_imm64(1, 0, src=int(src)), imm=imm, imm_hi=imm_hi)
        return
    imms = IMMEDIATES + ATOMIC_IMMS if spec.kind is OpKind.ATOMIC else IMMEDIATES
    for dst in (*REGS, 11):
        for src in (*REGS, 11):
            yield Insn(code, dst, src)
    for off in OFFSETS:
        for imm in imms:
            for dst, src in ((0, 0), (5, 0), (10, 0), (1, 2), (10, 1), (3, 10), (11, 6), (6, 11)):
                yield Insn(code, dst, src, off, imm)


def generated_encodings() -> list[Insn]:
    """Every valid variant of every opcode, deduplicated, in a stable order."""
    seen: dict[Insn, None] = {}
    for code in sorted(OPCODES):
        for insn in _variants(code):
            if check_fields(insn) is None:
                seen.setdefault(insn)
    return list(seen)


def _hex_line(insn: Insn) -> str:
    return " ".join(f"0x{b:02x}" for b in encode_insn(insn))


def llvm_mc(insns: list[Insn]) -> list[str | None]:
    """LLVM 14's text for each encoding, None where it reports an invalid encoding."""
    lines: list[str] = []
    for insn in insns:
        lines += [_hex_line(insn), _hex_line(SENTINEL)]
    proc = subprocess.run(
        [LLVM_MC, "--disassemble", "-triple=bpfel"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    rejected = {
        int(m[1]) for m in re.finditer(r"^<stdin>:(\d+):\d+: warning: invalid", proc.stderr, re.M)
    }
    assert not any(line % 2 == 0 for line in rejected), "llvm-mc rejected the sentinel"
    groups: list[list[str]] = [[]]
    for raw in proc.stdout.splitlines():
        text = raw.strip()
        if not text or text.startswith("."):  # the `.text` directive
            continue
        if text == SENTINEL_TEXT:
            groups.append([])
        else:
            groups[-1].append(text)
    assert groups[-1] == [], f"output after the last sentinel: {groups[-1]}"
    assert len(groups) - 1 == len(insns), "llvm-mc output does not line up with its input"
    out: list[str | None] = []
    for i, group in enumerate(groups[:-1]):
        if 2 * i + 1 in rejected:
            out.append(None)
        else:
            assert len(group) == 1, f"{_hex_line(insns[i])}: llvm-mc printed {group}"
            out.append(group[0])
    return out


@needs_mc
def test_generated_encodings_match_llvm_mc() -> None:
    encodings = generated_encodings()
    # Only the comparable encodings go to llvm-mc: it crashes on some of the others
    # (ld_imm64 with src 2), and what it prints for them is not checked anyway.
    comparable = [i for i in encodings if llvm14_skip_reason(i) is None]
    covered = {i.code for i in comparable}
    skipped = Counter(r for i in encodings if (r := llvm14_skip_reason(i)) is not None)
    mismatches: list[Mismatch] = []
    for insn, text in zip(comparable, llvm_mc(comparable), strict=True):
        mine = format_insn(insn)
        if text != mine:
            mismatches.append(Mismatch(str(insn), encode_insn(insn), text or "<invalid>", mine))
    print(
        f"\nllvm-mc: {len(comparable)} of {len(encodings)} encodings compared "
        f"({len(covered)} opcodes), skipped {dict(skipped)}"
    )
    assert len(covered) > 100, f"only {len(covered)} opcodes compared"
    assert not mismatches, _report("mismatches with llvm-mc-14", mismatches, len(comparable))


@needs_mc
def test_skipped_encodings_are_not_comparable() -> None:
    """Every encoding the predicate skips really is one LLVM 14 rejects or prints otherwise.

    This keeps :func:`llvm14_skip_reason` from hiding instructions LLVM 14 does know.
    """
    skipped = [
        insn
        for insn in generated_encodings()
        if llvm14_skip_reason(insn) not in (None, "ld_imm64 src 2")  # src 2 crashes llvm-mc
    ]
    same = [
        Mismatch(f"{llvm14_skip_reason(insn)}: {insn}", encode_insn(insn), text, text)
        for insn, text in zip(skipped, llvm_mc(skipped), strict=True)
        if text == format_insn(insn)
    ]
    assert not same, _report("skipped encodings LLVM 14 prints like we do", same, len(skipped))


def test_every_opcode_is_generated() -> None:
    codes = {i.code for i in generated_encodings()}
    assert codes == set(OPCODES), sorted(hex(c) for c in set(OPCODES) - codes)


# --------------------------------------------------------------------------------------------
# 3. Round trip: text -> assemble -> the same instructions


def _round_trip_failure(where: str, insns: list[Insn]) -> Mismatch | None:
    text = "\n".join(format_insn(i) for i in insns)
    try:
        back = assemble(text, where)
    except BpfvmError as exc:
        return Mismatch(where, b"", "-", f"assemble failed: {exc}")
    if back == insns:
        return None
    for pc, a, b in zip(slot_pcs(insns), insns, back, strict=False):
        if a != b:
            return Mismatch(f"{where} {pc}", encode_insn(a), format_insn(a), format_insn(b))
    return Mismatch(where, b"", f"{len(insns)} insns", f"{len(back)} insns")


@needs_samples
def test_elf_programs_round_trip() -> None:
    failures: list[Mismatch] = []
    checked = invalid = 0
    for path in _objects():
        name = str(path.relative_to(SAMPLES))
        for prog in read_programs(path.read_bytes(), name):
            try:
                insns = decode(prog.code)  # validates every instruction with check_fields
            except EncodingError:
                invalid += 1  # not every instruction is valid: outside the contract
                continue
            checked += 1
            if fail := _round_trip_failure(f"{name} {prog.section} {prog.name}", insns):
                failures.append(fail)
    print(f"\nround trip: {checked} ELF programs checked, {invalid} with invalid instructions")
    assert checked > 400, f"only {checked} programs checked"
    assert not failures, _report("ELF programs that do not round-trip", failures, checked)


def _conformance_asm(text: str) -> str:
    """The ``-- asm`` section of a bpf_conformance ``.data`` file."""
    body: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("-- "):
            inside = line.strip() == "-- asm"
        elif inside:
            body.append(line)
    return "\n".join(body)


@needs_conformance
def test_conformance_programs_round_trip() -> None:
    failures: list[Mismatch] = []
    checked = 0
    files = sorted(CONFORMANCE.glob("*.data"))
    assert files, f"no .data files in {CONFORMANCE}"
    for path in files:
        insns = assemble_ubpf(_conformance_asm(path.read_text()), path.name)
        # assemble_ubpf checks every instruction with check_fields, so all are valid.
        checked += 1
        if fail := _round_trip_failure(path.name, insns):
            failures.append(fail)
    assert not failures, _report("conformance programs that do not round-trip", failures, checked)
