"""The audit of SPEC.md section 7's 104 verifier messages (``tests/verifier/messages/*.json``).

Every message has one record: ``case`` (corpus cases trigger it: the kernel's pinned error line
of at least one contains the message, the others are its accepted boundary cases, and bpfvm
gives the kernel's verdict and line on all), ``api`` (a named unit test covers it,
e.g. a stage or mode the corpus cannot express) or ``not_modelled`` (with the reason: machinery
bpfvm does not have yet). ``docs/verifier_messages.md`` is generated from the same files by
``scripts/gen_message_doc.py``; a test checks it is current.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bpfvm.verifier import verify
from tests.verifier import pinning
from tests.verifier.harness import load_corpus

ROOT = Path(__file__).resolve().parents[2]
MESSAGES_DIR = Path(__file__).with_name("messages")
STATUSES = {"case", "api", "not_modelled"}


def load_messages() -> list[dict[str, Any]]:
    records = [r for p in sorted(MESSAGES_DIR.glob("*.json")) for r in json.loads(p.read_text())]
    return sorted(records, key=lambda r: int(r["n"]))


def message_pattern(text: str) -> re.Pattern[str]:
    """A printf template as a regex: ``%d``/``%s``/... match any text."""
    parts = re.split(r"%[-+ #0-9.]*(?:ll|l|h|z)?[dusxXcp]", text)
    return re.compile(".*".join(re.escape(p) for p in parts))


def _matches(rec: dict[str, Any], line: str) -> bool:
    """The line is the message, in SPEC.md's words or the running kernel's."""
    texts = [rec["message"], rec.get("kernel")]
    return any(t and message_pattern(str(t)).search(line) for t in texts)


@pytest.fixture(scope="module")
def messages() -> list[dict[str, Any]]:
    return load_messages()


def test_every_message_has_one_record(messages: list[dict[str, Any]]) -> None:
    assert [int(r["n"]) for r in messages] == list(range(1, 105))
    for rec in messages:
        assert rec["status"] in STATUSES, rec["n"]
        if rec["status"] == "not_modelled":
            assert rec.get("note"), f"message {rec['n']}: say why it is not modelled"
        else:
            assert rec.get("cases"), f"message {rec['n']}: name the cases or tests"


def test_cases_trigger_their_message_on_the_kernel_and_on_bpfvm(
    messages: list[dict[str, Any]],
) -> None:
    pins = pinning.read_pins(pinning.CASES_FILE)["cases"]
    wanted = {c for rec in messages if rec["status"] == "case" for c in rec["cases"]}
    assert wanted <= set(pins), sorted(wanted - set(pins))
    items = {i.key: i for i in load_corpus("cases", only=sorted(wanted))}
    bad = []
    for name in sorted(wanted):
        kernel_error = pins[name]["error"] or ""
        ours = verify(items[name].kernel_program()).error or ""
        if ours != kernel_error:
            bad.append(f"{name}: bpfvm said {ours!r}, the kernel {kernel_error!r}")
    for rec in messages:
        if rec["status"] == "case" and not any(
            _matches(rec, pins[c]["error"] or "") for c in rec["cases"]
        ):
            bad.append(f"message {rec['n']}: none of its cases gives it on the kernel")
    assert not bad, "\n".join(bad)


def test_api_records_name_existing_tests(messages: list[dict[str, Any]]) -> None:
    for rec in messages:
        if rec["status"] != "api":
            continue
        for node in rec["cases"]:
            path, _, func = str(node).partition("::")
            source = (ROOT / path).read_text()
            assert f"def {func.split('[')[0]}(" in source, f"message {rec['n']}: {node} missing"


def test_doc_is_current(messages: list[dict[str, Any]]) -> None:
    from scripts.gen_message_doc import render

    doc = ROOT / "docs" / "verifier_messages.md"
    assert doc.read_text() == render(messages), "run scripts/gen_message_doc.py"
