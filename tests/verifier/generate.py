"""Random programs for verdict agreement: seeded, deterministic, sometimes valid and sometimes not.

``generate(seed)`` builds one :class:`GeneratedProgram` (its assembly text and the
:class:`~bpfvm.program.Program`) from ``random.Random(seed)`` alone, so the pinned kernel
results of ``generated.json`` need only the seeds. A program is a sequence of snippets, each
drawn from a menu: ALU on random registers (uninitialised ones, zero divisors and wide shifts
included), stack stores and loads at random offsets and sizes, ctx loads/stores at random
offsets for the program type, packet accesses with and without (or with wrong) ``data_end``
checks, map lookups with and without NULL checks followed by accesses at random offsets, helper
calls with right and wrong arguments, pointer arithmetic, forward conditional jumps over later
snippets, small bounded loops, and an exit whose ``r0`` may be unset. Most snippets are
correct; each has a small chance of a mistake, so the mix yields both verdicts and exercises
the paths where a verifier is most likely to accept what the kernel refuses.

Changing anything here changes the programs: re-pin with ``scripts/pin_verifier.py
--corpus generated`` (the pins carry a hash of each program to catch that).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from bpfvm.asm import assemble
from bpfvm.isa.codec import encode
from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import MapType, ProgType

COUNT = 1000
FIRST_SEED = 1

MAPS = (
    MapSpec("hash16", MapType.HASH, 4, 16, 64),
    MapSpec("array16", MapType.ARRAY, 4, 16, 8),
)
_TYPES = (ProgType.XDP, ProgType.SCHED_CLS, ProgType.SOCKET_FILTER, ProgType.KPROBE)
_CTX_SIZE = {ProgType.XDP: 24, ProgType.SCHED_CLS: 192, ProgType.SOCKET_FILTER: 192,
             ProgType.KPROBE: 168}  # fmt: skip
_ALU = ("+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "=")
_JMP = ("==", "!=", ">", ">=", "<", "<=", "s>", "s<", "&")
_SIZES = (8, 16, 32, 64)


@dataclass(frozen=True)
class GeneratedProgram:
    seed: int
    text: str
    program: Program

    @property
    def digest(self) -> str:
        """A short hash of the program's instructions and type (pins detect drift with it)."""
        data = encode(list(self.program.insns)) + bytes([int(self.program.prog_type)])
        return hashlib.sha256(data).hexdigest()[:16]


_SCALAR_CTX = {  # (offset, size) of scalar ctx fields a program of the type may read
    ProgType.XDP: ((12, 32), (16, 32)),
    ProgType.SCHED_CLS: ((0, 32), (4, 32), (8, 32), (16, 32), (32, 32), (40, 32), (48, 32),
                         (52, 32), (68, 32), (16, 16), (8, 8), (152, 64)),
    ProgType.SOCKET_FILTER: ((0, 32), (4, 32), (8, 32), (16, 32), (32, 32), (36, 32),
                             (48, 32), (56, 32), (0, 8)),
    ProgType.KPROBE: tuple((off, 64) for off in range(0, 168, 8)),
}  # fmt: skip
P_BAD = 0.1  # the chance that a snippet makes one of its mistakes


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.ptype = self.r.choice(_TYPES)
        self.lines: list[str] = []
        self.labels = 0
        self.slots: list[int] = []  # stack offsets holding an initialised u64 scalar

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def bad(self) -> bool:
        return self.chance(P_BAD)

    def scalar(self) -> str:
        """A register holding a scalar (r7-r9 always do)."""
        return f"r{self.r.choice((7, 8, 9))}"

    def any_reg(self) -> str:
        return f"r{self.r.randrange(0, 10)}"

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def label(self) -> str:
        self.labels += 1
        return f"L{self.labels}"

    def imm(self) -> int:
        return self.r.choice((0, 1, 2, 7, 8, 15, 16, 31, 63, 64, 255, -1, -8, 1 << 20))

    # --- snippets ---------------------------------------------------------------------

    def alu(self) -> None:
        dst, op = self.scalar(), self.r.choice(_ALU)
        if self.bad():
            self.emit(self.r.choice((f"{dst} {op} {self.any_reg()}", f"{dst} /= 0",
                                     f"{dst} <<= 64", f"w{dst[1]} >>= 32")))  # fmt: skip
        elif self.chance(0.5):
            imm = self.imm()
            if op in ("/=", "%=") and imm == 0:
                imm = 3
            if op in ("<<=", ">>=", "s>>="):
                imm %= 64
            self.emit(f"{dst} {op} {imm}")
        else:
            self.emit(f"{dst} {op} {self.scalar()}")

    def stack(self) -> None:
        if self.bad():
            off = self.r.choice((0, 8, -520, -4, -3, -200))
            size = self.r.choice(_SIZES)
            self.emit(
                self.r.choice(
                    (
                        f"*(u{size} *){_addr('r10', off)} = r7",
                        f"r7 = *(u{size} *){_addr('r10', off)}",
                        f"*(u32 *){_addr('r10', -self.r.choice((16, 24)))} = r6",
                    )
                )
            )
            return  # fmt: skip
        off = -8 * self.r.randrange(2, 64)
        if self.slots and self.chance(0.4):
            size = self.r.choice(_SIZES)
            self.emit(f"{self.scalar()} = *(u{size} *){_addr('r10', self.r.choice(self.slots))}")
        elif self.chance(0.2):
            self.emit(f"*(u64 *){_addr('r10', off)} = r6")  # a pointer spill
        else:
            self.emit(f"*(u64 *){_addr('r10', off)} = {self.r.choice(('r7', 'r8', 'r9', '5'))}")
            self.slots.append(off)

    def ctx(self) -> None:
        if self.bad():
            off = self.r.randrange(0, _CTX_SIZE[self.ptype] + 8)
            size = self.r.choice(_SIZES)
            store = f"*(u{size} *)(r6 + {off}) = r7"
            self.emit(store if self.chance(0.5) else f"r7 = *(u{size} *)(r6 + {off})")
            return
        off, size = self.r.choice(_SCALAR_CTX[self.ptype])
        self.emit(f"{self.scalar()} = *(u{size} *)(r6 + {off})")

    def packet(self) -> None:
        if self.ptype == ProgType.XDP:
            data, end = 0, 4
        elif self.ptype == ProgType.SCHED_CLS or self.bad():
            data, end = 76, 80
        else:
            return self.ctx()
        n = self.r.choice((1, 2, 4, 8, 14, 20, 34))
        out = self.label()
        self.emit(f"r2 = *(u32 *)(r6 + {data})", f"r3 = *(u32 *)(r6 + {end})", "r4 = r2",
                  f"r4 += {n}")  # fmt: skip
        bad = self.bad()
        kind = self.r.randrange(4) if bad else self.r.randrange(2)
        self.emit((f"if r4 > r3 goto {out}", f"if r3 < r4 goto {out}",
                   f"if r4 < r3 goto {out}", f"if r4 == r3 goto {out}")[kind])  # fmt: skip
        size = self.r.choice([b for b in _SIZES if b // 8 <= n])
        off = self.r.randrange(0, n - size // 8 + 1) if not bad else self.r.randrange(0, n + 2)
        if self.chance(0.8) or self.ptype == ProgType.SOCKET_FILTER:
            self.emit(f"r7 = *(u{size} *)(r2 + {off})")
        else:
            self.emit(f"*(u{size} *)(r2 + {off}) = r8")
        self.emit(f"{out}:")

    def map_lookup(self) -> None:
        idx = self.r.randrange(len(MAPS))
        out = self.label()
        bad = self.bad()
        mistake = self.r.randrange(5) if bad else -1
        self.emit("*(u32 *)(r10 - 4) = 0" if mistake != 0 else "r1 = 0", "r2 = r10",
                  "r2 += -4", f"ld_pseudo r1, 1, {idx}", "call bpf_map_lookup_elem")  # fmt: skip
        if mistake != 1:
            self.emit(f"if r0 == 0 goto {out}")
        size = self.r.choice(_SIZES)
        off = self.r.randrange(0, 16 - size // 8 + 1)
        if mistake == 2:
            off = self.r.choice((-4, 12, 16))
        if self.chance(0.3) or mistake == 3:
            mask = 7 if mistake != 3 else 31
            self.emit("r1 = r9", f"r1 &= {mask}", "r0 += r1")
            off = min(off, 8 - size // 8) if mistake != 3 else off
            if size == 64:
                off = 0
        if mistake == 4:
            self.emit("r0 += r9")
        if self.chance(0.6):
            self.emit(f"r7 = *(u{size} *){_addr('r0', off)}")
        else:
            self.emit(f"*(u{size} *){_addr('r0', off)} = r8")
        self.emit(f"{out}:")

    def helper(self) -> None:
        pick = self.r.random()
        bad = self.bad()
        if pick < 0.3:
            self.emit(self.r.choice(("call bpf_ktime_get_ns", "call bpf_get_prandom_u32",
                                     "call bpf_get_smp_processor_id")), "r7 = r0")  # fmt: skip
            if self.chance(0.5):
                self.emit(f"r7 &= {self.r.choice((7, 15, 255, 0xFFFF))}")
        elif pick < 0.55 and self.ptype == ProgType.KPROBE:
            buf = self.r.choice((16, 32, 64))
            size = self.r.choice((8, 16, 0, buf)) if not bad else self.r.choice((buf + 8, -1))
            self.emit("r1 = r10", f"r1 += -{buf}", f"r2 = {size}" if size != -1 else "r2 = r9",
                      "r3 = 0", "call bpf_probe_read_kernel")  # fmt: skip
        elif pick < 0.55 and self.ptype != ProgType.XDP:
            size = self.r.choice((4, 8)) if not bad else self.r.choice((16, 0))
            self.emit("r1 = r6", "r2 = 0", "r3 = r10", "r3 += -8", f"r4 = {size}",
                      "call bpf_skb_load_bytes")  # fmt: skip
        elif pick < 0.8:
            value = "*(u64 *)(r10 - 16) = r8" if not bad else "r0 = 0"
            self.emit("*(u32 *)(r10 - 4) = 1", "*(u64 *)(r10 - 24) = r7", value,
                      "r2 = r10", "r2 += -4", "r3 = r10", "r3 += -24", "r4 = 0",
                      f"ld_pseudo r1, 1, {self.r.randrange(len(MAPS))}",
                      "call bpf_map_update_elem")  # fmt: skip
            self.slots = [s for s in self.slots if s < -24]
        elif self.ptype == ProgType.KPROBE:
            self.emit("r1 = r10" if not bad else "r1 = r7", "r1 += -16", "r2 = 16",
                      "call bpf_get_current_comm")  # fmt: skip
        else:
            self.emit("call bpf_get_prandom_u32" if not bad else "call bpf_get_current_comm",
                      "r9 = r0")  # fmt: skip

    def pointer(self) -> None:
        bad = self.bad()
        if bad:
            op = self.r.choice(("&=", "*=", "|=", "+="))
            self.emit("r5 = r10", f"r5 {op} {self.r.choice(('8', 'r6', 'r9'))}",
                      "*(u64 *)(r5 - 8) = 0")  # fmt: skip
            return
        off = -8 * self.r.randrange(2, 60)
        self.emit("r5 = r10", f"r5 += {off}")
        if self.chance(0.5):
            self.emit("r1 = r9", "r1 &= 8", "r5 += r1")
            self.emit("*(u8 *)(r5 + 0) = 0")
        else:
            self.emit("*(u64 *)(r5 + 0) = 1")
            self.slots.append(off)

    def loop(self) -> None:
        top = self.label()
        bound = self.r.choice((3, 8, 20, 64))
        self.emit("r9 = 0", f"{top}:", "r9 += 1")
        if self.chance(0.5):
            self.emit("r8 += r9")
        self.emit(f"if r9 < {bound} goto {top}")

    def build(self) -> tuple[str, Program]:
        self.emit("r6 = r1")
        for reg in ("r7", "r8", "r9"):
            self.emit(f"{reg} = {self.imm()}" if not self.chance(0.01) else f"{reg} = r2")
        n = self.r.randrange(3, 14)
        pending: dict[int, list[str]] = {}
        menu = (self.alu, self.stack, self.ctx, self.packet, self.map_lookup, self.helper,
                self.pointer, self.loop)  # fmt: skip
        weights = (5, 4, 3, 4, 4, 3, 2, 1)
        for i in range(n):
            for lbl in pending.pop(i, []):
                self.emit(f"{lbl}:")
                self.slots = []  # not written on every path
            if self.chance(0.15):
                lbl = self.label()
                pending.setdefault(self.r.randrange(i + 1, n + 1), []).append(lbl)
                rhs = str(self.imm()) if self.chance(0.7) else self.scalar()
                self.emit(f"if {self.scalar()} {self.r.choice(_JMP)} {rhs} goto {lbl}")
            self.r.choices(menu, weights)[0]()
        for lbl in pending.pop(n, []):
            self.emit(f"{lbl}:")
        if not self.chance(0.03):
            self.emit(f"r0 = {self.r.choice((0, 1, 2, 3))}")
        self.emit("exit")
        text = "\n".join(self.lines) + "\n"
        insns = assemble(text, "<generated>")
        return text, Program(name="gen", insns=tuple(insns), prog_type=self.ptype,
                             license="GPL", maps=MAPS, section="generated")  # fmt: skip


def _addr(base: str, off: int) -> str:
    return f"({base} - {-off})" if off < 0 else f"({base} + {off})"


def generate(seed: int) -> GeneratedProgram:
    """The program of ``seed`` (deterministic)."""
    text, program = _Gen(seed).build()
    return GeneratedProgram(seed, text, program)


def seeds(count: int = COUNT) -> range:
    return range(FIRST_SEED, FIRST_SEED + count)
