"""Bob Jenkins' lookup3 hash as the kernel's ``<linux/jhash.h>`` computes it.

Hash maps pick a bucket with ``jhash2`` (key size a multiple of 4) or ``jhash`` (any other
size); bloom filters hash values the same way with ``seed + i`` for their i-th function. The
kernel seeds both with a random number unless the map has ``BPF_F_ZERO_SEED``; bpfvm always
uses seed 0, so its bucket order (and thus ``get_next_key`` order) and its bloom filter bits
are exactly those of a kernel map created with ``BPF_F_ZERO_SEED``.
"""

from __future__ import annotations

import struct

JHASH_INITVAL = 0xDEADBEEF
_M = 0xFFFFFFFF


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = (a - c) & _M
    a ^= _rol(c, 4)
    c = (c + b) & _M
    b = (b - a) & _M
    b ^= _rol(a, 6)
    a = (a + c) & _M
    c = (c - b) & _M
    c ^= _rol(b, 8)
    b = (b + a) & _M
    a = (a - c) & _M
    a ^= _rol(c, 16)
    c = (c + b) & _M
    b = (b - a) & _M
    b ^= _rol(a, 19)
    a = (a + c) & _M
    c = (c - b) & _M
    c ^= _rol(b, 4)
    b = (b + a) & _M
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    c ^= b
    c = (c - _rol(b, 14)) & _M
    a ^= c
    a = (a - _rol(c, 11)) & _M
    b ^= a
    b = (b - _rol(a, 25)) & _M
    c ^= b
    c = (c - _rol(b, 16)) & _M
    a ^= c
    a = (a - _rol(c, 4)) & _M
    b ^= a
    b = (b - _rol(a, 14)) & _M
    c ^= b
    c = (c - _rol(b, 24)) & _M
    return c


def _words(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(data) // 4}I", data)


def jhash(data: bytes, initval: int) -> int:
    """``jhash(key, length, initval)``: bytes of any length (read as little-endian words)."""
    length = len(data)
    a = b = c = (JHASH_INITVAL + length + initval) & _M
    pos = 0
    while length > 12:
        wa, wb, wc = _words(data[pos : pos + 12])
        a, b, c = _mix((a + wa) & _M, (b + wb) & _M, (c + wc) & _M)
        length -= 12
        pos += 12
    if length == 0:
        return c
    # the tail is added byte by byte; on a little-endian word that is a zero-padded load
    wa, wb, wc = _words(data[pos:].ljust(12, b"\0"))
    return _final((a + wa) & _M, (b + wb) & _M, (c + wc) & _M)


def jhash2(data: bytes, initval: int) -> int:
    """``jhash2(k, length / 4, initval)``: a key whose length is a multiple of 4."""
    words = _words(data)
    length = len(words)
    a = b = c = (JHASH_INITVAL + (length << 2) + initval) & _M
    pos = 0
    while length > 3:
        a, b, c = _mix((a + words[pos]) & _M, (b + words[pos + 1]) & _M, (c + words[pos + 2]) & _M)
        length -= 3
        pos += 3
    if length == 0:
        return c
    tail = (*words[pos:], 0, 0)
    return _final((a + tail[0]) & _M, (b + tail[1]) & _M, (c + tail[2]) & _M)


def map_hash(data: bytes, seed: int = 0) -> int:
    """``htab_map_hash``: jhash2 for whole words, jhash otherwise."""
    if len(data) % 4 == 0:
        return jhash2(data, seed)
    return jhash(data, seed)
