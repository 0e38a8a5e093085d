"""The verifier: abstract interpretation of a program with the kernel's verdicts and log.

:func:`verify` walks every path of a :class:`~bpfvm.program.model.Program` as Linux 6.18's
verifier does for a privileged loader (CAP_BPF + CAP_PERFMON) and returns a
:class:`VerifierResult`: the verdict, the kernel's last error line, the number of processed
instructions and state statistics, the log at level 1 or 2, and the per-instruction facts the
fixup stage needs (:class:`~bpfvm.verifier.env.InsnAux`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bpfvm.platform.env import KernelConfig, ProgEnv, running_kernel_config
from bpfvm.program.model import Program
from bpfvm.verifier.env import InsnAux
from bpfvm.verifier.errors import VerifierBug, VerifierReject
from bpfvm.verifier.log import VerifierLog, stats_line
from bpfvm.verifier.structure import Subprog


@dataclass
class VerifierResult:
    """The outcome of :func:`verify`."""

    accepted: bool
    error: str | None
    errno: int
    processed_insns: int
    log: str
    max_states_per_insn: int = 0
    total_states: int = 0
    peak_states: int = 0
    aux: list[InsnAux] = field(default_factory=list)
    stack_depths: list[int] = field(default_factory=list)
    subprogs: list[Subprog] = field(default_factory=list)  # bpf_subprog_info
    seen_helpers: frozenset[int] = frozenset()


def prog_env(program: Program, config: KernelConfig | None = None) -> ProgEnv:
    """The :class:`ProgEnv` a program is loaded with (its expected attach type, sleepable flag
    and attach target) on a kernel built and booted as ``config`` (default: the running
    kernel's, :func:`~bpfvm.platform.env.running_kernel_config`)."""
    eat = program.expected_attach_type
    return ProgEnv(
        expected_attach_type=int(eat) if eat is not None else None,
        sleepable=program.sleepable,
        attach_func=program.attach_to,
        config=config if config is not None else running_kernel_config(),
    )


def verify(
    program: Program,
    *,
    log_level: int = 0,
    env: ProgEnv | None = None,
    insn_limit: int = 1_000_000,
) -> VerifierResult:
    """Verify ``program`` as the kernel would load it; never raises for an unsafe program.

    ``env`` None means the program's own facts (:func:`prog_env`) on the RUNNING kernel:
    its build options from ``/proc/config.gz`` and its lockdown level from
    ``/sys/kernel/security/lockdown`` (or the level the configuration forces), so a helper the
    kernel would refuse (``bpf_override_return`` without ``CONFIG_BPF_KPROBE_OVERRIDE``,
    ``bpf_probe_write_user`` under lockdown, ...) is refused here too; when that is not
    readable, the permissive default (every option on, no lockdown). Pass ``env`` (e.g.
    ``prog_env(program, KernelConfig())``) for a machine-independent verdict.
    ``insn_limit`` is the kernel's ``BPF_COMPLEXITY_LIMIT_INSNS``; only tests lower it.
    """
    from bpfvm.verifier.main import verify_program

    log = VerifierLog(log_level)
    penv = env if env is not None else prog_env(program)
    result_env = None
    error: str | None = None
    errno = 0
    try:
        result_env = verify_program(program, log, penv, insn_limit)
    except VerifierReject as exc:
        error = exc.diagnostic
        errno = exc.errno
        log.write(exc.diagnostic + ("\n" if exc.newline else "") + exc.trailer)
        result_env = getattr(exc, "env", None)
    from bpfvm.verifier.main import last_env

    e = result_env or last_env(log)
    processed = e.insn_processed if e is not None else 0
    max_states = e.max_states_per_insn if e is not None else 0
    total = e.total_states if e is not None else 0
    peak = e.peak_states if e is not None else 0
    log.write(stats_line(processed, max_states, total, peak))
    return VerifierResult(
        accepted=error is None,
        error=error,
        errno=errno,
        processed_insns=processed,
        log=log.text(),
        max_states_per_insn=max_states,
        total_states=total,
        peak_states=peak,
        aux=e.aux if e is not None else [],
        stack_depths=[sp.stack_depth for sp in e.info.subprogs] if e is not None else [],
        subprogs=list(e.info.subprogs) if e is not None else [],
        seen_helpers=frozenset(e.seen_helpers) if e is not None else frozenset(),
    )


__all__ = ["InsnAux", "VerifierBug", "VerifierReject", "VerifierResult", "prog_env", "verify"]
