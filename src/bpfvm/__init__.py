"""bpfvm: the Linux eBPF pipeline (load, verify, fix up, run, attach) in userspace.

The public Python API; see README.md. Stages live in their own packages (``bpfvm.isa``,
``bpfvm.asm``, ``bpfvm.btf``, ``bpfvm.elf``, ``bpfvm.platform``, ``bpfvm.runtime``,
``bpfvm.vm``, ``bpfvm.hooks``).
"""

from bpfvm.asm import assemble, disassemble, listing
from bpfvm.elf.loader import BpfObject, load_object
from bpfvm.errors import AsmError, BpfvmError, EncodingError, InputError, VmFault
from bpfvm.hooks.packet_ctx import TestRunError
from bpfvm.hooks.test_run import LoadedObject, TestRunResult, load
from bpfvm.isa import Insn, decode, encode
from bpfvm.program import MapSpec, Program
from bpfvm.runtime.maps import BpfMap, MapError, create_map
from bpfvm.vm.interp import InterpOptions, Interpreter, RunResult, run_program

__version__ = "0.1.0"

__all__ = [
    "AsmError",
    "BpfMap",
    "BpfObject",
    "BpfvmError",
    "EncodingError",
    "InputError",
    "Insn",
    "InterpOptions",
    "Interpreter",
    "LoadedObject",
    "MapError",
    "MapSpec",
    "Program",
    "RunResult",
    "TestRunError",
    "TestRunResult",
    "VmFault",
    "assemble",
    "create_map",
    "decode",
    "disassemble",
    "encode",
    "listing",
    "load",
    "load_object",
    "run_program",
]
