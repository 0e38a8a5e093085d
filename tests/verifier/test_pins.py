"""The pinned kernel verdicts of the verifier corpora: consistent, complete, and still true.

The consistency tests need no kernel. ``test_*_repin_sample`` load a sample of each corpus into
the running kernel again (root only, skipped elsewhere) and expect the pinned records.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from bpfvm.kernel.loader import error_line
from tests.verifier import pinning
from tests.verifier.cases import CASES_DIR, load_cases
from tests.verifier.generate import COUNT, generate, seeds
from tests.verifier.harness import compare, load_corpus
from tests.verifier.objects import EXAMPLES, iter_objects

STATUSES = {"accepted", "rejected", "unavailable"}
SLOW = 50_000  # processed_insns above which a case is too slow to re-pin in the test suite


@pytest.fixture(scope="module")
def case_pins() -> dict[str, Any]:
    return pinning.read_pins(pinning.CASES_FILE)["cases"]


@pytest.fixture(scope="module")
def generated_pins() -> dict[str, Any]:
    return pinning.read_pins(pinning.GENERATED_FILE)["results"]


@pytest.fixture(scope="module")
def object_pins() -> dict[str, Any]:
    return pinning.read_pins(pinning.VERDICTS_FILE)


def _check_record(key: str, rec: dict[str, Any]) -> None:
    assert rec["status"] in STATUSES, key
    assert rec["prog_type"] != "unspec", key
    if rec["status"] == "accepted":
        assert rec["error"] is None and rec["errno"] == 0 and rec["processed_insns"] > 0, key
    elif rec["status"] == "rejected":
        assert rec["error"] and rec["errno"] > 0, key
    else:
        assert rec["unavailable"] and rec["error"] is None, key


def test_every_case_is_pinned(case_pins: dict[str, Any]) -> None:
    files = {p.stem for p in CASES_DIR.glob("*.s")}
    assert files == set(case_pins), "re-pin: scripts/pin_verifier.py --corpus cases"
    assert len(files) >= 150


def test_case_records(case_pins: dict[str, Any]) -> None:
    for case in load_cases():
        rec = case_pins[case.name]
        _check_record(case.name, rec)
        assert rec["status"] != "unavailable", case.name
        assert rec["prog_type"] == case.program.prog_type.name.lower(), case.name
        assert rec["insn_count"] == sum(i.width for i in case.program.insns), case.name
        assert rec["level2_same"], f"{case.name}: log level 2 changed the verdict"
        assert rec["log"], case.name
        if case.intent:
            assert (case.intent == "accept") == (rec["status"] == "accepted"), case.name


def test_case_error_lines_agree_across_log_levels(case_pins: dict[str, Any]) -> None:
    """The error line of the level-2 log is the level-1 error line: the definition holds."""
    for name, rec in case_pins.items():
        if rec["status"] == "rejected":
            assert error_line(rec["log"]) == rec["error"], name


def test_cases_cover_both_verdicts_and_the_1m_limit(case_pins: dict[str, Any]) -> None:
    statuses = [r["status"] for r in case_pins.values()]
    assert statuses.count("accepted") >= 50 and statuses.count("rejected") >= 50
    big = [r for r in case_pins.values() if r["processed_insns"] > 1_000_000]
    assert any(r["error"].startswith("BPF program is too large") for r in big)


def test_generated_pins_match_the_generator(generated_pins: dict[str, Any]) -> None:
    assert [int(s) for s in generated_pins] == list(seeds()) and len(generated_pins) == COUNT
    for seed in seeds():
        rec, g = generated_pins[str(seed)], generate(seed)
        assert rec["digest"] == g.digest, f"seed {seed}: the generator changed; re-pin"
        assert rec["insn_count"] == sum(i.width for i in g.program.insns)
        _check_record(str(seed), rec)
    accepted = sum(r["status"] == "accepted" for r in generated_pins.values())
    assert 0.2 * COUNT < accepted < 0.8 * COUNT


def test_generator_is_deterministic() -> None:
    assert generate(7).text == generate(7).text
    assert generate(7).text != generate(8).text


def test_object_records(object_pins: dict[str, Any]) -> None:
    programs = object_pins["programs"]
    for key, rec in programs.items():
        _check_record(key, rec)
    examples = [k for k in programs if k.startswith("examples/")]
    assert len({k.split(":")[0] for k in examples}) == len(list(EXAMPLES.glob("*.bpf.o")))
    assert all(programs[k]["status"] == "accepted" for k in examples)
    assert all(isinstance(v, str) and v for v in object_pins["broken"].values())
    assert object_pins["log_level"] == 1


def test_harness_on_the_pins_themselves() -> None:
    corpus = load_corpus("cases")
    by_id = {id(item.program): item.kernel for item in corpus}

    def oracle(program: Any) -> Any:
        rec = by_id[id(program)]
        return SimpleNamespace(accepted=rec["status"] == "accepted", error=rec["error"],
                               processed_insns=rec["processed_insns"])  # fmt: skip

    report = compare(oracle, corpus, "cases")
    assert report.verdict_agreement == report.error_agreement == 100.0
    assert report.processed_agreement == 100.0 and not report.false_accepts

    def accept_all(program: Any) -> Any:
        return SimpleNamespace(accepted=True, error=None, processed_insns=0)

    report = compare(accept_all, corpus, "cases")
    rejected = sum(item.kernel["status"] == "rejected" for item in corpus)
    assert len(report.false_accepts) == rejected and not report.false_rejects
    assert "FALSE ACCEPTS" in report.format()

    def crash(program: Any) -> Any:
        raise RuntimeError("boom")

    report = compare(crash, corpus[:3], "cases")
    assert len(report.crashes) == 3 and report.verdict_equal == 0


def test_corpus_items_give_func_info() -> None:
    items = {i.key: i for i in load_corpus("cases", only=["global_func_int_arg_ok", "alu_neg_ok"])}
    assert [f[2] for f in items["global_func_int_arg_ok"].func_info() or []] == [
        "global",
        "global",
    ]
    assert items["alu_neg_ok"].func_info() is None
    (obj,) = load_corpus("objects", only=["examples/bpf2bpf_calls.bpf.o:xdp_flow_hash"])
    linkages = [f[2] for f in obj.func_info() or []]
    assert linkages[0] == "global" and "static" in linkages and linkages.count("global") >= 2


# --- against the running kernel ------------------------------------------------------------


def _same(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return pinning.diff_records(old, new)


def test_cases_repin_sample(kernel: None, case_pins: dict[str, Any]) -> None:
    cases = [c for c in load_cases() if case_pins[c.name]["processed_insns"] <= SLOW]
    sample = cases[::5]
    diffs = {c.name: d for c in sample if (d := _same(case_pins[c.name], pinning.pin_case(c)))}
    assert not diffs, json.dumps(diffs, indent=1)


def test_case_logs_repin_sample(kernel: None, case_pins: dict[str, Any]) -> None:
    """Level-2 logs are reproducible once normalised (map ids, kernel addresses)."""
    names = ["map_lookup_null_checked_ok", "bounds_mask_ok", "call_basic_ok", "lock_pair_ok"]
    for case in load_cases():
        if case.name in names:
            assert pinning.pin_case(case)["log"] == case_pins[case.name]["log"], case.name
            assert not re.search(r"0xffff[89a-e][0-9a-f]{11}\b", case_pins[case.name]["log"])


def test_generated_repin_sample(kernel: None, generated_pins: dict[str, Any]) -> None:
    diffs = {}
    for seed in list(seeds())[::10]:
        if d := _same(generated_pins[str(seed)], pinning.pin_generated_seed(seed)):
            diffs[seed] = d
    assert not diffs, json.dumps(diffs, indent=1)


def test_objects_repin_sample(kernel: None, object_pins: dict[str, Any]) -> None:
    from bpfvm.kernel.loader import load_program

    def wanted(prefix: str) -> bool:
        return prefix.startswith(("examples/", "build/", "cilium-examples/"))

    diffs = {}
    for entry in iter_objects(only=wanted):
        rec = pinning.record(load_program(entry.program, extras=entry.extras),
                             entry.program.prog_type)  # fmt: skip
        if d := _same(object_pins["programs"][entry.key], rec):
            diffs[entry.key] = d
    assert not diffs, json.dumps(diffs, indent=1)
