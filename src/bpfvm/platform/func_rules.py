"""The shape of a program type's ``get_func_proto`` as data, and how to evaluate it.

The kernel answers "may this program call helper N, and with which prototype?" with a chain of
``switch`` statements: ``tc_cls_act_func_proto`` handles the helpers it knows and falls back to
``bpf_sk_base_func_proto``, which falls back to ``bpf_base_func_proto``. A ``case`` may return a
prototype, return one of several depending on the program (attach type, sleepable flag), or
return NULL (capability missing, wrong attach type, config option off).

Here each ``switch`` is a :class:`Layer`: helper id -> ordered :class:`Rule` s. A chain is a
tuple of layers. :func:`resolve` walks the chain: the first layer that has *any* rule for the
id decides; within it the first rule whose conditions hold gives the answer (its ``proto``,
which may be None for an explicit NULL); if no rule holds, the answer is None, as when a
``case`` returns NULL. Later layers are not consulted once a layer knew the id, as in the
kernel, except after a *soft* layer (``cgroup_common_func_proto``), whose NULL answers let the
caller go on with its own ``switch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntFlag
from types import MappingProxyType

from bpfvm.isa.helper_ids import HELPER_IDS
from bpfvm.platform.env import Cap, Lockdown, ProgEnv
from bpfvm.platform.helper_protos import PROTO_VARIANTS
from bpfvm.platform.proto import HelperProto


class Need(IntFlag):
    """Conditions a rule needs, besides the attach-type ones."""

    NONE = 0
    CAP_BPF = 1 << 0
    CAP_PERFMON = 1 << 1  # bpf_token_capable(CAP_PERFMON) (perfmon_capable)
    CAP_SYS_ADMIN = 1 << 2
    WRITE_USER_UNLOCKED = 1 << 3  # !security_locked_down(LOCKDOWN_BPF_WRITE_USER)
    READ_KERNEL_UNLOCKED = 1 << 4  # !security_locked_down(LOCKDOWN_BPF_READ_KERNEL)
    KPROBE_OVERRIDE = 1 << 5  # CONFIG_BPF_KPROBE_OVERRIDE
    CGROUP_NET_CLASSID = 1 << 6  # CONFIG_CGROUP_NET_CLASSID
    XFRM = 1 << 7  # CONFIG_XFRM
    SEG6_BPF = 1 << 8  # CONFIG_IPV6_SEG6_BPF
    SLEEPABLE = 1 << 9  # prog->sleepable
    NOT_SLEEPABLE = 1 << 10
    TRAMPOLINE = 1 << 11  # bpf_prog_has_trampoline()
    RECUR = 1 << 12  # bpf_prog_check_recur()


@dataclass(frozen=True, slots=True)
class Rule:
    """One possible answer of a ``case``: ``proto`` (None = NULL) when the conditions hold.

    ``attach`` restricts the rule to those expected attach types, ``not_attach`` excludes
    some, ``attach_funcs`` restricts it to those BTF attach targets.
    """

    proto: HelperProto | None
    needs: Need = Need.NONE
    attach: frozenset[int] | None = None
    not_attach: frozenset[int] = frozenset()
    attach_funcs: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Layer:
    """One ``get_func_proto`` switch: ``name`` is the kernel function it mirrors."""

    name: str
    rules: Mapping[int, tuple[Rule, ...]]
    soft: bool = False


def rule(
    symbol: str | None,
    needs: Need = Need.NONE,
    *,
    attach: Iterable[int] | None = None,
    not_attach: Iterable[int] = (),
    attach_funcs: Iterable[str] | None = None,
) -> Rule:
    """A :class:`Rule` for the prototype named ``symbol`` (None for an explicit NULL)."""
    return Rule(
        proto=PROTO_VARIANTS[symbol] if symbol is not None else None,
        needs=needs,
        attach=frozenset(attach) if attach is not None else None,
        not_attach=frozenset(not_attach),
        attach_funcs=frozenset(attach_funcs) if attach_funcs is not None else None,
    )


def layer(name: str, *entries: tuple[str, Rule | tuple[Rule, ...]], soft: bool = False) -> Layer:
    """A layer from ``(helper name without bpf_, rule or rules)`` pairs."""
    table: dict[int, tuple[Rule, ...]] = {}
    for helper, rules in entries:
        func_id = HELPER_IDS[f"bpf_{helper}"]
        if func_id in table:
            raise ValueError(f"helper {helper} twice in one layer")
        table[func_id] = rules if isinstance(rules, tuple) else (rules,)
    return Layer(name, MappingProxyType(table), soft)


def simple(*pairs: tuple[str, str], needs: Need = Need.NONE) -> tuple[tuple[str, Rule], ...]:
    """``(helper, symbol)`` pairs as unconditional (or uniformly gated) layer entries."""
    return tuple((helper, rule(symbol, needs)) for helper, symbol in pairs)


def same(*helpers: str, needs: Need = Need.NONE) -> tuple[tuple[str, Rule], ...]:
    """Entries whose prototype is the canonical ``bpf_<helper>_proto``."""
    return tuple((h, rule(f"bpf_{h}_proto", needs)) for h in helpers)


def _caps_hold(needs: Need, caps: Cap) -> bool:
    # bpf_token_capable(cap): CAP_SYS_ADMIN implies the others.
    def has(cap: Cap) -> bool:
        return bool(caps & cap) or bool(caps & Cap.SYS_ADMIN)

    if Need.CAP_BPF in needs and not has(Cap.BPF):
        return False
    if Need.CAP_PERFMON in needs and not has(Cap.PERFMON):
        return False
    return not (Need.CAP_SYS_ADMIN in needs and not caps & Cap.SYS_ADMIN)


def _config_holds(needs: Need, env: ProgEnv) -> bool:
    cfg = env.config
    checks = (
        (Need.WRITE_USER_UNLOCKED, cfg.lockdown < Lockdown.INTEGRITY),
        (Need.READ_KERNEL_UNLOCKED, cfg.lockdown < Lockdown.CONFIDENTIALITY),
        (Need.KPROBE_OVERRIDE, cfg.kprobe_override),
        (Need.CGROUP_NET_CLASSID, cfg.cgroup_net_classid),
        (Need.XFRM, cfg.xfrm),
        (Need.SEG6_BPF, cfg.ipv6_seg6_bpf),
        (Need.SLEEPABLE, env.sleepable),
        (Need.NOT_SLEEPABLE, not env.sleepable),
    )
    return all(ok for flag, ok in checks if flag in needs)


def holds(r: Rule, env: ProgEnv, attach_type: int, prog_facts: Need) -> bool:
    """Whether rule ``r`` applies. ``prog_facts`` holds TRAMPOLINE/RECUR when true."""
    if not _caps_hold(r.needs, env.caps) or not _config_holds(r.needs, env):
        return False
    for fact in (Need.TRAMPOLINE, Need.RECUR):
        if fact in r.needs and fact not in prog_facts:
            return False
    if r.attach is not None and attach_type not in r.attach:
        return False
    if attach_type in r.not_attach:
        return False
    return r.attach_funcs is None or env.attach_func in r.attach_funcs


def resolve(
    chain: tuple[Layer, ...], func_id: int, env: ProgEnv, attach_type: int, prog_facts: Need
) -> HelperProto | None:
    """Walk ``chain`` as the kernel walks its ``get_func_proto`` switches."""
    for lay in chain:
        rules = lay.rules.get(func_id)
        if rules is None:
            continue
        for r in rules:
            if holds(r, env, attach_type, prog_facts):
                if r.proto is None and lay.soft:
                    break
                return r.proto
        else:
            if not lay.soft:
                return None
    return None
