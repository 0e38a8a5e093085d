"""What a ``get_func_proto`` answer may depend on besides the helper id: the loader's
capabilities, the kernel's build and boot configuration, and facts about the program being
loaded (expected attach type, sleepable flag, attach target). All frozen values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum, IntFlag


class Cap(IntFlag):
    """The capabilities that gate helpers (``bpf_token_capable`` / ``capable``)."""

    BPF = 1
    PERFMON = 2
    NET_ADMIN = 4
    SYS_ADMIN = 8
    ALL = BPF | PERFMON | NET_ADMIN | SYS_ADMIN


class Lockdown(IntEnum):
    """Kernel lockdown level (``security_locked_down``)."""

    NONE = 0
    INTEGRITY = 1  # blocks LOCKDOWN_BPF_WRITE_USER
    CONFIDENTIALITY = 2  # also blocks LOCKDOWN_BPF_READ_KERNEL


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """The build and boot options of the modelled kernel that change helper availability."""

    kprobe_override: bool = True  # CONFIG_BPF_KPROBE_OVERRIDE
    cgroup_net_classid: bool = True  # CONFIG_CGROUP_NET_CLASSID
    xfrm: bool = True  # CONFIG_XFRM
    ipv6_seg6_bpf: bool = True  # CONFIG_IPV6_SEG6_BPF
    lockdown: Lockdown = Lockdown.NONE

    @classmethod
    def from_kconfig(cls, text: str) -> KernelConfig:
        """Read the options from a kernel ``.config`` (``/proc/config.gz`` decompressed).

        The lockdown level is the one the configuration forces at boot.
        """
        enabled = set(re.findall(r"^(CONFIG_\w+)=[ym]", text, re.MULTILINE))
        lockdown = Lockdown.NONE
        if "CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY" in enabled:
            lockdown = Lockdown.INTEGRITY
        if "CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY" in enabled:
            lockdown = Lockdown.CONFIDENTIALITY
        return cls(
            kprobe_override="CONFIG_BPF_KPROBE_OVERRIDE" in enabled,
            cgroup_net_classid="CONFIG_CGROUP_NET_CLASSID" in enabled,
            xfrm="CONFIG_XFRM" in enabled,
            ipv6_seg6_bpf="CONFIG_IPV6_SEG6_BPF" in enabled,
            lockdown=lockdown,
        )


@dataclass(frozen=True, slots=True)
class ProgEnv:
    """The program-load facts a ``get_func_proto`` looks at.

    ``expected_attach_type`` None means the program type's default. ``attach_func`` is the
    name of the BTF attach target (``bpf_lsm_file_open``, ``bpf_iter_tcp``, ...) for the
    program types that have one.
    """

    expected_attach_type: int | None = None
    sleepable: bool = False
    attach_func: str = ""
    caps: Cap = Cap.ALL
    config: KernelConfig = KernelConfig()
