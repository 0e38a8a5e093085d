"""Reading a program from what the user gave: assembly text, raw bytes, hex, or an ELF object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bpfvm.asm.parser import assemble
from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.elf.reader import read_programs
from bpfvm.errors import InputError
from bpfvm.isa.codec import decode
from bpfvm.isa.insn import Insn

_HEX_TEXT = re.compile(r"[0-9a-fA-F\s]+")
_UBPF_HINT = re.compile(r"%r\d")


@dataclass(frozen=True)
class ProgramSource:
    name: str
    insns: list[Insn]


def parse_hex(text: str, what: str = "hex") -> bytes:
    cleaned = re.sub(r"\s+", "", text)
    if cleaned.startswith(("0x", "0X")):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise InputError(f"invalid {what}: {text[:40]!r}") from None


def assemble_text(text: str, source: str) -> list[Insn]:
    """Assemble either dialect: uBPF when registers are written ``%rN``, else kernel syntax."""
    if _UBPF_HINT.search(text):
        return assemble_ubpf(text, source)
    return assemble(text, source)


def is_elf_file(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def bytes_arg(text: str, what: str) -> bytes:
    """``HEX`` or ``@FILE`` (raw bytes) as the test_run options take them."""
    if text.startswith("@"):
        return read_file(text[1:])
    return parse_hex(text, what)


def read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None


def programs_from_bytes(
    data: bytes, source: str, prog: str | None = None, *, validate: bool = True
) -> list[ProgramSource]:
    """Decode raw bytes, an ELF object, hex text or assembly text into programs."""
    if data.startswith(b"\x7fELF"):
        found = read_programs(data, source)
        if prog is not None:
            found = [p for p in found if prog in (p.name, p.section)]
            if not found:
                raise InputError(f"{source}: no program named {prog!r}")
        return [ProgramSource(p.name, decode(p.code, validate=validate)) for p in found]
    if prog is not None:
        raise InputError("--prog only applies to ELF objects")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text and text.strip():
        if _HEX_TEXT.fullmatch(text):
            return [ProgramSource(source, decode(parse_hex(text), validate=validate))]
        return [ProgramSource(source, assemble_text(text, source))]
    return [ProgramSource(source, decode(data, validate=validate))]


def load_programs(
    path: str | None, hex_text: str | None, prog: str | None = None, *, validate: bool = True
) -> list[ProgramSource]:
    if hex_text is not None:
        if path is not None:
            raise InputError("give either FILE or --hex, not both")
        return [ProgramSource("<hex>", decode(parse_hex(hex_text), validate=validate))]
    if path is None:
        raise InputError("no program given (FILE or --hex)")
    return programs_from_bytes(read_file(path), path, prog, validate=validate)
