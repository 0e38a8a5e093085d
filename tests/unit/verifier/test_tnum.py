"""Tnum: soundness of every operation against concrete arithmetic, and pinned kernel values."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from bpfvm.verifier.tnum import U64_MAX, Tnum, format_snum, format_unum

M32 = (1 << 32) - 1
EDGES = [0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, M32, 1 << 32, 1 << 63]
EDGES += [U64_MAX, U64_MAX - 1, (1 << 63) - 1]
u64s = st.one_of(st.integers(0, U64_MAX), st.sampled_from(EDGES), st.integers(0, 64))


@st.composite
def tnums(draw: st.DrawFn) -> Tnum:
    mask = draw(
        st.one_of(
            st.integers(0, U64_MAX),
            st.integers(0, 8).map(lambda n: (1 << n) - 1),
            st.just(0),
            st.integers(0, 0xFFFF),
        )
    )
    return Tnum(draw(u64s) & ~mask & U64_MAX, mask)


@st.composite
def member_of(draw: st.DrawFn, t: Tnum) -> int:
    return t.value | (draw(st.integers(0, U64_MAX)) & t.mask)


@st.composite
def with_member(draw: st.DrawFn) -> tuple[Tnum, int]:
    t = draw(tnums())
    return t, draw(member_of(t))


def sext(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


BINARY: dict[str, tuple[Callable[[Tnum, Tnum], Tnum], Callable[[int, int], int]]] = {
    "add": (Tnum.add, lambda a, b: (a + b) & U64_MAX),
    "sub": (Tnum.sub, lambda a, b: (a - b) & U64_MAX),
    "mul": (Tnum.mul, lambda a, b: (a * b) & U64_MAX),
    "and": (Tnum.and_, lambda a, b: a & b),
    "or": (Tnum.or_, lambda a, b: a | b),
    "xor": (Tnum.xor, lambda a, b: a ^ b),
}


@settings(max_examples=400)
@given(st.sampled_from(sorted(BINARY)), with_member(), with_member())
def test_binary_ops_are_sound(name: str, a: tuple[Tnum, int], b: tuple[Tnum, int]) -> None:
    op, concrete = BINARY[name]
    result = op(a[0], b[0])
    assert result.value & result.mask == 0
    assert result.contains_value(concrete(a[1], b[1]))


@given(with_member(), st.integers(0, 63))
def test_shifts_are_sound(a: tuple[Tnum, int], n: int) -> None:
    t, x = a
    assert t.lshift(n).contains_value((x << n) & U64_MAX)
    assert t.rshift(n).contains_value(x >> n)
    assert t.arshift(n, 64).contains_value(sext(x, 64) >> n & U64_MAX)
    if n < 32:
        assert t.arshift(n, 32).contains_value(sext(x, 32) >> n & M32)


@given(with_member())
def test_unary_ops_are_sound(a: tuple[Tnum, int]) -> None:
    t, x = a
    assert t.neg().contains_value(-x & U64_MAX)
    assert t.bswap16().contains_value(int.from_bytes((x & 0xFFFF).to_bytes(2, "little"), "big"))
    assert t.bswap32().contains_value(int.from_bytes((x & M32).to_bytes(4, "little"), "big"))
    assert t.bswap64().contains_value(int.from_bytes(x.to_bytes(8, "little"), "big"))
    for size in (1, 2, 4):
        assert t.cast(size).contains_value(x & ((1 << (8 * size)) - 1))
    assert t.subreg().contains_value(x & M32)
    assert t.clear_subreg().contains_value(x & ~M32 & U64_MAX)


@given(with_member(), with_member())
def test_lattice_ops(a: tuple[Tnum, int], b: tuple[Tnum, int]) -> None:
    (ta, x), (tb, y) = a, b
    union = ta.union(tb)
    assert union.contains_value(x) and union.contains_value(y)
    assert union.contains(ta) and union.contains(tb)
    assert ta.with_subreg(tb).contains_value((x & ~M32 & U64_MAX) | (y & M32))
    assert ta.const_subreg(y).contains_value((x & ~M32 & U64_MAX) | (y & M32))
    if tb.contains_value(x):
        assert ta.intersect(tb).contains_value(x)
        assert ta.overlap(tb)
    if not ta.overlap(tb):
        assert not tb.contains_value(x)


@given(u64s, u64s, st.integers(0, U64_MAX))
def test_range_holds_its_interval(lo: int, hi: int, pick: int) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    t = Tnum.range(lo, hi)
    assert t.contains_value(lo) and t.contains_value(hi)
    assert t.contains_value(lo + pick % (hi - lo + 1))


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), st.integers(0, 0x1FF))
def test_step_is_the_next_member(value: int, mask: int, z: int) -> None:
    t = Tnum(value & ~mask, mask)
    members = sorted({t.value | (x & mask) for x in range(256)})
    expected = next((m for m in members if m > z), members[-1])
    assert t.step(z) == (members[0] if z < members[0] else expected)


@given(with_member())
def test_contains_and_predicates(a: tuple[Tnum, int]) -> None:
    t, x = a
    assert t.contains(Tnum.const(x))
    assert Tnum.unknown().contains(t)
    assert t.is_const() == (t.mask == 0)
    assert t.equals_const(x) == (t.mask == 0)
    assert len(t.sbin()) == 64
    assert int(t.sbin().replace("x", "0"), 2) == t.value


def test_pinned_kernel_values() -> None:
    # the example of the kernel's tnum_mul comment: 0bx1 * 0b11 = union(0b0011, 0b1001)
    assert Tnum(1, 2).mul(Tnum(3, 0)) == Tnum(1, 0b1010)
    assert Tnum(0, 6).mul(Tnum(0, 6)) == Tnum(0, 0x3C)  # r5 &= 6; r5 *= r5
    assert Tnum.range(0, 255) == Tnum(0, 0xFF)
    assert Tnum.range(5, 5) == Tnum.const(5)
    assert Tnum.range(0, U64_MAX).is_unknown()
    assert Tnum(0, 0xFF).bswap16() == Tnum(0, 0xFF00)
    assert Tnum(0x80000000, 0x7FFFFFFF).arshift(4, 32) == Tnum(0xF8000000, 0x7FFFFFF)
    assert Tnum(0xE00, 0x100).step(0xE00) == 0xF00
    assert Tnum.unknown().and_(Tnum.const(0xF0)) == Tnum(0, 0xF0)


def test_strn() -> None:
    assert str(Tnum(0, 0xFF)) == "(0x0; 0xff)"
    assert str(Tnum(0xE00, 0xFFFFFFFFFFFFF1FF)) == "(0xe00; 0xfffffffffffff1ff)"
    assert str(Tnum.const(42)) == "42"
    assert str(Tnum.const(65535)) == "65535"
    assert str(Tnum.const(65536)) == "0x10000"
    assert format_unum(U64_MAX) == "0xffffffffffffffff"
    assert format_snum(-1) == "-1"
    assert format_snum(-32768) == "-32768"
    assert format_snum(-32769) == "0xffffffffffff7fff"
    assert format_snum(0x8000) == "0x8000"
