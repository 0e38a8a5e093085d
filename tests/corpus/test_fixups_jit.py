"""Every example case, fixed up for the JIT and run on it, gives the kernel's pinned results.

``FixedObject(engine="jit")``: the JIT engine's fixups (ending with ``jit_subprogs``), not
linked (map references stay map indexes), runtime context structures, on
:class:`~bpfvm.vm.jit.engine.JitEngine`. The facts come from the same sources as the
interpreter's differential test (``test_fixups_differential.py``): the verifier's (what
``bpfvm run`` uses), hand-built ones (ctx conversion, inlined array lookups), an
unprivileged loader's (Spectre masks on tail calls and lookups) and none.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bpfvm.cli.main import main
from bpfvm.elf.loader import load_object
from bpfvm.hooks.fixed import FixedObject
from bpfvm.hooks.test_run import LoadedObject
from bpfvm.vm.jit.engine import JitEngine
from tests.corpus.example_cases import EXAMPLES, PINNED_NCPUS, load_cases, run_loaded
from tests.corpus.test_fixups_differential import SOURCES, AuxSource, VerifierUnusable

CASES = load_cases()
JIT_SOURCES = ["verifier", "hand", "unprivileged", "standalone"]


def run_fixed_jit_case(case: dict[str, Any], aux: AuxSource) -> dict[str, Any]:
    path = EXAMPLES / case["object"]
    obj = load_object(path.read_bytes(), str(path))
    loaded = FixedObject(obj, ncpus=PINNED_NCPUS, aux=aux, engine="jit")
    assert isinstance(loaded.vm, JitEngine)
    return run_loaded(loaded, case)


@pytest.mark.parametrize("source", JIT_SOURCES)
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fixed_up_example_on_the_jit_matches_the_kernel(case: dict[str, Any], source: str) -> None:
    try:
        got = run_fixed_jit_case(case, SOURCES[source])
    except VerifierUnusable as exc:
        pytest.skip(f"verifier: {exc}")
    assert got == case["expect"], case["description"]


def test_the_jit_runs_what_the_fixups_emitted() -> None:
    """The hand facts put the internal forms in front of the JIT: tail calls, inlined array
    lookups over the map handle, converted ctx accesses, call-table helper calls."""
    from tests.unit.fixups.facts import hand_facts

    seen = {"tail_call": 0, "inline_lookup": 0, "ctx": 0, "table_call": 0}
    for path in sorted((EXAMPLES / "c").glob("*.bpf.o")):
        loaded = FixedObject(
            load_object(path.read_bytes(), str(path)), aux=hand_facts, engine="jit"
        )
        for x in loaded.xlated.values():
            assert not x.linked and "jit_subprogs" in x.passes
            seen["tail_call"] += sum(1 for i in x.insns if i.code == 0xF5)
            seen["inline_lookup"] += sum(
                1 for i in x.insns if i.code == 0x79 and i.off == 32 and i.dst == 1
            )
            seen["ctx"] += sum(1 for i in x.insns if i.code == 0x79 and i.off in (192, 200))
            seen["table_call"] += sum(1 for i in x.insns if i.code == 0x85 and i.src == 0)
    assert all(seen.values()), seen


@pytest.mark.parametrize(
    ("flags", "kind", "engine"),
    [
        (["--engine", "jit"], FixedObject, "jit"),
        (["--engine", "interp"], FixedObject, "interp"),
        (["--engine", "jit", "--no-verify"], LoadedObject, "jit"),
    ],
)
def test_bpfvm_run_uses_the_fixed_path_unless_no_verify(
    flags: list[str],
    kind: type[LoadedObject],
    engine: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``bpfvm run``: verified then fixed up on both engines; ``--no-verify`` runs as loaded."""
    made: list[LoadedObject] = []
    real_test_run = LoadedObject.test_run

    def spy(self: LoadedObject, *args: Any, **kwargs: Any) -> Any:
        made.append(self)
        return real_test_run(self, *args, **kwargs)

    monkeypatch.setattr(LoadedObject, "test_run", spy)
    case = next(c for c in CASES if c["name"] == "tail_call_tcp")
    data = "@" + str(EXAMPLES / case["data"])
    args = ["run", str(EXAMPLES / case["object"]), "--prog", case["program"], "--json"]
    assert main([*args, "--data", data, "--map-dump", "hits", *flags]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["retval"] == case["expect"]["retval"]
    assert out["maps"] == case["expect"]["maps"]
    (loaded,) = made
    assert type(loaded) is kind and loaded.engine == engine
    assert isinstance(loaded.vm, JitEngine) == (engine == "jit")
