"""The kernel's argument, return and register type vocabulary (``include/linux/bpf.h``).

The kernel encodes ``enum bpf_arg_type``, ``enum bpf_return_type`` and ``enum bpf_reg_type`` as
one integer each: a *base type* in the low ``BPF_BASE_TYPE_BITS`` (8) bits and *type flags*
(``enum bpf_type_flag``: ``PTR_MAYBE_NULL``, ``MEM_RDONLY``, ``MEM_UNINIT``, ...) above them.
Python's ``IntFlag`` cannot hold such a mixed value sensibly (the base values are not single
bits), so bpfvm keeps the pair explicitly:

* :class:`ArgBase`, :class:`RetBase`, :class:`RegBase` are ``IntEnum`` s of the base types,
  numbered as in Linux 6.18;
* :class:`TypeFlag` is the ``IntFlag`` of the flag bits, at the kernel's bit positions;
* :class:`ArgType`, :class:`RetType`, :class:`RegType` are frozen ``(base, flags)`` pairs.
  ``|`` with a :class:`TypeFlag` adds flags, ``.value`` gives the kernel's integer encoding and
  ``str()`` the kernel spelling (``ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY``).

The module also defines the kernel's named constants (``ARG_PTR_TO_UNINIT_MEM``,
``RET_PTR_TO_MAP_VALUE_OR_NULL``, ``PTR_TO_PACKET``, ...) so that tables read like the kernel's
``struct bpf_func_proto`` initialisers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

BPF_BASE_TYPE_BITS = 8
"""Bits of the base type in the kernel's combined type encoding."""


class TypeFlag(IntFlag):
    """``enum bpf_type_flag``: modifiers shared by argument, return and register types."""

    PTR_MAYBE_NULL = 1 << (0 + BPF_BASE_TYPE_BITS)
    MEM_RDONLY = 1 << (1 + BPF_BASE_TYPE_BITS)
    MEM_RINGBUF = 1 << (2 + BPF_BASE_TYPE_BITS)
    MEM_USER = 1 << (3 + BPF_BASE_TYPE_BITS)
    MEM_PERCPU = 1 << (4 + BPF_BASE_TYPE_BITS)
    OBJ_RELEASE = 1 << (5 + BPF_BASE_TYPE_BITS)
    PTR_UNTRUSTED = 1 << (6 + BPF_BASE_TYPE_BITS)
    MEM_UNINIT = 1 << (7 + BPF_BASE_TYPE_BITS)
    DYNPTR_TYPE_LOCAL = 1 << (8 + BPF_BASE_TYPE_BITS)
    DYNPTR_TYPE_RINGBUF = 1 << (9 + BPF_BASE_TYPE_BITS)
    MEM_FIXED_SIZE = 1 << (10 + BPF_BASE_TYPE_BITS)
    MEM_ALLOC = 1 << (11 + BPF_BASE_TYPE_BITS)
    PTR_TRUSTED = 1 << (12 + BPF_BASE_TYPE_BITS)
    MEM_RCU = 1 << (13 + BPF_BASE_TYPE_BITS)
    NON_OWN_REF = 1 << (14 + BPF_BASE_TYPE_BITS)
    DYNPTR_TYPE_SKB = 1 << (15 + BPF_BASE_TYPE_BITS)
    DYNPTR_TYPE_XDP = 1 << (16 + BPF_BASE_TYPE_BITS)
    MEM_ALIGNED = 1 << (17 + BPF_BASE_TYPE_BITS)
    MEM_WRITE = 1 << (18 + BPF_BASE_TYPE_BITS)
    DYNPTR_TYPE_SKB_META = 1 << (19 + BPF_BASE_TYPE_BITS)


NO_FLAGS = TypeFlag(0)
PTR_MAYBE_NULL = TypeFlag.PTR_MAYBE_NULL
MEM_RDONLY = TypeFlag.MEM_RDONLY
MEM_RINGBUF = TypeFlag.MEM_RINGBUF
MEM_USER = TypeFlag.MEM_USER
MEM_PERCPU = TypeFlag.MEM_PERCPU
OBJ_RELEASE = TypeFlag.OBJ_RELEASE
PTR_UNTRUSTED = TypeFlag.PTR_UNTRUSTED
MEM_UNINIT = TypeFlag.MEM_UNINIT
DYNPTR_TYPE_LOCAL = TypeFlag.DYNPTR_TYPE_LOCAL
DYNPTR_TYPE_RINGBUF = TypeFlag.DYNPTR_TYPE_RINGBUF
MEM_FIXED_SIZE = TypeFlag.MEM_FIXED_SIZE
MEM_ALLOC = TypeFlag.MEM_ALLOC
PTR_TRUSTED = TypeFlag.PTR_TRUSTED
MEM_RCU = TypeFlag.MEM_RCU
NON_OWN_REF = TypeFlag.NON_OWN_REF
DYNPTR_TYPE_SKB = TypeFlag.DYNPTR_TYPE_SKB
DYNPTR_TYPE_XDP = TypeFlag.DYNPTR_TYPE_XDP
MEM_ALIGNED = TypeFlag.MEM_ALIGNED
MEM_WRITE = TypeFlag.MEM_WRITE
DYNPTR_TYPE_SKB_META = TypeFlag.DYNPTR_TYPE_SKB_META


def _flag_names(flags: TypeFlag) -> str:
    return "".join(f"|{f.name}" for f in TypeFlag if f in flags)


class ArgBase(IntEnum):
    """Base types of ``enum bpf_arg_type`` (what a helper expects in one argument register)."""

    DONTCARE = 0  # unused argument
    CONST_MAP_PTR = 1  # a map (ld_imm64 map fd)
    PTR_TO_MAP_KEY = 2  # memory holding a key of the map given in an earlier argument
    PTR_TO_MAP_VALUE = 3  # memory holding a value of that map
    PTR_TO_MEM = 4  # initialised memory: stack, packet, map value, ...
    PTR_TO_ARENA = 5
    CONST_SIZE = 6  # byte count of the preceding memory argument, > 0
    CONST_SIZE_OR_ZERO = 7  # byte count of the preceding memory argument, >= 0
    PTR_TO_CTX = 8
    ANYTHING = 9  # any initialised value
    PTR_TO_SPIN_LOCK = 10
    PTR_TO_SOCK_COMMON = 11
    PTR_TO_SOCKET = 12
    PTR_TO_BTF_ID = 13
    PTR_TO_RINGBUF_MEM = 14
    CONST_ALLOC_SIZE_OR_ZERO = 15  # size of memory the helper allocates (constant)
    PTR_TO_BTF_ID_SOCK_COMMON = 16
    PTR_TO_PERCPU_BTF_ID = 17
    PTR_TO_FUNC = 18  # a callback (ld_imm64 of a subprogram)
    PTR_TO_STACK = 19
    PTR_TO_CONST_STR = 20  # NUL-terminated string in a read-only map
    PTR_TO_TIMER = 21
    KPTR_XCHG_DEST = 22
    PTR_TO_DYNPTR = 23


class RetBase(IntEnum):
    """Base types of ``enum bpf_return_type``."""

    INTEGER = 0
    VOID = 1
    PTR_TO_MAP_VALUE = 2
    PTR_TO_SOCKET = 3
    PTR_TO_TCP_SOCK = 4
    PTR_TO_SOCK_COMMON = 5
    PTR_TO_MEM = 6
    PTR_TO_MEM_OR_BTF_ID = 7
    PTR_TO_BTF_ID = 8


class RegBase(IntEnum):
    """Base types of ``enum bpf_reg_type`` (what a register holds, for the verifier)."""

    NOT_INIT = 0
    SCALAR_VALUE = 1
    PTR_TO_CTX = 2
    CONST_PTR_TO_MAP = 3
    PTR_TO_MAP_VALUE = 4
    PTR_TO_MAP_KEY = 5
    PTR_TO_STACK = 6
    PTR_TO_PACKET_META = 7
    PTR_TO_PACKET = 8
    PTR_TO_PACKET_END = 9
    PTR_TO_FLOW_KEYS = 10
    PTR_TO_SOCKET = 11
    PTR_TO_SOCK_COMMON = 12
    PTR_TO_TCP_SOCK = 13
    PTR_TO_TP_BUFFER = 14
    PTR_TO_XDP_SOCK = 15
    PTR_TO_BTF_ID = 16
    PTR_TO_MEM = 17
    PTR_TO_ARENA = 18
    PTR_TO_BUF = 19
    PTR_TO_FUNC = 20
    CONST_PTR_TO_DYNPTR = 21


@dataclass(frozen=True, slots=True)
class ArgType:
    """One ``enum bpf_arg_type`` value: a base type plus type flags."""

    base: ArgBase
    flags: TypeFlag = NO_FLAGS

    def __or__(self, flags: TypeFlag) -> ArgType:
        return ArgType(self.base, self.flags | flags)

    @property
    def value(self) -> int:
        """The kernel's integer encoding (base | flags)."""
        return int(self.base) | int(self.flags)

    @property
    def may_be_null(self) -> bool:
        return TypeFlag.PTR_MAYBE_NULL in self.flags

    @property
    def is_mem_size(self) -> bool:
        """ARG_CONST_SIZE or ARG_CONST_SIZE_OR_ZERO (the size of the preceding memory)."""
        return self.base in (ArgBase.CONST_SIZE, ArgBase.CONST_SIZE_OR_ZERO)

    def __str__(self) -> str:
        return f"ARG_{self.base.name}{_flag_names(self.flags)}"


@dataclass(frozen=True, slots=True)
class RetType:
    """One ``enum bpf_return_type`` value."""

    base: RetBase
    flags: TypeFlag = NO_FLAGS

    def __or__(self, flags: TypeFlag) -> RetType:
        return RetType(self.base, self.flags | flags)

    @property
    def value(self) -> int:
        return int(self.base) | int(self.flags)

    @property
    def may_be_null(self) -> bool:
        return TypeFlag.PTR_MAYBE_NULL in self.flags

    def __str__(self) -> str:
        return f"RET_{self.base.name}{_flag_names(self.flags)}"


@dataclass(frozen=True, slots=True)
class RegType:
    """One ``enum bpf_reg_type`` value."""

    base: RegBase
    flags: TypeFlag = NO_FLAGS

    def __or__(self, flags: TypeFlag) -> RegType:
        return RegType(self.base, self.flags | flags)

    @property
    def value(self) -> int:
        return int(self.base) | int(self.flags)

    @property
    def is_scalar(self) -> bool:
        return self.base is RegBase.SCALAR_VALUE

    def __str__(self) -> str:
        return f"{self.base.name}{_flag_names(self.flags)}"


# --- the kernel's named argument types -------------------------------------------------------

ARG_DONTCARE = ArgType(ArgBase.DONTCARE)
ARG_CONST_MAP_PTR = ArgType(ArgBase.CONST_MAP_PTR)
ARG_PTR_TO_MAP_KEY = ArgType(ArgBase.PTR_TO_MAP_KEY)
ARG_PTR_TO_MAP_VALUE = ArgType(ArgBase.PTR_TO_MAP_VALUE)
ARG_PTR_TO_MEM = ArgType(ArgBase.PTR_TO_MEM)
ARG_PTR_TO_ARENA = ArgType(ArgBase.PTR_TO_ARENA)
ARG_CONST_SIZE = ArgType(ArgBase.CONST_SIZE)
ARG_CONST_SIZE_OR_ZERO = ArgType(ArgBase.CONST_SIZE_OR_ZERO)
ARG_PTR_TO_CTX = ArgType(ArgBase.PTR_TO_CTX)
ARG_ANYTHING = ArgType(ArgBase.ANYTHING)
ARG_PTR_TO_SPIN_LOCK = ArgType(ArgBase.PTR_TO_SPIN_LOCK)
ARG_PTR_TO_SOCK_COMMON = ArgType(ArgBase.PTR_TO_SOCK_COMMON)
ARG_PTR_TO_SOCKET = ArgType(ArgBase.PTR_TO_SOCKET)
ARG_PTR_TO_BTF_ID = ArgType(ArgBase.PTR_TO_BTF_ID)
ARG_PTR_TO_RINGBUF_MEM = ArgType(ArgBase.PTR_TO_RINGBUF_MEM)
ARG_CONST_ALLOC_SIZE_OR_ZERO = ArgType(ArgBase.CONST_ALLOC_SIZE_OR_ZERO)
ARG_PTR_TO_BTF_ID_SOCK_COMMON = ArgType(ArgBase.PTR_TO_BTF_ID_SOCK_COMMON)
ARG_PTR_TO_PERCPU_BTF_ID = ArgType(ArgBase.PTR_TO_PERCPU_BTF_ID)
ARG_PTR_TO_FUNC = ArgType(ArgBase.PTR_TO_FUNC)
ARG_PTR_TO_STACK = ArgType(ArgBase.PTR_TO_STACK)
ARG_PTR_TO_CONST_STR = ArgType(ArgBase.PTR_TO_CONST_STR)
ARG_PTR_TO_TIMER = ArgType(ArgBase.PTR_TO_TIMER)
ARG_KPTR_XCHG_DEST = ArgType(ArgBase.KPTR_XCHG_DEST)
ARG_PTR_TO_DYNPTR = ArgType(ArgBase.PTR_TO_DYNPTR)
# extended argument types
ARG_PTR_TO_MAP_VALUE_OR_NULL = ARG_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL
ARG_PTR_TO_MEM_OR_NULL = ARG_PTR_TO_MEM | PTR_MAYBE_NULL
ARG_PTR_TO_CTX_OR_NULL = ARG_PTR_TO_CTX | PTR_MAYBE_NULL
ARG_PTR_TO_SOCKET_OR_NULL = ARG_PTR_TO_SOCKET | PTR_MAYBE_NULL
ARG_PTR_TO_STACK_OR_NULL = ARG_PTR_TO_STACK | PTR_MAYBE_NULL
ARG_PTR_TO_BTF_ID_OR_NULL = ARG_PTR_TO_BTF_ID | PTR_MAYBE_NULL
ARG_PTR_TO_UNINIT_MEM = ARG_PTR_TO_MEM | MEM_UNINIT | MEM_WRITE
ARG_PTR_TO_FIXED_SIZE_MEM = ARG_PTR_TO_MEM | MEM_FIXED_SIZE

# --- the kernel's named return types ---------------------------------------------------------

RET_INTEGER = RetType(RetBase.INTEGER)
RET_VOID = RetType(RetBase.VOID)
RET_PTR_TO_MAP_VALUE = RetType(RetBase.PTR_TO_MAP_VALUE)
RET_PTR_TO_SOCKET = RetType(RetBase.PTR_TO_SOCKET)
RET_PTR_TO_TCP_SOCK = RetType(RetBase.PTR_TO_TCP_SOCK)
RET_PTR_TO_SOCK_COMMON = RetType(RetBase.PTR_TO_SOCK_COMMON)
RET_PTR_TO_MEM = RetType(RetBase.PTR_TO_MEM)
RET_PTR_TO_MEM_OR_BTF_ID = RetType(RetBase.PTR_TO_MEM_OR_BTF_ID)
RET_PTR_TO_BTF_ID = RetType(RetBase.PTR_TO_BTF_ID)
RET_PTR_TO_MAP_VALUE_OR_NULL = RET_PTR_TO_MAP_VALUE | PTR_MAYBE_NULL
RET_PTR_TO_SOCKET_OR_NULL = RET_PTR_TO_SOCKET | PTR_MAYBE_NULL
RET_PTR_TO_TCP_SOCK_OR_NULL = RET_PTR_TO_TCP_SOCK | PTR_MAYBE_NULL
RET_PTR_TO_SOCK_COMMON_OR_NULL = RET_PTR_TO_SOCK_COMMON | PTR_MAYBE_NULL
RET_PTR_TO_RINGBUF_MEM_OR_NULL = RET_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RINGBUF
RET_PTR_TO_DYNPTR_MEM_OR_NULL = RET_PTR_TO_MEM | PTR_MAYBE_NULL
RET_PTR_TO_BTF_ID_OR_NULL = RET_PTR_TO_BTF_ID | PTR_MAYBE_NULL
RET_PTR_TO_BTF_ID_TRUSTED = RET_PTR_TO_BTF_ID | PTR_TRUSTED

# --- the register types that context loads produce --------------------------------------------

SCALAR_VALUE = RegType(RegBase.SCALAR_VALUE)
PTR_TO_CTX = RegType(RegBase.PTR_TO_CTX)
PTR_TO_PACKET_META = RegType(RegBase.PTR_TO_PACKET_META)
PTR_TO_PACKET = RegType(RegBase.PTR_TO_PACKET)
PTR_TO_PACKET_END = RegType(RegBase.PTR_TO_PACKET_END)
PTR_TO_FLOW_KEYS = RegType(RegBase.PTR_TO_FLOW_KEYS)
PTR_TO_SOCKET = RegType(RegBase.PTR_TO_SOCKET)
PTR_TO_SOCK_COMMON = RegType(RegBase.PTR_TO_SOCK_COMMON)
PTR_TO_TP_BUFFER = RegType(RegBase.PTR_TO_TP_BUFFER)
PTR_TO_BTF_ID = RegType(RegBase.PTR_TO_BTF_ID)
PTR_TO_SOCKET_OR_NULL = PTR_TO_SOCKET | PTR_MAYBE_NULL
PTR_TO_SOCK_COMMON_OR_NULL = PTR_TO_SOCK_COMMON | PTR_MAYBE_NULL
