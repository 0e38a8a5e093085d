"""bpfvm: the Linux eBPF pipeline (load, verify, fix up, run, attach) in userspace.

The public Python API; see README.md. Stages live in their own packages (``bpfvm.isa``,
``bpfvm.asm``, ``bpfvm.elf``, ``bpfvm.runtime``, ``bpfvm.vm``).
"""

from bpfvm.asm import assemble, disassemble, listing
from bpfvm.errors import AsmError, BpfvmError, EncodingError, InputError, VmFault
from bpfvm.isa import Insn, decode, encode
from bpfvm.vm.interp import InterpOptions, Interpreter, RunResult, run_program

__version__ = "0.1.0"

__all__ = [
    "AsmError",
    "BpfvmError",
    "EncodingError",
    "InputError",
    "Insn",
    "InterpOptions",
    "Interpreter",
    "RunResult",
    "VmFault",
    "assemble",
    "decode",
    "disassemble",
    "encode",
    "listing",
    "run_program",
]
