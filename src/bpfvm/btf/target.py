"""The target BTF CO-RE relocations resolve against.

The running kernel's ``/sys/kernel/btf/vmlinux`` when it is readable; otherwise the small BTF
shipped with bpfvm (``data/bpfvm_min.btf``, made by ``scripts/gen_bundled_btf.py`` from a
kernel's BTF): the context structs bpfvm programs see (``__sk_buff``, ``xdp_md``,
``bpf_raw_tracepoint_args``, ``pt_regs``), the kernel structs behind them (``sk_buff``,
``xdp_buff``), ``task_struct`` pruned to the members tracing programs commonly read, and the
packet headers (``ethhdr``, ``iphdr``, ``ipv6hdr``, ``tcphdr``, ``udphdr``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from bpfvm.btf.btf import Btf
from bpfvm.errors import InputError

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
BUNDLED_BTF = "bpfvm_min.btf"


def bundled_btf() -> Btf:
    """The BTF shipped with bpfvm."""
    data = resources.files("bpfvm.btf").joinpath("data", BUNDLED_BTF).read_bytes()
    return Btf.parse(data)


def load_target_btf(path: str | None = None) -> Btf:
    """BTF from ``path``; without one, the kernel's when readable, else the bundled one."""
    if path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read target BTF {path}: {exc.strerror}") from None
        return Btf.parse(data)
    try:
        data = VMLINUX_BTF.read_bytes()
    except OSError:
        return bundled_btf()
    return Btf.parse(data)
