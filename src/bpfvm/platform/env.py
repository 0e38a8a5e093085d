"""What a ``get_func_proto`` answer may depend on besides the helper id: the loader's
capabilities, the kernel's build and boot configuration, and facts about the program being
loaded (expected attach type, sleepable flag, attach target). All frozen values.
"""

from __future__ import annotations

import functools
import gzip
import re
from dataclasses import dataclass, replace
from enum import IntEnum, IntFlag
from pathlib import Path


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

    @classmethod
    def running(
        cls,
        config_path: str | Path = "/proc/config.gz",
        lockdown_path: str | Path = "/sys/kernel/security/lockdown",
    ) -> KernelConfig | None:
        """The running kernel's configuration, None when it cannot be read.

        The options come from ``config_path`` (gzip-compressed or plain); the lockdown level
        from ``lockdown_path`` (securityfs: ``none [integrity] confidentiality``, the
        bracketed one in force) when it is readable, else the level the configuration forces.
        """
        try:
            raw = Path(config_path).read_bytes()
            text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("latin-1")
        except (OSError, gzip.BadGzipFile, EOFError):
            return None
        cfg = cls.from_kconfig(text)
        level = read_lockdown(lockdown_path)
        return cfg if level is None else replace(cfg, lockdown=level)


def read_lockdown(path: str | Path = "/sys/kernel/security/lockdown") -> Lockdown | None:
    """The lockdown level in force from securityfs (``none [integrity] confidentiality``)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    m = re.search(r"\[(\w+)\]", text)
    if m is None or m.group(1).upper() not in Lockdown.__members__:
        return None
    return Lockdown[m.group(1).upper()]


@functools.cache
def running_kernel_config() -> KernelConfig:
    """:meth:`KernelConfig.running` for this machine (read once), or the permissive default
    (every option on, no lockdown) when the running kernel's configuration is not readable."""
    return KernelConfig.running() or KernelConfig()


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
