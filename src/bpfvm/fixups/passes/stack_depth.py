"""``check_max_stack_depth`` (verifier.c), which runs between the first fixup passes.

From the main program and from every async or exception callback (each a root of its own
stack), walk the static call graph (``call pc+imm``, and ``ld_imm64`` of a synchronous
callback, which runs on top of the current frame). Along every chain:

* each frame counts ``round_up_stack_depth``: a multiple of 16 for the JIT, the interpreter's
  32-byte bucket of ``max(depth, 1)`` otherwise;
* the sum must stay <= 512 (``combined stack size of %d calls is %d. Too large``);
* at most 8 frames (``the call stack of %d frames is too deep !``);
* a subprogram that tail-calls may not sit on more than 256 bytes of frames
  (``tail_calls are not allowed when call stack of previous frames is %d bytes. Too large``).

Recursion cannot reach here (the verifier's CFG check refuses it); a cycle is reported as too
deep. Nothing is rewritten.
"""

from __future__ import annotations

from bpfvm.fixups.analysis import FUNC_TAIL_CALL, to_slots
from bpfvm.fixups.errors import E2BIG, EACCES, FixupError
from bpfvm.fixups.manager import PassContext
from bpfvm.fixups.passes.common import is_helper_call, is_pseudo_call, is_pseudo_func
from bpfvm.fixups.program import MAX_BPF_STACK, MAX_CALL_FRAMES, XlatedProgram, round_up_stack_depth

TAIL_CALL_STACK_LIMIT = 256


class CheckMaxStackDepth:
    name = "check_max_stack_depth"

    def run(self, prog: XlatedProgram, ctx: PassContext) -> XlatedProgram:
        slots = to_slots(prog.insns)
        subprogs = prog.subprogs
        starts = {sp.start: k for k, sp in enumerate(subprogs)}
        ends = [*(sp.start for sp in subprogs[1:]), len(slots)]
        calls: list[list[int]] = []
        tail = []
        for k, sp in enumerate(subprogs):
            out = []
            has_tail = False
            for i in range(sp.start, ends[k]):
                insn = slots[i]
                if insn is None:
                    continue
                has_tail |= is_helper_call(insn, FUNC_TAIL_CALL)
                if is_pseudo_call(insn) or is_pseudo_func(insn):
                    callee = starts.get(i + 1 + insn.imm)
                    if callee is not None and not (
                        is_pseudo_func(insn) and subprogs[callee].is_async_cb
                    ):
                        out.append(callee)
            calls.append(out)
            tail.append(has_tail)
        jit = ctx.options.jit
        roots = [0] + [k for k, sp in enumerate(subprogs) if sp.is_async_cb or sp.is_exception_cb]
        for root in dict.fromkeys(roots):
            self._walk(
                root, calls, tail, [round_up_stack_depth(s.stack_depth, jit) for s in subprogs]
            )
        return prog

    def _walk(self, root: int, calls: list[list[int]], tail: list[bool], depths: list[int]) -> None:
        # Explicit DFS over (subprog, next callee index) frames, as the kernel walks.
        stack: list[tuple[int, int]] = [(root, 0)]
        total = depths[root]
        self._check_total(1, total)
        while stack:
            k, j = stack.pop()
            if j >= len(calls[k]):
                total -= depths[k]
                continue
            stack.append((k, j + 1))
            callee = calls[k][j]
            frames = len(stack) + 1
            if frames > MAX_CALL_FRAMES:
                raise FixupError(f"the call stack of {frames - 1} frames is too deep !", E2BIG)
            if tail[callee] and total >= TAIL_CALL_STACK_LIMIT:
                raise FixupError(
                    "tail_calls are not allowed when call stack of previous frames is "
                    f"{total} bytes. Too large",
                    EACCES,
                )
            total += depths[callee]
            self._check_total(frames, total)
            stack.append((callee, 0))

    @staticmethod
    def _check_total(frames: int, total: int) -> None:
        if total > MAX_BPF_STACK:
            raise FixupError(f"combined stack size of {frames} calls is {total}. Too large")
