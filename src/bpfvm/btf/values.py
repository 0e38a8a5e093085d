"""Typed values: C objects a BTF type describes, decoded to Python data and encoded back.

What ``bpftool map dump`` prints for a map with BTF, as Python values (little-endian, the
BPF target's byte order; a ``__be32`` is the int its bytes make read little-endian, as bpftool
prints it):

========================  ===================================================================
C type (BTF kind)         Python value
========================  ===================================================================
integer (INT)             ``int``, signed or not as the INT says (``__int128`` too)
``_Bool`` (INT, BOOL)     ``True``/``False``; a byte other than 0 or 1 (undefined in C)
                          decodes to that ``int`` so that it survives a round trip
``char[N]``               ``bytes``, exactly N of them (NULs kept: no guessing whether it is
                          text). bpftool's rule says what a char array is: the element, with
                          modifiers skipped but not typedefs, is a 1-byte INT named ``char`` or
                          with the CHAR encoding; so ``__u8 addr[4]`` stays a list of ints
enum (ENUM, ENUM64)       ``int``, the C value (:func:`enum_name` names it); signed when the
                          enum's ``kind_flag`` says so
pointer (PTR)             ``int``, the address
float (FLOAT)             ``float`` for 2, 4 and 8 bytes (NaN payloads kept); other sizes
                          (``long double``) ``bytes``
array (ARRAY)             ``list`` (a flexible array ``[]``)
struct, union             ``dict`` member name -> value. The members of an anonymous
                          struct/union member appear in the outer dict, as C names them; a
                          bitfield is an int of its width (sign-extended when its type is
                          signed); every member of a union is decoded from the same bytes
typedef and modifiers     the type they name (const, volatile, restrict, type_tag)
DATASEC                   ``dict`` variable name -> value at the variable's offset
========================  ===================================================================

Kernel special types in a value (``struct bpf_spin_lock``, ``bpf_timer``, ``bpf_list_head``,
...) are the plain structs their BTF describes (``{"val": 0}``).

Encoding takes what decoding gives and a little more. Missing struct members, DATASEC
variables and trailing array elements are zero, as are padding and the bits no member covers.
Integers must fit their type (bitfields their width); an enum takes an int in its signed or
unsigned range (BTF often does not record which) or an enumerator's name; a bool takes a bool
or an int. A char array, or any array of 1-byte integers, also takes ``bytes`` or a ``str``
(UTF-8) of at most N bytes, zero-padded. The members of a union are written in the dict's
order, the last one winning where they overlap. Problems raise :class:`BtfValueError`, whose
message names the path (``value.stats.count: 300 does not fit u8``).

Round trip: ``encode(decode(x)) == x`` except for the bits no member covers (padding, holes
around bitfields, the unused bits of an INT narrower than its storage), which encode as zero.

A DATASEC read from an object file is not laid out yet: clang leaves every global variable at
offset 0 for the loader to fix up from the ELF symbols (libbpf's ``btf_fixup_datasec``). Pass
those offsets as ``var_offsets`` (and the section's size as ``size``); variables that overlap
are refused rather than decoded wrongly.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Mapping

from bpfvm.btf.btf import Btf
from bpfvm.btf.kinds import BtfKind
from bpfvm.btf.types import BtfType
from bpfvm.errors import BpfvmError


class BtfValueError(BpfvmError, ValueError):
    """A value that does not match its BTF type, or a type that has no value; ``path`` says
    where (``value.stats.count``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


def _int_name(signed: bool, bits: int) -> str:
    return f"{'s' if signed else 'u'}{bits}"


def _wrong_type(path: str, expected: str, what: str, value: object) -> BtfValueError:
    return BtfValueError(path, f"expected {expected} for {what}, got {type(value).__name__}")


def _check_int(value: object, path: str, what: str, lo: int, hi: int) -> int:
    if not isinstance(value, int):
        raise _wrong_type(path, "an int", what, value)
    if not lo <= value < hi:
        raise BtfValueError(path, f"{value} does not fit {what}")
    return int(value)


class _Codec:
    """Decodes ``size`` bytes at an offset and encodes a value into a buffer."""

    size = 0
    what = ""

    def decode(self, data: bytes, off: int) -> object:
        raise NotImplementedError

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        raise NotImplementedError


class _Int(_Codec):
    def __init__(self, size: int, signed: bool, what: str = "") -> None:
        self.size, self.signed = size, signed
        self.what = what or _int_name(signed, 8 * size)
        bits = 8 * size
        self.lo, self.hi = (-(1 << bits - 1), 1 << bits - 1) if signed else (0, 1 << bits)

    def decode(self, data: bytes, off: int) -> object:
        return int.from_bytes(data[off : off + self.size], "little", signed=self.signed)

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        v = _check_int(value, path, self.what, self.lo, self.hi)
        buf[off : off + self.size] = v.to_bytes(self.size, "little", signed=self.signed)


class _Bool(_Codec):
    def __init__(self, size: int) -> None:
        self.size, self.what = size, "bool"

    def decode(self, data: bytes, off: int) -> object:
        v = int.from_bytes(data[off : off + self.size], "little")
        return bool(v) if v in (0, 1) else v

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        v = _check_int(value, path, self.what, 0, 1 << 8 * self.size)
        buf[off : off + self.size] = v.to_bytes(self.size, "little")


def _enum_int(t: BtfType, value: object, path: str, bits: int) -> int:
    """An enum's value: an int in its signed or unsigned range, or an enumerator's name."""
    what = f"enum {t.name or '(anon)'}"
    if isinstance(value, str):
        for ev in t.enum_values:
            if ev.name == value:
                return ev.value
        raise BtfValueError(path, f"{value!r} is not an enumerator of {what}")
    if bits != 8 * t.size:
        what = f"a {bits}-bit bitfield of {what}"
    return _check_int(value, path, what, -(1 << bits - 1), 1 << bits)


class _Enum(_Codec):
    def __init__(self, t: BtfType) -> None:
        self.t, self.size, self.signed = t, t.size, t.kind_flag
        self.what = f"enum {t.name or '(anon)'}"

    def decode(self, data: bytes, off: int) -> object:
        return int.from_bytes(data[off : off + self.size], "little", signed=self.signed)

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        v = _enum_int(self.t, value, path, 8 * self.size)
        buf[off : off + self.size] = (v & (1 << 8 * self.size) - 1).to_bytes(self.size, "little")


class _Bits(_Codec):
    """A bitfield, ``bits`` wide at ``bit_off`` bits from the offset it is decoded at; also an
    INT narrower than its storage. ``enum`` is the enum type of an enum bitfield."""

    def __init__(
        self, size: int, bit_off: int, bits: int, signed: bool, *, boolean: bool = False,
        enum: BtfType | None = None,
    ) -> None:  # fmt: skip
        self.size, self.bit_off, self.bits, self.signed = size, bit_off, bits, signed
        self.boolean, self.enum = boolean, enum
        self.what = f"{_int_name(signed, bits)} bitfield"
        self.mask = (1 << bits) - 1

    def _span(self, off: int) -> tuple[int, int, int]:
        start = 8 * off + self.bit_off
        return start // 8, (start + self.bits + 7) // 8, start % 8

    def decode(self, data: bytes, off: int) -> object:
        lo, hi, shift = self._span(off)
        v = int.from_bytes(data[lo:hi], "little") >> shift & self.mask
        if self.signed and v >> (self.bits - 1):
            v -= 1 << self.bits
        if self.boolean and v in (0, 1):
            return bool(v)
        return v

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        if self.enum is not None:
            v = _enum_int(self.enum, value, path, self.bits)
        elif self.signed:
            v = _check_int(value, path, self.what, -(1 << self.bits - 1), 1 << self.bits - 1)
        else:
            v = _check_int(value, path, self.what, 0, 1 << self.bits)
        lo, hi, shift = self._span(off)
        word = int.from_bytes(buf[lo:hi], "little") & ~(self.mask << shift)
        buf[lo:hi] = (word | (v & self.mask) << shift).to_bytes(hi - lo, "little")


# IEEE formats of the FLOAT sizes: struct format, exponent bits, fraction bits
_FLOATS = {2: ("<e", 5, 10), 4: ("<f", 8, 23), 8: ("<d", 11, 52)}


class _Float(_Codec):
    """``float``; a NaN keeps its sign and payload (a 2- or 4-byte one is carried in the top of a
    double's fraction, which ``struct`` would quieten)."""

    def __init__(self, size: int) -> None:
        self.size, self.what = size, f"a {size}-byte float"
        self.fmt, self.exp, self.frac = _FLOATS[size]

    def decode(self, data: bytes, off: int) -> object:
        raw = data[off : off + self.size]
        bits = int.from_bytes(raw, "little")
        frac, ones = bits & (1 << self.frac) - 1, (1 << self.exp) - 1
        if self.size < 8 and frac and bits >> self.frac & ones == ones:
            sign = bits >> (8 * self.size - 1)
            double = sign << 63 | 0x7FF << 52 | frac << (52 - self.frac)
            return struct.unpack("<d", double.to_bytes(8, "little"))[0]
        value: float = struct.unpack(self.fmt, raw)[0]
        return value

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        if not isinstance(value, int | float):
            raise _wrong_type(path, "a float", self.what, value)
        v = float(value)
        if self.size < 8 and v != v:
            double = int.from_bytes(struct.pack("<d", v), "little")
            frac = double >> (52 - self.frac) & (1 << self.frac) - 1 or 1 << (self.frac - 1)
            ones = (1 << self.exp) - 1
            bits = (double >> 63) << (8 * self.size - 1) | ones << self.frac | frac
            buf[off : off + self.size] = bits.to_bytes(self.size, "little")
            return
        try:
            buf[off : off + self.size] = struct.pack(self.fmt, v)
        except OverflowError:
            raise BtfValueError(path, f"{value} does not fit {self.what}") from None


class _Raw(_Codec):
    """Bytes kept as they are (a ``long double``)."""

    def __init__(self, size: int, what: str) -> None:
        self.size, self.what = size, what

    def decode(self, data: bytes, off: int) -> object:
        return bytes(data[off : off + self.size])

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        if not isinstance(value, bytes | bytearray) or len(value) != self.size:
            raise BtfValueError(path, f"expected {self.size} bytes for {self.what}")
        buf[off : off + self.size] = value


class _Array(_Codec):
    def __init__(self, elem: _Codec, n: int, chars: bool, what: str) -> None:
        self.elem, self.n, self.chars, self.what = elem, n, chars, what
        self.stride = elem.size
        self.size = n * elem.size
        self.byte_elems = elem.size == 1 and isinstance(elem, _Int | _Bool | _Enum)

    def decode(self, data: bytes, off: int) -> object:
        if self.chars:
            return bytes(data[off : off + self.n])
        dec, stride = self.elem.decode, self.stride
        return [dec(data, off + i * stride) for i in range(self.n)]

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        if self.byte_elems and isinstance(value, bytes | bytearray | str):
            raw = value.encode() if isinstance(value, str) else bytes(value)
            if len(raw) > self.n:
                raise BtfValueError(path, f"{len(raw)} bytes do not fit {self.what}")
            buf[off : off + len(raw)] = raw
            return
        if not isinstance(value, list | tuple):
            raise _wrong_type(path, "a list", self.what, value)
        if len(value) > self.n:
            raise BtfValueError(path, f"{len(value)} elements do not fit {self.what}")
        for i, item in enumerate(value):
            self.elem.encode(buf, off + i * self.stride, item, f"{path}[{i}]")


class _Struct(_Codec):
    """A struct, union or DATASEC: ``fields`` are (name, byte offset, codec); a bitfield's
    codec carries its bit offset from the struct's start."""

    def __init__(self, size: int, fields: list[tuple[str, int, _Codec]], what: str) -> None:
        self.size, self.what, self.fields = size, what, fields
        self.by_name: dict[str, tuple[int, _Codec]] = {}
        for name, off, codec in fields:
            self.by_name.setdefault(name, (off, codec))
        self.noun = "variable" if what.startswith("DATASEC") else "member"

    def decode(self, data: bytes, off: int) -> object:
        return {name: codec.decode(data, off + o) for name, (o, codec) in self.by_name.items()}

    def encode(self, buf: bytearray, off: int, value: object, path: str) -> None:
        if not isinstance(value, Mapping):
            raise _wrong_type(path, "a dict", self.what, value)
        for name, item in value.items():
            field = self.by_name.get(name)
            if field is None:
                raise BtfValueError(path, f"{self.what} has no {self.noun} {name!r}")
            field[1].encode(buf, off + field[0], item, f"{path}.{name}")


# -- building codecs -------------------------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary[Btf, dict[int, _Codec]] = weakref.WeakKeyDictionary()


def _is_char(btf: Btf, type_id: int) -> bool:
    """bpftool's ``is_str_array`` element test: modifiers skipped, typedefs not."""
    t = btf[type_id]
    while t.kind in (BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT, BtfKind.TYPE_TAG):
        t = btf[t.ref]
    if t.kind != BtfKind.INT or t.size != 1:
        return False
    return t.int_info.char or t.name == "char"


class _Builder:
    def __init__(self, btf: Btf) -> None:
        self.btf = btf
        self.cache = _CACHE.setdefault(btf, {})
        self.active: set[int] = set()

    def build(self, type_id: int) -> _Codec:
        btf = self.btf
        tid = btf.strip(type_id)
        while btf.kind(tid) == BtfKind.VAR:
            tid = btf.strip(btf[tid].ref)
        codec = self.cache.get(tid)
        if codec is None:
            if tid in self.active:
                raise BtfValueError("", f"[{tid}] {btf.type_name(tid)} contains itself")
            self.active.add(tid)
            try:
                codec = self.cache[tid] = self._make(btf[tid])
            finally:
                self.active.discard(tid)
        return codec

    def _make(self, t: BtfType) -> _Codec:
        kind = t.kind
        if kind == BtfKind.INT:
            info = t.int_info
            if info.offset or info.bits != 8 * t.size:
                return _Bits(t.size, info.offset, info.bits, info.signed, boolean=info.bool)
            return _Bool(t.size) if info.bool else _Int(t.size, info.signed)
        if kind == BtfKind.PTR:
            return _Int(8, False, "a pointer (u64)")
        if t.is_enum:
            return _Enum(t)
        if kind == BtfKind.FLOAT:
            return _Float(t.size) if t.size in _FLOATS else _Raw(t.size, t.name or "float")
        if kind == BtfKind.ARRAY:
            arr = t.array
            what = self.btf.type_name(t.id)
            return _Array(self.build(arr.type), arr.nelems, _is_char(self.btf, arr.type), what)
        if t.is_composite:
            return self._struct(t)
        if kind == BtfKind.DATASEC:
            return datasec_codec(self.btf, t.id)
        what = "void" if kind == BtfKind.UNKN else f"{kind.name} {self.btf.type_name(t.id)}"
        raise BtfValueError("", f"[{t.id}] {what} has no value to decode")

    def _struct(self, t: BtfType) -> _Struct:
        btf = self.btf
        what = btf.type_name(t.id)
        fields: list[tuple[str, int, _Codec]] = []
        for m in t.members:
            target = btf[btf.strip(m.type)]
            bits = m.bitfield_size
            int_off = 0
            if not bits and target.kind == BtfKind.INT:
                info = target.int_info  # an old-style bitfield: the INT says where and how wide
                if info.offset or info.bits != 8 * target.size:
                    bits, int_off = info.bits, info.offset
            if bits:
                if target.kind == BtfKind.INT:
                    info = target.int_info
                    codec: _Codec = _Bits(0, m.bit_offset + int_off, bits, info.signed,
                                          boolean=info.bool)  # fmt: skip
                elif target.is_enum:
                    codec = _Bits(0, m.bit_offset, bits, target.kind_flag, enum=target)
                else:
                    raise BtfValueError("", f"{what}: bitfield {m.name!r} is not an integer")
                if m.name:
                    fields.append((m.name, 0, codec))
                continue
            if m.bit_offset % 8:
                raise BtfValueError("", f"{what}: member {m.name!r} is not byte-aligned")
            codec = self.build(m.type)
            off = m.bit_offset // 8
            if m.name:
                fields.append((m.name, off, codec))
            elif isinstance(codec, _Struct):  # anonymous struct/union: C reaches its members
                fields.extend((name, off + o, c) for name, o, c in codec.fields)
        return _Struct(t.size, fields, what)


def datasec_codec(
    btf: Btf, type_id: int, var_offsets: Mapping[str, int] | None = None, size: int | None = None
) -> _Struct:
    """The codec of a DATASEC, its variables at ``var_offsets`` where given (the ELF symbols'
    values) and at the DATASEC's offsets otherwise; ``size`` defaults to the DATASEC's (or, when
    that is 0, to the end of its last variable)."""
    t = btf[type_id]
    if t.kind != BtfKind.DATASEC:
        raise BtfValueError("", f"[{type_id}] {btf.type_name(type_id)} is not a DATASEC")
    builder = _Builder(btf)
    fields: list[tuple[str, int, _Codec]] = []
    for info in t.vars:
        var = btf[info.type]
        if var.kind != BtfKind.VAR:  # extern functions of .ksyms
            continue
        off = info.offset if var_offsets is None else var_offsets.get(var.name, info.offset)
        fields.append((var.name, off, builder.build(var.ref)))
    end, last = 0, ""
    for name, off, codec in sorted(fields, key=lambda f: f[1]):
        if codec.size and off < end:
            raise BtfValueError(
                "", f"DATASEC {t.name}: variables {last!r} and {name!r} overlap "
                "(offsets not fixed up from the ELF symbols? pass var_offsets)",
            )  # fmt: skip
        if codec.size and off + codec.size > end:
            end, last = off + codec.size, name
    total = size if size is not None else t.size or end
    if end > total:
        raise BtfValueError("", f"DATASEC {t.name}: variables end at {end}, past its {total} bytes")
    return _Struct(total, fields, f"DATASEC {t.name}")


class ValueCodec:
    """Decoding and encoding of one BTF type (built once, reused): ``size`` bytes <-> Python.

    ``var_offsets`` and ``size`` apply to a DATASEC (see the module docstring)."""

    def __init__(
        self,
        btf: Btf,
        type_id: int,
        *,
        var_offsets: Mapping[str, int] | None = None,
        size: int | None = None,
    ) -> None:
        self.btf, self.type_id = btf, type_id
        tid = btf.strip(type_id)
        if btf.kind(tid) == BtfKind.DATASEC:
            self._codec: _Codec = datasec_codec(btf, tid, var_offsets, size)
        else:
            self._codec = _Builder(btf).build(type_id)
        self.size = self._codec.size
        self.type_name = btf.type_name(type_id)  # C text: "__be32", "struct src_stats"

    def decode(self, data: bytes | bytearray | memoryview) -> object:
        raw = bytes(data)
        if len(raw) != self.size:
            raise BtfValueError(
                "", f"{len(raw)} bytes given, {self.type_name} is {self.size} bytes"
            )
        return self._codec.decode(raw, 0)

    def encode(self, value: object, path: str = "value") -> bytes:
        buf = bytearray(self.size)
        self._codec.encode(buf, 0, value, path)
        return bytes(buf)


def decode(
    btf: Btf, type_id: int, data: bytes, *, var_offsets: Mapping[str, int] | None = None
) -> object:
    """``data`` (exactly the type's size) as the Python value of BTF type ``type_id``."""
    return ValueCodec(btf, type_id, var_offsets=var_offsets).decode(data)


def encode(
    btf: Btf,
    type_id: int,
    value: object,
    *,
    path: str = "value",
    var_offsets: Mapping[str, int] | None = None,
) -> bytes:
    """The bytes of ``value`` as BTF type ``type_id``; ``path`` names it in error messages."""
    return ValueCodec(btf, type_id, var_offsets=var_offsets).encode(value, path)


def enum_name(btf: Btf, type_id: int, value: int) -> str | None:
    """The name of the first enumerator of enum ``type_id`` equal to ``value`` (either
    signedness), None when there is none."""
    t = btf[btf.strip(type_id)]
    if not t.is_enum:
        raise BtfValueError("", f"[{type_id}] {btf.type_name(type_id)} is not an enum")
    mask = (1 << 8 * t.size) - 1
    for ev in t.enum_values:
        if ev.value & mask == value & mask:
            return ev.name
    return None
