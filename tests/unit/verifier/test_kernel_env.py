"""verify() with env=None models the running kernel (config and lockdown); explicit configs."""

from __future__ import annotations

import gzip
from pathlib import Path

from bpfvm.isa.insn import Insn
from bpfvm.platform.env import KernelConfig, Lockdown, read_lockdown
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.verifier import prog_env, verify

# kprobe: r1 = ctx; r2 = 0; call bpf_override_return (58); r0 = 0; exit
OVERRIDE = Program("t", (Insn(0xB7, 2, 0, 0, 0), Insn(0x85, 0, 0, 0, 58), Insn(0xB7, 0, 0, 0, 0),
                         Insn(0x95, 0, 0, 0, 0)), ProgType.KPROBE, license="GPL")  # fmt: skip


def test_running_reads_gzip_config_and_lockdown(tmp_path: Path) -> None:
    cfg = tmp_path / "config.gz"
    cfg.write_bytes(gzip.compress(b"CONFIG_XFRM=y\nCONFIG_BPF_KPROBE_OVERRIDE=y\n"))
    lock = tmp_path / "lockdown"
    lock.write_text("none integrity [confidentiality]\n")
    got = KernelConfig.running(cfg, lock)
    assert got is not None
    assert (got.kprobe_override, got.xfrm, got.cgroup_net_classid) == (True, True, False)
    assert got.lockdown == Lockdown.CONFIDENTIALITY


def test_running_falls_back(tmp_path: Path) -> None:
    assert KernelConfig.running(tmp_path / "missing") is None
    assert read_lockdown(tmp_path / "missing") is None
    cfg = tmp_path / "config"
    cfg.write_text("CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y\n")
    got = KernelConfig.running(cfg, tmp_path / "missing")
    assert got is not None and got.lockdown == Lockdown.INTEGRITY


def test_kernel_config_decides_helpers() -> None:
    permissive = verify(OVERRIDE, env=prog_env(OVERRIDE, KernelConfig()))
    assert permissive.accepted, permissive.error
    off = verify(OVERRIDE, env=prog_env(OVERRIDE, KernelConfig(kprobe_override=False)))
    assert off.error == "program of this type cannot use helper bpf_override_return#58"
