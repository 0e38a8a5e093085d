"""Every helper prototype bpfvm knows, by kernel symbol and by helper id.

* :data:`PROTO_VARIANTS` maps the kernel's variable name (``bpf_skb_event_output_proto``) to
  its :class:`HelperProto`; one helper id can have several variants.
* :data:`HELPER_PROTOS` maps a helper id to its *canonical* prototype: the variant named
  ``bpf_<helper>_proto`` when the kernel has one, else the first variant listed. Which variant a
  given program type actually gets is :func:`bpfvm.platform.func_protos.func_proto`'s answer
  (the per-program-type override).

The argument and return types use :mod:`bpfvm.platform.arg_types`: a (base, flags) pair per
argument, mirroring the kernel's ``enum bpf_arg_type`` / ``enum bpf_return_type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bpfvm.platform.proto import HelperProto
from bpfvm.platform.protos_core import CORE_PROTOS
from bpfvm.platform.protos_skb import PACKET_PROTOS
from bpfvm.platform.protos_sock import SOCK_PROTOS
from bpfvm.platform.protos_trace import TRACE_PROTOS

__all__ = ["HELPER_PROTOS", "PROTO_VARIANTS", "HelperProto", "variants_of"]

ALL_PROTOS: tuple[HelperProto, ...] = CORE_PROTOS + TRACE_PROTOS + PACKET_PROTOS + SOCK_PROTOS


def _by_symbol(protos: tuple[HelperProto, ...]) -> Mapping[str, HelperProto]:
    table: dict[str, HelperProto] = {}
    for p in protos:
        if p.symbol in table:
            raise ValueError(f"duplicate helper prototype {p.symbol}")
        table[p.symbol] = p
    return MappingProxyType(table)


def _canonical(protos: tuple[HelperProto, ...]) -> Mapping[int, HelperProto]:
    table: dict[int, HelperProto] = {}
    for p in protos:
        if p.func_id not in table or p.symbol == f"{p.name}_proto":
            table[p.func_id] = p
    return MappingProxyType(dict(sorted(table.items())))


PROTO_VARIANTS: Mapping[str, HelperProto] = _by_symbol(ALL_PROTOS)
HELPER_PROTOS: Mapping[int, HelperProto] = _canonical(ALL_PROTOS)


def variants_of(func_id: int) -> tuple[HelperProto, ...]:
    """All prototypes of helper ``func_id``, canonical first."""
    canonical = HELPER_PROTOS.get(func_id)
    others = tuple(p for p in ALL_PROTOS if p.func_id == func_id and p is not canonical)
    return ((canonical,) if canonical else ()) + others
