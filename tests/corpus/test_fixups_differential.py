"""Every example gives the same results before and after the fixup stage, on the interpreter.

The pinned kernel results (``examples/cases.json``) are the reference: the programs as loaded
(``LoadedObject``, UAPI contexts) already match them (``test_examples.py``); here the same cases
run as fixed-up programs (``FixedObject``: xlated, linked, runtime context structures) with
the facts from three sources: none (stand-alone), hand-built (ctx conversion and map facts,
:mod:`tests.unit.fixups.facts`), and an unprivileged loader's (dead-code sanitising, Spectre
masks on tail calls and inlined lookups).

The verifier corpora (``tests/verifier/cases.json``, ``generated.json``): every program the
kernel accepted (and bpfvm's verifier accepts) runs unfixed (``LoadedObject``) and fixed up
with the verifier's facts (``FixedObject``) over the same inputs, with deterministic clocks
and random numbers; return values, output packets and contexts and map contents must be
equal. Programs that cannot run meaningfully here are counted and listed with the reason
(``pytest -s`` prints the report).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bpfvm.asm.ubpf import assemble_ubpf
from bpfvm.cli.test_run import dump_map
from bpfvm.conformance import parse_data_file
from bpfvm.elf.loader import BpfObject, load_object
from bpfvm.errors import BpfvmError
from bpfvm.fixups import FixupAux, FixupError, FixupOptions, aux_from_verifier, fixup
from bpfvm.fixups.analysis import subprog_starts
from bpfvm.hooks.context import PACKET_PROG_TYPES, TestRunError
from bpfvm.hooks.fixed import FixedObject
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.program.model import Program
from bpfvm.program.uapi import ProgType
from bpfvm.runtime.helpers import HelperCall, HelperRegistry, default_registry
from bpfvm.runtime.memory import Region
from bpfvm.verifier import verify
from bpfvm.vm.interp import InterpOptions, Interpreter
from tests.conftest import SHARED
from tests.corpus.example_cases import EXAMPLES, PINNED_NCPUS, load_cases, run_loaded
from tests.unit.fixups.facts import hand_facts
from tests.verifier.harness import CorpusItem, load_corpus

CASES = load_cases()
AuxSource = Callable[[Program], FixupAux | None] | None


def run_fixed_case(case: dict[str, Any], aux: AuxSource) -> dict[str, Any]:
    path = EXAMPLES / case["object"]
    obj = load_object(path.read_bytes(), str(path))
    loaded = FixedObject(obj, ncpus=PINNED_NCPUS, aux=aux)
    return run_loaded(loaded, case)


class VerifierUnusable(Exception):
    pass


def verifier_facts(prog: Program, privileged: bool = True) -> FixupAux:
    """The real verifier's facts (the lead wires these in; skipped while it cannot check)."""
    try:
        from bpfvm.verifier import verify  # type: ignore[attr-defined]
    except ImportError as exc:
        raise VerifierUnusable(str(exc)) from None
    try:
        result = verify(prog)
    except NotImplementedError as exc:
        raise VerifierUnusable(str(exc)) from None
    if not result.accepted:
        raise VerifierUnusable(f"rejected: {result.error}")
    nslots = sum(i.width for i in prog.insns)
    return aux_from_verifier(result, prog.func_starts, nslots, privileged)


SOURCES: dict[str, AuxSource] = {
    "standalone": None,
    "hand": hand_facts,
    "unprivileged": lambda p: hand_facts(p, privileged=False),
    "verifier": verifier_facts,
    "verifier_unprivileged": lambda p: verifier_facts(p, privileged=False),
}


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fixed_up_example_matches_the_kernel(case: dict[str, Any], source: str) -> None:
    try:
        got = run_fixed_case(case, SOURCES[source])
    except VerifierUnusable as exc:
        pytest.skip(f"verifier: {exc}")
    assert got == case["expect"], case["description"]


def test_hand_facts_convert_ctx_accesses_in_the_corpus() -> None:
    """The hand-built facts really exercise the ctx conversion and the inlined lookups."""
    converted = inlined = 0
    for path in sorted((EXAMPLES / "c").glob("*.bpf.o")):
        loaded = FixedObject(load_object(path.read_bytes(), str(path)), aux=hand_facts)
        for x in loaded.xlated.values():
            converted += sum(1 for i in x.insns if i.code == 0x79 and i.off in (24, 32, 192, 200))
            inlined += sum(1 for i in x.insns if i.code == 0x79 and i.off == 32 and i.dst == 1)
    assert converted > 10
    assert inlined > 0


DATA_FILES = sorted((SHARED / "conformance" / "tests").glob("*.data"))


@pytest.mark.parametrize("path", DATA_FILES, ids=[p.stem for p in DATA_FILES])
def test_conformance_through_the_fixups(path: Path) -> None:
    """The 313 conformance programs give the same result fixed up (stand-alone facts)."""
    case = parse_data_file(path)
    insns = assemble_ubpf(case.asm, str(path))
    prog = Program(path.stem, tuple(insns), func_starts=subprog_starts(insns))
    try:
        xp = fixup(prog, options=FixupOptions(debug=True))
    except FixupError as exc:  # what the kernel would refuse is not a result
        pytest.skip(str(exc))
    region = Region.from_bytes("mem", case.mem)
    vm = Interpreter(xp.insns, call_table=[f.helper_id for f in xp.call_table])
    assert vm.run((region.addr, len(case.mem)), (region,)).retval == case.result


# --- the verifier corpora: every program the kernel and bpfvm accept, raw and fixed up --------

# Inputs per program type. Packet programs get two packets (a TCP/IPv4 frame and a byte
# pattern) over a zeroed context; the others a zeroed context of their UAPI size.
PKT_TCP = bytes.fromhex(
    "000000000002000000000001080045000028000100004006f97ac0a80001c0a80002"
    "04d20050000000010000000050022000917c0000"
) + bytes(10)
PKT_PATTERN = bytes(range(14, 14 + 100))
ZERO_CTX = {
    ProgType.KPROBE: 168,  # struct pt_regs (x86-64)
    ProgType.PERF_EVENT: 184,  # struct bpf_perf_event_data
    ProgType.TRACEPOINT: 64,
    ProgType.RAW_TRACEPOINT: 96,  # 12 u64 arguments
    ProgType.SYSCALL: 64,
}
RUN_INSNS = 300_000  # per run: the interpreter faults past it


def corpus_inputs(prog: Program) -> list[tuple[bytes, bytes | None]]:
    if prog.prog_type in PACKET_PROG_TYPES:
        return [(PKT_TCP, None), (PKT_PATTERN, None)]
    size = ZERO_CTX.get(prog.prog_type)
    return [(b"", bytes(size) if size is not None else None)]


def deterministic_helpers() -> HelperRegistry:
    """The runtime's helpers with a counting clock: both runs of a program see the same
    times (``bpf_get_prandom_u32`` is made the same by seeding each run's generator)."""
    registry = default_registry()
    now = itertools.count(1_000_000_000, 1000)

    def clock(call: HelperCall, *_: int) -> int:
        return next(now)

    for name in ("bpf_ktime_get_ns", "bpf_ktime_get_boot_ns", "bpf_ktime_get_coarse_ns",
                 "bpf_ktime_get_tai_ns", "bpf_jiffies64"):  # fmt: skip
        registry.register(name, clock)
    return registry


def observe(loaded: LoadedObject, prog: Program) -> list[dict[str, Any]]:
    """What the runs over :func:`corpus_inputs` leave: per run the return value, the output
    packet and context or the errno of a refused run, then every map's contents."""
    loaded.vm.call.rng = random.Random(5)
    out: list[dict[str, Any]] = []
    for data, ctx in corpus_inputs(prog):
        try:
            res = loaded.test_run(prog.name, data, ctx)
        except TestRunError as exc:
            out.append({"errno": exc.errno})
            continue
        out.append({"retval": res.retval, "data_out": res.data_out.hex(),
                    "ctx_out": res.ctx_out.hex(), "trace": list(res.trace)})  # fmt: skip
    out.append({m.spec.name: dump_map(m) for m in loaded.map_list})
    return out


@dataclass
class Outcome:
    key: str
    status: str  # "equal", "different", "not run"
    reason: str = ""
    category: str = ""  # why it did not run
    rewritten: bool = False  # the fixups changed the instructions
    inlined_loops: int = 0  # bpf_loop calls the verifier let optimize_bpf_loop inline
    fastcall_calls: int = 0  # calls whose spills/fills remove_fastcall_spills_fills removed


def run_corpus_item(item: CorpusItem) -> Outcome:
    """One kernel-accepted corpus program: as loaded (``LoadedObject``, UAPI contexts) and
    fixed up with the verifier's facts (``FixedObject``), over the same inputs."""
    prog = item.kernel_program()
    result = verify(prog)
    if not result.accepted:
        return Outcome(item.key, "not run", str(result.error), "bpfvm rejects it")
    nslots = sum(i.width for i in prog.insns)
    facts = aux_from_verifier(result, prog.func_starts, nslots)
    obj = BpfObject(item.key, (prog,), prog.maps, prog.license, prog.kern_version, prog.btf)
    options = InterpOptions(max_insns=RUN_INSNS)
    kind = prog.prog_type.name.lower()
    try:
        raw = observe(LoadedObject(obj, helpers=deterministic_helpers(), options=options), prog)
        again = observe(LoadedObject(obj, helpers=deterministic_helpers(), options=options), prog)
    except (BpfvmError, NotImplementedError) as exc:
        return Outcome(item.key, "not run", f"{type(exc).__name__}: {exc}", _cannot_run(exc, kind))
    if again != raw:  # e.g. a pointer stored in a map or returned: the address changes
        why = "two unfixed runs differ"
        return Outcome(item.key, "not run", why, "results depend on memory addresses")
    try:
        fixed_obj = FixedObject(obj, helpers=deterministic_helpers(), options=options,
                                aux=lambda _p: facts)  # fmt: skip
        fixed = observe(fixed_obj, prog)
    except (BpfvmError, NotImplementedError) as exc:
        return Outcome(item.key, "different", f"fixed up: {type(exc).__name__}: {exc}")
    x = fixed_obj.xlated[prog.name]
    done = Outcome(
        item.key,
        "equal" if fixed == raw else "different",
        "" if fixed == raw else f"raw {raw} | fixed {fixed}",
        rewritten=tuple(x.insns) != tuple(prog.insns),
        inlined_loops=sum(1 for a in facts.insns if a.loop_inline and a.loop_inline.fit_for_inline),
        fastcall_calls=sum(1 for a in facts.insns if a.fastcall_spills),
    )
    return done


def _cannot_run(exc: Exception, kind: str) -> str:
    text = str(exc)
    if "instruction limit" in text:
        return f"runs past {RUN_INSNS} instructions (may_goto counts 8M iterations)"
    if "not implemented by this runtime" in text:
        return "calls a helper bpfvm's runtime lacks"
    if (
        kind not in {t.name.lower() for t in PACKET_PROG_TYPES}
        and ProgType[kind.upper()] not in ZERO_CTX
    ):
        return f"no test-run context for {kind} programs (the kernel has none either)"
    return f"faults on the interpreter ({kind})"


def corpus_report(name: str, outcomes: list[Outcome]) -> str:
    ran = [o for o in outcomes if o.status != "not run"]
    equal = [o for o in ran if o.status == "equal"]
    lines = [
        f"{name}: {len(outcomes)} kernel-accepted programs, {len(ran)} ran, {len(equal)} equal "
        f"before and after fixups ({sum(o.rewritten for o in ran)} rewritten by them; "
        f"{sum(o.inlined_loops for o in ran)} bpf_loop calls inlined, "
        f"{sum(o.fastcall_calls for o in ran)} fastcall spill/fill sets removed)"
    ]
    not_run = Counter(o.category for o in outcomes if o.status == "not run")
    for category, n in not_run.most_common():
        lines.append(f"  not run ({n}): {category}")
        for o in outcomes:
            if o.status == "not run" and o.category == category:
                lines.append(f"    {o.key}: {o.reason}")
    for o in ran:
        if o.status == "different":
            lines.append(f"  DIFFERENT {o.key}: {o.reason[:2000]}")
    return "\n".join(lines)


def _accepted(name: str) -> list[CorpusItem]:
    return [i for i in load_corpus(name) if i.kernel.get("status") == "accepted"]


@pytest.mark.parametrize("corpus", ["cases", "generated"])
def test_verifier_corpus_runs_the_same_after_fixups(corpus: str) -> None:
    """Every program of the corpus the kernel accepted: the same return values, output
    packets and contexts and map contents, unfixed and fixed up with the verifier's facts.
    Those that cannot run here are listed with the reason (``-s`` prints the report)."""
    outcomes = [run_corpus_item(item) for item in _accepted(corpus)]
    report = corpus_report(corpus, outcomes)
    print(report)
    assert not [o for o in outcomes if o.status == "different"], report
    ran = sum(1 for o in outcomes if o.status == "equal")
    assert ran >= len(outcomes) * 3 // 4, report  # most of each corpus really runs
