"""Fixtures for the BTF tests: the kernel's BTF (skipped when unreadable), the committed test
objects' ``.BTF``/``.BTF.ext`` (read with pyelftools) and the bundled BTF."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from bpfvm.btf import Btf, BtfExt, bundled_btf
from bpfvm.isa.insn import LD_IMM64_CODE, Insn

DATA = Path(__file__).parent / "data"
VMLINUX = Path("/sys/kernel/btf/vmlinux")


@dataclass
class Obj:
    """One test object: its BTF, BTF.ext, and section bytes by name."""

    path: Path
    btf: Btf
    ext: BtfExt
    raw_btf: bytes
    raw_ext: bytes
    sections: dict[str, bytes]

    def insn(self, section: str, slot: int) -> Insn:
        code = self.sections[section]
        c, regs, off, imm = struct.unpack_from("<BBhi", code, 8 * slot)
        hi = struct.unpack_from("<i", code, 8 * slot + 12)[0] if c == LD_IMM64_CODE else 0
        return Insn(c, regs & 0xF, regs >> 4, off, imm, hi)


@functools.cache
def load_obj(name: str) -> Obj:
    path = DATA / f"{name}.o"
    with path.open("rb") as f:
        elf = ELFFile(f)
        sections = {s.name: s.data() for s in elf.iter_sections()}
    raw_btf, raw_ext = sections[".BTF"], sections[".BTF.ext"]
    btf = Btf.parse(raw_btf)
    return Obj(path, btf, BtfExt.parse(raw_ext, btf), raw_btf, raw_ext, sections)


@pytest.fixture(scope="session")
def vmlinux_raw() -> bytes:
    try:
        return VMLINUX.read_bytes()
    except OSError:
        pytest.skip("no readable /sys/kernel/btf/vmlinux")


@pytest.fixture(scope="session")
def vmlinux(vmlinux_raw: bytes) -> Btf:
    return Btf.parse(vmlinux_raw)


@pytest.fixture(scope="session")
def bundled() -> Btf:
    return bundled_btf()


@pytest.fixture(scope="session")
def core_task() -> Obj:
    return load_obj("core_task")


@pytest.fixture(scope="session")
def core_net() -> Obj:
    return load_obj("core_net")
