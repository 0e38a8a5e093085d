"""What the kernel fixes per program type, as tables (Linux 6.18): helper prototypes, which
helpers each program type may call, context layouts and accesses, return-value ranges, map
type/helper compatibility. The verifier and the runtime both read these.

* :mod:`~bpfvm.platform.arg_types`: ``enum bpf_arg_type`` / ``bpf_return_type`` /
  ``bpf_reg_type`` as (base, flags) pairs;
* :mod:`~bpfvm.platform.helper_protos`: :data:`HELPER_PROTOS` (canonical prototype per helper
  id) and :data:`PROTO_VARIANTS` (every kernel prototype variable);
* :mod:`~bpfvm.platform.prog_types`: :data:`PROG_TYPES`, :func:`func_proto`,
  :func:`available_helpers`;
* :mod:`~bpfvm.platform.ctx_layouts` and :mod:`~bpfvm.platform.ctx_access`: context structs and
  :func:`check_ctx_access`;
* :mod:`~bpfvm.platform.map_types`: :data:`MAP_TYPES`, :func:`map_func_compatible`.
"""

from bpfvm.platform.arg_types import ArgBase, ArgType, RegBase, RegType, RetBase, RetType, TypeFlag
from bpfvm.platform.ctx_access import CtxAccess, check_ctx_access
from bpfvm.platform.ctx_layouts import CTX_LAYOUTS, CtxField, CtxLayout
from bpfvm.platform.env import Cap, KernelConfig, Lockdown, ProgEnv, running_kernel_config
from bpfvm.platform.helper_protos import HELPER_PROTOS, PROTO_VARIANTS, variants_of
from bpfvm.platform.map_types import HELPER_MAP_TYPES, MAP_TYPES, MapTypeSpec, map_func_compatible
from bpfvm.platform.prog_types import (
    PROG_TYPES,
    PacketAccess,
    ProgTypeSpec,
    available_helpers,
    func_proto,
)
from bpfvm.platform.proto import HelperProto

__all__ = [
    "CTX_LAYOUTS",
    "HELPER_MAP_TYPES",
    "HELPER_PROTOS",
    "MAP_TYPES",
    "PROG_TYPES",
    "PROTO_VARIANTS",
    "ArgBase",
    "ArgType",
    "Cap",
    "CtxAccess",
    "CtxField",
    "CtxLayout",
    "HelperProto",
    "KernelConfig",
    "Lockdown",
    "MapTypeSpec",
    "PacketAccess",
    "ProgEnv",
    "ProgTypeSpec",
    "RegBase",
    "RegType",
    "RetBase",
    "RetType",
    "TypeFlag",
    "available_helpers",
    "check_ctx_access",
    "func_proto",
    "map_func_compatible",
    "running_kernel_config",
    "variants_of",
]
