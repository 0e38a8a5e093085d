"""``bpf_convert_ctx_accesses`` (fixups.c): UAPI context accesses become accesses to bpfvm's
runtime context structures (:mod:`bpfvm.fixups.ctx_layout`).

For every load or store the verifier recorded as a ``PTR_TO_CTX`` access
(``InsnAux.ptr_type``), in a program type that has a runtime structure:

* ``data``/``data_end``/``data_meta`` (32-bit UAPI fields) become 64-bit loads of the real
  pointers;
* a **narrow load** (fewer bytes than the field, ``InsnAux.ctx_field_size`` or the platform's
  ``check_ctx_access``) reads the whole field, shifts right by its byte offset in the field
  times 8 (a 64-bit shift for an 8-byte field), and masks to the access width with a 32-bit
  AND, which also clears the upper half (little-endian, as the kernel on x86-64);
* a sign-extending load (MEMSX) gets ``rX = (sN)rX`` appended;
* every other access is already an access to the same bytes of the runtime structure and is
  left as it is.

The kernel's prologue/epilogue generators have nothing to do here: bpfvm's socket buffers are
never cloned (``bpf_unclone_prologue``) and struct_ops programs are not run. Without the
verifier's pointer types nothing is converted; the runtime structures keep the UAPI layout
at offset 0 precisely so that such a program still runs.
"""

from __future__ import annotations

from bpfvm.fixups.aux import FACT_PTR_TYPE
from bpfvm.fixups.build import alu32_imm, alu64_imm, ldx_mem, movsx64
from bpfvm.fixups.ctx_layout import RUNTIME_CTX, RuntimeCtx
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.passes.common import note
from bpfvm.fixups.patcher import Patcher
from bpfvm.fixups.program import XlatedProgram
from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import SIZE_BYTES, AluOp, InsnClass, Mode, Size
from bpfvm.platform.arg_types import RegBase
from bpfvm.platform.ctx_access import check_ctx_access
from bpfvm.platform.env import ProgEnv


def _field_size(prog: XlatedProgram, aux_size: int, off: int, size: int, write: bool) -> int:
    if aux_size:
        return aux_size
    env = ProgEnv(expected_attach_type=prog.source.expected_attach_type)
    try:
        access = check_ctx_access(prog.source.prog_type, off, size, write, env)
    except (KeyError, ValueError):
        return size
    return access.field_size if access is not None else size


def convert_ctx_access(rt: RuntimeCtx, insn: Insn, field_size: int) -> list[Insn] | None:
    """The replacement of one ctx load/store, or None to leave it alone."""
    cls = insn.code & 0x07
    size = SIZE_BYTES[Size(insn.code & 0x18)]
    off = insn.off
    f = rt.uapi.field_at(off)
    if f is None:
        return None
    elem = f.offset + (off - f.offset) // f.size * f.size  # the array element, or the field
    target = rt.field_for(f.name)
    rt_elem = target.offset + (elem - f.offset)
    moved = f.name in rt.moved
    if cls != InsnClass.LDX:
        return None  # stores hit the same bytes; packet pointers are never written
    signed = (insn.code & 0xE0) == Mode.MEMSX
    dst, src = insn.dst, insn.src
    if moved:
        out = [ldx_mem(target.size, dst, src, target.offset)]
    elif size < field_size:
        width = min(field_size, f.size)
        out = [ldx_mem(width, dst, src, rt_elem)]
        shift = (off - elem) * 8
        if shift:
            rsh = alu32_imm if width <= 4 else alu64_imm
            out.append(rsh(AluOp.RSH, dst, shift))
        mask = (1 << (size * 8)) - 1
        out.append(alu32_imm(AluOp.AND, dst, mask if mask < (1 << 31) else -1))
    else:
        return None
    if signed:
        out.append(movsx64(dst, dst, size * 8))
    return out


class ConvertCtxAccesses:
    name = "convert_ctx_accesses"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        rt = RUNTIME_CTX.get(prog.source.prog_type)
        if rt is None:
            return prog
        if not prog.aux.has(FACT_PTR_TYPE):
            return note(prog, "ctx accesses: no pointer types without the verifier (UAPI kept)")
        p = Patcher(prog)
        i = 0
        changed = False
        while i < len(p):
            insn = p.slots[i]
            if insn is None or p.aux[i].ptr_type != RegBase.PTR_TO_CTX:
                i += 1
                continue
            cls = insn.code & 0x07
            mode = insn.code & 0xE0
            if cls not in (InsnClass.LDX, InsnClass.STX, InsnClass.ST) or mode not in (
                Mode.MEM,
                Mode.MEMSX,
            ):
                i += 1
                continue
            size = SIZE_BYTES[Size(insn.code & 0x18)]
            fsize = _field_size(prog, p.aux[i].ctx_field_size, insn.off, size, cls != 1)
            new = convert_ctx_access(rt, insn, fsize)
            if new is None:
                i += 1
                continue
            p.patch(i, new)
            changed = True
            i += len(new)
        return p.finish() if changed else prog
