"""Differential test: generated programs on bpfvm's interpreter and on the running kernel.

Hypothesis builds straight-line programs with forward branches over ALU32/ALU64 (every op,
K and X forms, signed division, movsx, byte swaps, negation), conditional jumps (JMP and
JMP32), stack stores/loads (plain and sign-extending) and stack atomics. Every register is
initialised first and immediates avoid what the verifier refuses (constant division by
zero, out-of-range constant shifts), so the kernel accepts them all. The kernel runs them
through BPF_PROG_TEST_RUN as socket filters; its retval is 32 bits wide, so each program is
run twice, returning the low and the high half of the folded result.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfvm.asm import assemble
from bpfvm.isa import encode, ld_imm64
from bpfvm.isa.insn import Insn
from bpfvm.kernel import ProgType, prog_load, prog_test_run
from bpfvm.runtime.memory import Region
from bpfvm.vm.interp import Interpreter, run_program

REGS = range(10)
ALU_OPS = ["+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "s/=", "s%="]
SHIFTS = {"<<=", ">>=", "s>>="}
JMP_OPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]
imm32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 2**31 - 1]))
u64 = st.integers(0, 2**64 - 1)


@st.composite
def alu(draw: st.DrawFn) -> str:
    wide = draw(st.booleans())
    p = "r" if wide else "w"
    dst, src = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
    kind = draw(st.sampled_from(["op", "op", "op", "mov", "movsx", "neg", "swap"]))
    if kind == "mov":
        return f"{p}{dst} = {p}{src}" if draw(st.booleans()) else f"{p}{dst} = {draw(imm32)}"
    if kind == "movsx":
        bits = draw(st.sampled_from([8, 16, 32] if wide else [8, 16]))
        return f"{p}{dst} = (s{bits}){p}{src}"
    if kind == "neg":
        return f"{p}{dst} = -{p}{dst}"
    if kind == "swap":
        name = draw(st.sampled_from(["le", "be", "bswap"]))
        return f"r{dst} = {name}{draw(st.sampled_from([16, 32, 64]))} r{dst}"
    op = draw(st.sampled_from(ALU_OPS))
    if draw(st.booleans()):
        return f"{p}{dst} {op} {p}{src}"
    if op in SHIFTS:
        k = draw(st.integers(0, 63 if wide else 31))
    elif op in ("/=", "%=", "s/=", "s%="):
        k = draw(imm32.filter(lambda v: v != 0))
    else:
        k = draw(imm32)
    return f"{p}{dst} {op} {k}"


@st.composite
def memory(draw: st.DrawFn) -> list[str]:
    slot = -8 * draw(st.integers(1, 8))
    src, dst = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
    size = draw(st.sampled_from(["u8", "u16", "u32", "u64"]))
    store = f"*({size} *)(r10 {slot}) = r{src}"
    kind = draw(st.sampled_from(["load", "loadsx", "atomic"]))
    if kind == "load":
        return [store, f"r{dst} = *({size} *)(r10 {slot})"]
    if kind == "loadsx" and size != "u64":
        return [store, f"r{dst} = *(s{size[1:]} *)(r10 {slot})"]
    wide = draw(st.booleans())
    p, bits = ("r", 64) if wide else ("w", 32)
    op = draw(st.sampled_from(["add", "or", "and", "xor"]))
    return [
        f"*(u64 *)(r10 {slot}) = r{src}",
        f"{p}{dst} = atomic_fetch_{op}((u{bits} *)(r10 {slot}), {p}{dst})",
    ]


@st.composite
def programs(draw: st.DrawFn) -> list[Insn]:
    body: list[str] = []
    for _ in range(draw(st.integers(1, 25))):
        choice = draw(st.integers(0, 9))
        if choice < 6:
            body.append(draw(alu()))
        elif choice < 8:
            body.extend(draw(memory()))
        else:
            p = draw(st.sampled_from("rw"))
            a, b = draw(st.sampled_from(REGS)), draw(st.sampled_from(REGS))
            rhs = f"{p}{b}" if draw(st.booleans()) else str(draw(imm32))
            skip = draw(st.integers(0, 3))
            body.append(f"if {p}{a} {draw(st.sampled_from(JMP_OPS))} {rhs} goto +{skip}")
            body.extend(draw(alu()) for _ in range(skip))
    fold = [f"r0 ^= r{r}" for r in range(1, 10)]
    insns = [ld_imm64(r, draw(u64)) for r in REGS]
    return insns + assemble("\n".join(body + fold))


def kernel_retval(prog: list[Insn], data: bytes = bytes(64)) -> int:
    loaded, result = prog_load(encode(prog), ProgType.SOCKET_FILTER)
    assert loaded is not None, f"kernel rejected a generated program: {result.log[-2000:]}"
    with loaded:
        return prog_test_run(loaded.fd, data).retval


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_interpreter_matches_kernel(kernel: None, prog: list[Insn]) -> None:
    ours = run_program([*prog, Insn(0x95)]).retval
    low = kernel_retval([*prog, Insn(0x95)])
    high = kernel_retval([*prog, *assemble("r0 >>= 32\nexit")])
    assert ours == (high << 32) | low


LEGACY_LOADS = [
    "r0 = *(u8 *)skb[0]",
    "r0 = *(u16 *)skb[5]",
    "r0 = *(u32 *)skb[46]",
    "r0 = *(u32 *)skb[47]",  # one byte past the end: the program returns 0
    "r7 = 9\nr0 = *(u16 *)skb[r7 + 3]",
    "r7 = 60\nr0 = *(u8 *)skb[r7 - 20]",
    "r7 = -1\nr0 = *(u8 *)skb[r7 + 0]",
]


def test_legacy_packet_loads_match_kernel(kernel: None) -> None:
    """LD_ABS/LD_IND read the socket filter's skb data, which starts after the Ethernet
    header that BPF_PROG_TEST_RUN strips (eth_type_trans)."""
    frame = bytes((i * 37 + 11) & 0xFF for i in range(64))
    packet = Region.from_bytes("packet", frame[14:], writable=False)
    for text in LEGACY_LOADS:
        prog = assemble(f"r6 = r1\n{text}\nr0 &= 0x7fffffff\nexit")
        ours = Interpreter(prog).run(packet=packet).retval
        assert ours == kernel_retval(prog, frame), text
