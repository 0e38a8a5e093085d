"""The lowering as readable IR (no LLVM binding needed) and its stack analysis."""

from __future__ import annotations

import ast
from pathlib import Path

from bpfvm.asm import assemble
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit.cfg import Layout, analyse_function
from bpfvm.vm.jit.lower import lower_programs

JIT_DIR = Path(__file__).resolve().parents[3] / "src" / "bpfvm" / "vm" / "jit"
ARRAY = L.MapDesc(L.MK_ARRAY, 4, 8)
INLINE = frozenset({1, 2, 3, 5, 181})


def ir_of(text: str, maps: tuple[L.MapDesc, ...] = (), checked: bool = True) -> str:
    options = L.JitOptions(checked=checked)
    return str(lower_programs([assemble(text)], ["p"], maps, INLINE, options).module)


def body(ir: str, name: str) -> str:
    """The text of function ``name`` in a module's IR."""
    start = ir.index(f'@"{name}"(')
    return ir[start : ir.index("\n}", start)]


def escapes(text: str, maps: tuple[L.MapDesc, ...] = ()) -> bool:
    layout = Layout([assemble(text)])
    return analyse_function(layout, 0, maps, INLINE).escapes


def test_only_the_engine_binds_llvm() -> None:
    users = set()
    for module in JIT_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n.startswith("llvmlite.binding") for n in names):
                users.add(module.name)
    assert users == {"engine.py"}


def test_module_shape() -> None:
    text = ir_of("r0 = 1\ncall f\nexit\nf: r0 = 2\nexit")
    for name in ("bpf_p_0", "bpf_p_0__sub_3", "bpf_p_0__run", "bpf_p_0__repeat",
                 "bpf_p_0__batch", "bpf_check", "bpf_fault"):  # fmt: skip
        assert f'@"{name}"(' in text
    assert "noalias" in text


def test_division_guards_are_in_the_lowering() -> None:
    text = ir_of("r0 /= r1\nr0 s%= r1\nw0 <<= w1\nexit")
    assert "udiv i64" in text and "srem i64" in text
    assert "select" in text  # x / 0 = 0, x % 0 = x, x % -1 = 0
    assert "and i32" in text  # the shift amount masked to 31


def test_static_stack_accesses_are_unchecked_and_keep_the_frame_private() -> None:
    prog = """
        *(u64 *)(r10 - 8) = 1
        r2 = r10
        r2 += -16
        *(u32 *)(r2 + 4) = 2
        r0 = *(u64 *)(r10 - 8)
        exit"""
    assert not escapes(prog)
    main = body(ir_of(prog), "bpf_p_0")
    assert "bpf_check" not in main and "ptrtoint" not in main


def test_the_frame_escapes_when_its_address_leaves() -> None:
    assert escapes("r1 = r10\nr1 += -8\ncall 6\nexit")  # a pointer passed to a helper
    assert escapes("r1 = r10\n*(u64 *)(r10 - 8) = r1\nexit")  # a pointer stored
    assert escapes("r1 = r10\nr1 += -600\nr0 = *(u8 *)(r1 + 0)\nexit")  # out of the frame
    assert escapes("if r0 > 1 goto a\nr2 = r10\ngoto b\na: r2 = r10\nr2 += -8\nb: r0 = r2\nexit")
    # an inlined array lookup with its key on the stack keeps the frame private
    lookup = "*(u32 *)(r10 - 4) = 0\nld_pseudo r1, 1, 0\nr2 = r10\nr2 += -4\ncall 1\nexit"
    assert not escapes(lookup, (ARRAY,))


def test_unchecked_mode_has_no_checks() -> None:
    checked = ir_of("r0 = *(u64 *)(r1 + 0)\nexit")
    unchecked = ir_of("r0 = *(u64 *)(r1 + 0)\nexit", checked=False)
    assert "bpf_check" in body(checked, "bpf_p_0")
    assert "bpf_check" not in body(unchecked, "bpf_p_0")


def test_inline_array_helpers_and_atomics() -> None:
    text = ir_of(
        "*(u32 *)(r10 - 4) = 0\nld_pseudo r1, 1, 0\nr2 = r10\nr2 += -4\ncall 1\n"
        "r1 = 1\nlock *(u64 *)(r0 + 0) += r1\nr0 = 0\nexit",
        (ARRAY,),
    )
    main = body(text, "bpf_p_0")
    assert "helper_cb" not in main and "atomicrmw add" in main
