"""The packet differential tests of :mod:`tests.kernel.test_packet_vs_kernel`, with bpfvm's
side run by the JIT (whose packet helpers are native, :mod:`bpfvm.vm.jit.lower_packet`)
instead of the interpreter: return value, ``data_out`` and ``ctx_out`` must agree with the
running kernel byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bpfvm.asm import assemble
from bpfvm.isa import encode
from bpfvm.kernel import LoadedProg, prog_load
from bpfvm.vm.jit.engine import JitEngine
from tests.kernel import test_packet_vs_kernel as ref


class JitRunner(ref.Runner):
    """The reference runner with a JIT engine per program."""

    def _get(self, src: str, prog_type: int) -> tuple[LoadedProg, Any]:
        key = (src, prog_type)
        if key not in self.loaded:
            insns = assemble(src)
            prog, result = prog_load(encode(insns), prog_type)
            assert prog is not None, f"kernel rejected:\n{src}\n{result.log[-1500:]}"
            self.loaded[key] = (prog, insns, JitEngine(insns))  # type: ignore[assignment]
        prog, _, vm = self.loaded[key]
        return prog, vm


@pytest.fixture(scope="module")
def run(kernel: None) -> Iterator[JitRunner]:
    runner = JitRunner()
    yield runner
    for prog, _, _ in runner.loaded.values():
        prog.close()


test_xdp_adjust = ref.test_xdp_adjust
test_xdp_meta_write = ref.test_xdp_meta_write
test_xdp_load_store_bytes = ref.test_xdp_load_store_bytes
test_csum_diff = ref.test_csum_diff
test_skb_store_bytes = ref.test_skb_store_bytes
test_skb_load_bytes = ref.test_skb_load_bytes
test_csum_replace = ref.test_csum_replace
test_l4_csum_mangled_zero = ref.test_l4_csum_mangled_zero
test_direct_packet_writes = ref.test_direct_packet_writes
test_xdp_frags_grow_and_shrink = ref.test_xdp_frags_grow_and_shrink
