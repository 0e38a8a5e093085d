"""``struct bpf_func_proto`` as a frozen record, and the builder the proto tables use.

A helper id can have several prototypes in the kernel (``bpf_perf_event_output_proto`` for
kprobes, ``bpf_skb_event_output_proto`` for socket filters, ...); each is one
:class:`HelperProto`, named by the kernel variable (``symbol``). Which one a program type gets is
decided by that type's ``get_func_proto`` (see :mod:`bpfvm.platform.func_protos`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bpfvm.isa.helper_ids import HELPER_IDS, HELPER_NAMES
from bpfvm.platform.arg_types import ArgBase, ArgType, RetType, TypeFlag
from bpfvm.platform.map_types import HELPER_MAP_TYPES
from bpfvm.program.uapi import MapType

MAX_HELPER_ARGS = 5


@dataclass(frozen=True, slots=True)
class HelperProto:
    """What the verifier knows about one helper prototype (``struct bpf_func_proto``).

    ``args`` holds the argument types of r1.. in order, without trailing ``ARG_DONTCARE``.
    ``arg_sizes`` gives the byte size of each ``MEM_FIXED_SIZE`` argument as ``(argno, size)``
    pairs (argno 1-based, the kernel's ``argN_size``). ``allowed`` names the kernel's
    ``fn->allowed`` predicate when there is one (the verifier reports
    ``helper call is not allowed in probe`` when it says no). BTF ids of ``PTR_TO_BTF_ID``
    arguments and returns are not modelled.
    """

    func_id: int
    symbol: str
    ret: RetType
    args: tuple[ArgType, ...] = ()
    gpl_only: bool = False
    pkt_access: bool = False
    might_sleep: bool = False
    allow_fastcall: bool = False
    arg_sizes: tuple[tuple[int, int], ...] = ()
    allowed: str = ""

    @property
    def name(self) -> str:
        """The helper's name, ``bpf_<name>``."""
        return HELPER_NAMES[self.func_id]

    @property
    def allowed_map_types(self) -> frozenset[MapType] | None:
        """Map types this helper accepts (None: any type that allows the helper), from
        ``check_map_func_compatibility``."""
        return HELPER_MAP_TYPES.get(self.func_id)

    def arg(self, argno: int) -> ArgType:
        """The type of argument ``argno`` (1-based); ``ARG_DONTCARE`` past the last one."""
        if not 1 <= argno <= MAX_HELPER_ARGS:
            raise ValueError(f"helper argument number {argno} out of range 1..5")
        if argno <= len(self.args):
            return self.args[argno - 1]
        return ArgType(ArgBase.DONTCARE)

    def arg_size(self, argno: int) -> int | None:
        """The fixed size of a ``MEM_FIXED_SIZE`` argument, else None."""
        return dict(self.arg_sizes).get(argno)


def proto(
    symbol: str,
    helper: str,
    ret: RetType,
    *args: ArgType,
    gpl: bool = False,
    pkt: bool = False,
    sleep: bool = False,
    fastcall: bool = False,
    sizes: tuple[tuple[int, int], ...] = (),
    allowed: str = "",
) -> HelperProto:
    """Build a :class:`HelperProto`; ``helper`` is the name without its ``bpf_`` prefix."""
    func_id = HELPER_IDS[f"bpf_{helper}"]
    if len(args) > MAX_HELPER_ARGS:
        raise ValueError(f"{symbol}: more than {MAX_HELPER_ARGS} arguments")
    for argno, arg in enumerate(args, 1):
        fixed = TypeFlag.MEM_FIXED_SIZE in arg.flags
        if fixed != (argno in dict(sizes)):
            raise ValueError(f"{symbol}: arg{argno} size and MEM_FIXED_SIZE disagree")
    return HelperProto(
        func_id=func_id,
        symbol=symbol,
        ret=ret,
        args=tuple(args),
        gpl_only=gpl,
        pkt_access=pkt,
        might_sleep=sleep,
        allow_fastcall=fastcall,
        arg_sizes=sizes,
        allowed=allowed,
    )
