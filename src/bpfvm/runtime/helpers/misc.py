"""Helpers for strings, formatted output, safe reads, locks and tracing context.

``bpf_trace_printk`` and ``bpf_snprintf`` accept the conversions the kernel's
``bpf_bprintf_prepare`` accepts (``%d %i %u %x %X`` with ``l``/``ll``, ``%c``, ``%s``, ``%p``,
``%%``, flags, width and precision), with C's argument sizes: no modifier means a 32-bit
value. The ``probe_read`` family reads only memory the program was given (the checked
address space): anything else is the kernel's ``-EFAULT`` with the destination zeroed, never a
read of host memory.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from bpfvm.errors import VmFault
from bpfvm.runtime.helpers.maps import neg
from bpfvm.runtime.helpers.registry import MASK64, HelperCall, HelperFn

MAX_BPRINTF_VARARGS = 12
MAX_TRACE_PRINTK_VARARGS = 3
_CONVERSION = re.compile(rb"%([-+ #0]*)(\d*)(?:\.(\d+))?(ll|l|h|hh|z)?([diuxXcsp%])")


class FormatError(ValueError):
    pass


def read_cstring(call: HelperCall, addr: int, limit: int) -> bytes | None:
    """The NUL-terminated string at ``addr`` (at most ``limit`` bytes), None if unreadable."""
    hit = call.mem.find(addr, 1)
    if hit is None:
        return None
    region, off = hit
    data = region.read(off, min(limit, region.size - off))
    end = data.find(b"\0")
    return data if end < 0 else data[:end]


def format_bprintf(call: HelperCall, fmt: bytes, args: Sequence[int], max_args: int) -> bytes:
    """Format ``fmt`` with the u64 ``args`` the way the kernel's printf helpers do."""
    out = bytearray()
    pos = 0
    used = 0
    for m in _CONVERSION.finditer(fmt):
        out += fmt[pos : m.start()]
        pos = m.end()
        flags, width, prec, mod, conv = m.groups()
        if conv == b"%":
            out += b"%"
            continue
        if used >= min(max_args, len(args)):
            raise FormatError("too many format arguments")
        arg = args[used] & MASK64
        used += 1
        spec = "%" + flags.decode() + width.decode() + (f".{prec.decode()}" if prec else "")
        if conv in b"diux" or conv == b"X":
            bits = 64 if mod in (b"l", b"ll", b"z") else 32
            value = arg & ((1 << bits) - 1)
            if conv in b"di" and value >= 1 << (bits - 1):
                value -= 1 << bits
            out += ((spec + ("d" if conv in b"diu" else conv.decode())) % value).encode()
        elif conv == b"c":
            out += (spec + "c").encode() % bytes([arg & 0xFF])
        elif conv == b"s":
            text = read_cstring(call, arg, 1024)
            out += (spec + "s").encode() % (text if text is not None else b"(efault)")
        else:  # %p: the kernel hashes plain pointers; print the value as %px does
            out += b"0x%x" % arg
    out += fmt[pos:]
    if b"%" in fmt[pos:]:
        raise FormatError("invalid format")
    return bytes(out)


def _fmt(call: HelperCall, addr: int, size: int) -> bytes:
    raw = call.mem.read_bytes(addr, size, call.pc)
    if not raw or raw[-1] != 0:
        raise VmFault(call.pc, "format string is not NUL-terminated")
    return raw[: raw.index(b"\0")]


def _trace_printk(call: HelperCall, fmt: int, size: int, a1: int, a2: int, a3: int) -> int:
    try:
        text = format_bprintf(call, _fmt(call, fmt, size), (a1, a2, a3), MAX_TRACE_PRINTK_VARARGS)
    except FormatError:
        return neg(errno.EINVAL)
    call.trace.append(text.decode("utf-8", "replace").rstrip("\n"))
    return len(text)


def _snprintf(call: HelperCall, out: int, out_size: int, fmt: int, data: int, data_len: int) -> int:
    if data_len % 8 or data_len > MAX_BPRINTF_VARARGS * 8:
        return neg(errno.EINVAL)
    raw = call.mem.read_bytes(data, data_len, call.pc)
    args = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, data_len, 8)]
    fmt_bytes = read_cstring(call, fmt, 4096)
    if fmt_bytes is None:
        return neg(errno.EFAULT)
    try:
        text = format_bprintf(call, fmt_bytes, args, MAX_BPRINTF_VARARGS)
    except FormatError:
        return neg(errno.EINVAL)
    if out_size:
        call.mem.write_bytes(out, text[: out_size - 1] + b"\0", call.pc)
    return len(text) + 1


def _get_current_comm(call: HelperCall, buf: int, size: int, *_: int) -> int:
    try:
        comm = Path("/proc/self/comm").read_bytes().strip()[:15]
    except OSError:
        comm = b"python"
    if size:
        call.mem.write_bytes(buf, comm[: size - 1].ljust(size, b"\0"), call.pc)
    return 0


def _probe_read(call: HelperCall, dst: int, size: int, src: int, *_: int) -> int:
    hit = call.mem.find(src, size) if size else None
    if size and hit is None:
        call.mem.write_bytes(dst, bytes(size), call.pc)
        return neg(errno.EFAULT)
    if size:
        call.mem.write_bytes(dst, hit[0].read(hit[1], size), call.pc)  # type: ignore[index]
    return 0


def _probe_read_str(call: HelperCall, dst: int, size: int, src: int, *_: int) -> int:
    if size == 0:
        return 0
    text = read_cstring(call, src, size)
    if text is None:
        call.mem.write_bytes(dst, bytes(size), call.pc)
        return neg(errno.EFAULT)
    text = text[: size - 1] + b"\0"
    call.mem.write_bytes(dst, text, call.pc)
    return len(text)


def _strncmp(call: HelperCall, s1: int, s1_size: int, s2: int, *_: int) -> int:
    a = call.mem.read_bytes(s1, s1_size, call.pc)
    b = read_cstring(call, s2, s1_size + 1)
    if b is None:
        raise VmFault(call.pc, "strncmp: s2 is not readable")
    for x, y in zip(a + b"\0", b.ljust(s1_size, b"\0") + b"\0", strict=False):
        if x != y:
            return 1 if x > y else MASK64  # the kernel's strncmp returns -1 or 1
        if x == 0:
            break
    return 0


def _spin_lock(locked: bool) -> HelperFn:
    def helper(call: HelperCall, lock: int, *_: int) -> int:
        held = call.mem.load(lock, 4, call.pc)
        if locked and held:
            raise VmFault(call.pc, "bpf_spin_lock on a lock already held (deadlock)")
        call.mem.store(lock, 4, int(locked), call.pc)
        return 0

    return helper


def _get_attach_cookie(call: HelperCall, *_: int) -> int:
    return call.cookie & MASK64


def _get_func_ip(call: HelperCall, *_: int) -> int:
    return call.func_ip & MASK64


MISC_HELPERS: Mapping[str, HelperFn] = {
    "bpf_trace_printk": _trace_printk,
    "bpf_snprintf": _snprintf,
    "bpf_get_current_comm": _get_current_comm,
    "bpf_probe_read": _probe_read,
    "bpf_probe_read_kernel": _probe_read,
    "bpf_probe_read_user": _probe_read,
    "bpf_probe_read_str": _probe_read_str,
    "bpf_probe_read_kernel_str": _probe_read_str,
    "bpf_probe_read_user_str": _probe_read_str,
    "bpf_strncmp": _strncmp,
    "bpf_spin_lock": _spin_lock(locked=True),
    "bpf_spin_unlock": _spin_lock(locked=False),
    "bpf_get_attach_cookie": _get_attach_cookie,
    "bpf_get_func_ip": _get_func_ip,
}
