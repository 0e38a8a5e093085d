"""A small ctypes bridge to the ``bpf(2)`` system call.

Only what bpfvm's differential tests need: loading a program (with its verifier log), running
it with ``BPF_PROG_TEST_RUN``, and creating/reading/writing maps. ``union bpf_attr`` is laid
out by hand with :mod:`struct` at the offsets of ``include/uapi/linux/bpf.h``; the attribute
block handed to the kernel is zero-padded to :data:`ATTR_SIZE` bytes, which the kernel accepts
whatever its own ``sizeof(union bpf_attr)`` (a larger block must merely have a zero tail, a
smaller one is zero-extended).
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import platform
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from types import TracebackType

from bpfvm.errors import BpfvmError

__all__ = [
    "ATTR_SIZE",
    "BpfCmd",
    "KernelUnavailable",
    "LoadResult",
    "LoadedProg",
    "ProgType",
    "TestRunResult",
    "btf_load",
    "kernel_available",
    "map_create",
    "map_create_attr",
    "map_create_btf",
    "map_delete",
    "map_freeze",
    "map_get_next_key",
    "map_lookup",
    "map_lookup_and_delete",
    "map_lookup_percpu",
    "map_peek",
    "map_push",
    "map_update",
    "possible_cpus",
    "prog_load",
    "prog_load_ex",
    "prog_test_run",
]

ATTR_SIZE = 168
"""Bytes of ``union bpf_attr`` passed to the kernel (the PROG_LOAD layout of Linux 6.18)."""

LOG_SIZE_MAX = (1 << 32) - 1 >> 2  # UINT_MAX >> 2, the verifier's limit on log_size

# bpf(2) syscall numbers by machine (``uname -m``).
_SYSCALL_NR = {"x86_64": 321, "aarch64": 280, "riscv64": 280}


class KernelUnavailable(BpfvmError):
    """The ``bpf()`` system call cannot be used here (wrong platform, no permission, ...)."""


class BpfCmd(IntEnum):
    """``enum bpf_cmd`` (the commands used here)."""

    MAP_CREATE = 0
    MAP_LOOKUP_ELEM = 1
    MAP_UPDATE_ELEM = 2
    MAP_DELETE_ELEM = 3
    MAP_GET_NEXT_KEY = 4
    PROG_LOAD = 5
    PROG_TEST_RUN = 10
    MAP_LOOKUP_AND_DELETE_ELEM = 21
    MAP_FREEZE = 22
    BTF_LOAD = 18
    OBJ_GET_INFO_BY_FD = 15


class ProgType(IntEnum):
    """``enum bpf_prog_type``."""

    UNSPEC = 0
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    CGROUP_SOCK = 9
    LWT_IN = 10
    LWT_OUT = 11
    LWT_XMIT = 12
    SOCK_OPS = 13
    SK_SKB = 14
    CGROUP_DEVICE = 15
    SK_MSG = 16
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    LWT_SEG6LOCAL = 19
    LIRC_MODE2 = 20
    SK_REUSEPORT = 21
    FLOW_DISSECTOR = 22
    CGROUP_SYSCTL = 23
    RAW_TRACEPOINT_WRITABLE = 24
    CGROUP_SOCKOPT = 25
    TRACING = 26
    STRUCT_OPS = 27
    EXT = 28
    LSM = 29
    SK_LOOKUP = 30
    SYSCALL = 31
    NETFILTER = 32


# --- the raw system call ---------------------------------------------------------------------

_syscall: tuple[Callable[..., int], int] | None = None  # (libc syscall(), bpf's number)


def _bpf(cmd: BpfCmd, attr: ctypes.Array[ctypes.c_char]) -> int:
    """Call ``bpf(cmd, attr, sizeof attr)``; return its result or raise :class:`OSError`."""
    global _syscall
    if _syscall is None:
        nr = _SYSCALL_NR.get(platform.machine())
        if nr is None or platform.system() != "Linux":
            raise KernelUnavailable(
                f"bpf() is not supported on {platform.system()}/{platform.machine()}"
            )
        libc_syscall = ctypes.CDLL(None, use_errno=True).syscall
        libc_syscall.restype = ctypes.c_long
        libc_syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
        _syscall = (libc_syscall, nr)
    fn, nr = _syscall
    ret = int(fn(nr, int(cmd), ctypes.addressof(attr), len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        if err == _errno.ENOSYS:
            raise KernelUnavailable("the kernel has no bpf() system call")
        raise OSError(err, f"bpf({cmd.name}): {os.strerror(err)}")
    return ret


def _attr() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(ATTR_SIZE)


def _buf(data: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(data, max(len(data), 1))


def _addr(buf: ctypes.Array[ctypes.c_char] | ctypes.Array[ctypes.c_int] | None) -> int:
    return 0 if buf is None else ctypes.addressof(buf)


# --- BPF_PROG_LOAD ---------------------------------------------------------------------------

# Offsets in the PROG_LOAD member of union bpf_attr.
_PL_PROG_TYPE = 0  # u32 prog_type, u32 insn_cnt, u64 insns, u64 license
_PL_LOG = 24  # u32 log_level, u32 log_size, u64 log_buf
_PL_PROG_FLAGS = 44  # u32
_PL_EXPECTED_ATTACH_TYPE = 68  # u32
_PL_FD_ARRAY = 120  # u64
_PL_LOG_TRUE_SIZE = 140  # u32 (output)

_FOOTER = re.compile(
    r"^(processed \d+ insns|verification time|stack depth|max_states_per_insn"
    r"|mark_read|peak_states)"
)
# Verifier state dumps and the instruction trace: "0: R1=ctx() R10=fp0", "1: (b7) r0 = 0 ; R0=0",
# "from 2 to 4: ...", "; source line", "frame1: R1=...", and (log_level 2) "func#0 @0",
# "mark_precise: ...", "last_idx 3 first_idx 0", "regs=1 stack=0 before 2: ...".
_STATE = re.compile(
    r"^(\d+: |from \d+ to \d+:|; |frame\d+: |[RF]P?\d+(_[rw]+)?=|func#\d+ @\d+"
    r"|mark_precise: |last_idx |regs=|parent didn't have regs|Live regs before insn:)"
)


@dataclass(frozen=True)
class LoadResult:
    """Outcome of a ``BPF_PROG_LOAD``: accepted or not, errno (0 when accepted) and the log."""

    accepted: bool
    errno: int
    log: str

    @property
    def error_line(self) -> str | None:
        """The verifier's last error line, or None when the program was accepted.

        That is the last non-empty log line that is not part of the closing statistics
        (``processed N insns ...``, ``verification time ...``, ``stack depth ...``) and not an
        instruction-trace or register-state dump line. An empty string when a rejection left
        no such line (for instance with ``log_level=0``).
        """
        if self.accepted:
            return None
        for line in reversed(self.log.splitlines()):
            line = line.strip()
            if line and not _FOOTER.match(line) and not _STATE.match(line):
                return line
        return ""


class LoadedProg:
    """A loaded program's file descriptor; close it (or use ``with``) when done."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> LoadedProg:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LoadedProg(fd={self.fd})"


def prog_load(
    insns: bytes,
    prog_type: int,
    *,
    license: str = "GPL",
    log_level: int = 1,
    log_size: int = 1 << 24,
    expected_attach_type: int = 0,
    prog_flags: int = 0,
    fd_array: list[int] | None = None,
) -> tuple[LoadedProg | None, LoadResult]:
    """Load ``insns`` (encoded ``struct bpf_insn`` slots) as a program of ``prog_type``.

    Returns the loaded program (None when rejected) and the verdict with the verifier log. A
    log that did not fit is retried with a bigger buffer (up to the kernel's limit), so the
    log is complete. A rejection is reported in the result, not raised.
    """
    if len(insns) % 8:
        raise ValueError(f"program size {len(insns)} is not a multiple of 8")
    code = _buf(insns)
    lic = ctypes.create_string_buffer(license.encode())
    fds = None
    if fd_array:
        fds = (ctypes.c_int * len(fd_array))(*fd_array)
    size = log_size if log_level else 0
    eagain_retries = 5  # the verifier may ask to retry (libbpf does the same)
    while True:
        log = ctypes.create_string_buffer(size) if size else None
        attr = _attr()
        struct.pack_into(
            "<IIQQ", attr, _PL_PROG_TYPE, prog_type, len(insns) // 8, _addr(code), _addr(lic)
        )
        struct.pack_into("<IIQ", attr, _PL_LOG, log_level if size else 0, size, _addr(log))
        struct.pack_into("<I", attr, _PL_PROG_FLAGS, prog_flags)
        struct.pack_into("<I", attr, _PL_EXPECTED_ATTACH_TYPE, expected_attach_type)
        struct.pack_into("<Q", attr, _PL_FD_ARRAY, _addr(fds))
        try:
            fd = _bpf(BpfCmd.PROG_LOAD, attr)
            err = 0
        except OSError as e:
            fd, err = -1, e.errno or 0
            if err == _errno.EAGAIN and eagain_retries:
                eagain_retries -= 1
                continue
        text = log.value.decode("utf-8", "replace") if log is not None else ""
        (true_size,) = struct.unpack_from("<I", attr, _PL_LOG_TRUE_SIZE)
        truncated = err == _errno.ENOSPC or true_size > size
        if log is not None and truncated and size < LOG_SIZE_MAX:
            if fd >= 0:
                os.close(fd)
            size = min(max(true_size, 2 * size), LOG_SIZE_MAX)
            continue
        if fd >= 0:
            return LoadedProg(fd), LoadResult(True, 0, text)
        return None, LoadResult(False, err, text)


_available: bool | None = None


def kernel_available() -> bool:
    """Whether ``bpf()`` can load a trivial socket filter here (the answer is cached)."""
    global _available
    if _available is None:
        trivial = struct.pack("<BBhiBBhi", 0xB7, 0, 0, 0, 0x95, 0, 0, 0)  # r0 = 0; exit
        try:
            prog, _ = prog_load(trivial, ProgType.SOCKET_FILTER, log_level=0)
        except (KernelUnavailable, OSError):
            prog = None
        _available = prog is not None
        if prog is not None:
            prog.close()
    return _available


# --- BPF_PROG_TEST_RUN -----------------------------------------------------------------------

# prog_fd, retval, data_size_in, data_size_out, data_in, data_out, repeat, duration,
# ctx_size_in, ctx_size_out, ctx_in, ctx_out, flags, cpu, batch_size
_TEST_RUN = struct.Struct("<IIIIQQIIIIQQIII")


@dataclass(frozen=True)
class TestRunResult:
    """What ``BPF_PROG_TEST_RUN`` reports."""

    __test__ = False  # not a pytest test class

    retval: int
    data_out: bytes
    ctx_out: bytes
    duration_ns: int


def prog_test_run(
    fd: int,
    data_in: bytes,
    *,
    ctx_in: bytes | None = None,
    repeat: int = 1,
    data_size_out: int | None = None,
    ctx_size_out: int = 0,
) -> TestRunResult:
    """Run the loaded program ``fd`` on ``data_in`` (and ``ctx_in``) with BPF_PROG_TEST_RUN.

    ``data_size_out`` defaults to room for the input plus 4 KiB (programs may grow packets);
    0 asks for no output data. Errors (including ENOSPC for a too-small output) raise OSError.
    """
    if data_size_out is None:
        data_size_out = len(data_in) + 4096
    din = _buf(data_in) if data_in else None
    dout = ctypes.create_string_buffer(data_size_out) if data_size_out else None
    cin = _buf(ctx_in) if ctx_in else None
    cout = ctypes.create_string_buffer(ctx_size_out) if ctx_size_out else None
    attr = _attr()
    _TEST_RUN.pack_into(
        attr, 0,
        fd, 0, len(data_in), data_size_out, _addr(din), _addr(dout),
        repeat, 0, len(ctx_in or b""), ctx_size_out, _addr(cin), _addr(cout),
        0, 0, 0,
    )  # fmt: skip
    _bpf(BpfCmd.PROG_TEST_RUN, attr)
    fields = _TEST_RUN.unpack_from(attr, 0)
    retval, out_size, duration, ctx_out_size = fields[1], fields[3], fields[7], fields[9]
    data = dout.raw[: min(out_size, data_size_out)] if dout is not None else b""
    ctx = cout.raw[: min(ctx_out_size, ctx_size_out)] if cout is not None else b""
    return TestRunResult(retval, data, ctx, duration)


# --- maps ------------------------------------------------------------------------------------


def map_create(
    map_type: int, key_size: int, value_size: int, max_entries: int, map_flags: int = 0
) -> int:
    """Create a map; return its file descriptor (the caller closes it)."""
    attr = _attr()
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, map_flags)
    return _bpf(BpfCmd.MAP_CREATE, attr)


_ELEM = struct.Struct("<IxxxxQQQ")  # map_fd, key, value, flags


def map_update(fd: int, key: bytes, value: bytes, flags: int = 0) -> None:
    """Set ``key`` to ``value`` in map ``fd`` (``flags``: BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2)."""
    k, v = _buf(key), _buf(value)
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, _addr(k), _addr(v), flags)
    _bpf(BpfCmd.MAP_UPDATE_ELEM, attr)


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes | None:
    """The value of ``key`` in map ``fd``, or None when there is no such element."""
    k, v = _buf(key), ctypes.create_string_buffer(max(value_size, 1))
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, _addr(k), _addr(v), 0)
    try:
        _bpf(BpfCmd.MAP_LOOKUP_ELEM, attr)
    except OSError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return v.raw[:value_size]


# Offsets in the MAP_CREATE member of union bpf_attr.
_MC_INNER_MAP_FD = 20  # u32, after map_type, key_size, value_size, max_entries, map_flags
_MC_MAP_NAME = 28  # char[16] (BPF_OBJ_NAME_LEN)
_MC_MAP_EXTRA = 64  # u64


def map_create_attr(
    map_type: int,
    key_size: int,
    value_size: int,
    max_entries: int,
    map_flags: int = 0,
    *,
    inner_map_fd: int = 0,
    map_extra: int = 0,
    map_name: str = "",
) -> int:
    """:func:`map_create` with the attributes map-in-map and bloom filters need.

    ``inner_map_fd`` is the template of an ``array_of_maps``/``hash_of_maps``, ``map_extra`` the
    bloom filter's number of hash functions, ``map_name`` at most 15 characters.
    """
    attr = _attr()
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, map_flags)
    struct.pack_into("<I", attr, _MC_INNER_MAP_FD, inner_map_fd)
    struct.pack_into("16s", attr, _MC_MAP_NAME, map_name.encode()[:15])
    struct.pack_into("<Q", attr, _MC_MAP_EXTRA, map_extra)
    return _bpf(BpfCmd.MAP_CREATE, attr)


def map_delete(fd: int, key: bytes) -> None:
    """Delete ``key`` from map ``fd`` (errors, ENOENT included, raise OSError)."""
    k = _buf(key)
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, _addr(k) if key else 0, 0, 0)
    _bpf(BpfCmd.MAP_DELETE_ELEM, attr)


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """The key after ``key`` (the first key when None) in map ``fd``; None at the end (ENOENT)."""
    k = _buf(key) if key is not None else None
    nxt = ctypes.create_string_buffer(max(key_size, 1))
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, _addr(k), _addr(nxt), 0)  # key, next_key share the slots
    try:
        _bpf(BpfCmd.MAP_GET_NEXT_KEY, attr)
    except OSError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return nxt.raw[:key_size]


def map_lookup_and_delete(fd: int, key: bytes | None, value_size: int, flags: int = 0) -> bytes:
    """Pop (queue/stack, ``key`` None) or look up and delete ``key``; ENOENT raises OSError."""
    k = _buf(key) if key else None
    v = ctypes.create_string_buffer(max(value_size, 1))
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, _addr(k), _addr(v), flags)
    _bpf(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, attr)
    return v.raw[:value_size]


def map_freeze(fd: int) -> None:
    """Make map ``fd`` read-only for the syscall side (``BPF_MAP_FREEZE``)."""
    attr = _attr()
    struct.pack_into("<I", attr, 0, fd)
    _bpf(BpfCmd.MAP_FREEZE, attr)


def possible_cpus() -> int:
    """``num_possible_cpus()``: the number of per-CPU slots of percpu map values."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def map_lookup_percpu(fd: int, key: bytes, value_size: int) -> list[bytes] | None:
    """The per-CPU values of ``key`` in a percpu map (one per possible CPU), or None."""
    stride = (value_size + 7) & ~7
    raw = map_lookup(fd, key, stride * possible_cpus())
    if raw is None:
        return None
    return [raw[i : i + value_size] for i in range(0, len(raw), stride)]


def map_push(fd: int, value: bytes, flags: int = 0) -> None:
    """Push ``value`` into a key-less map (queue, stack, bloom filter): an update, NULL key."""
    v = _buf(value)
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, 0, _addr(v), flags)
    _bpf(BpfCmd.MAP_UPDATE_ELEM, attr)


def map_peek(fd: int, value_size: int, value: bytes | None = None) -> bytes | None:
    """Look up a key-less map (NULL key): a queue/stack's next value, None when empty (ENOENT).

    For a bloom filter, ``value`` is the value to test; the result is ``value`` when it may be
    in the filter and None when it is certainly not.
    """
    v = _buf(value) if value is not None else ctypes.create_string_buffer(max(value_size, 1))
    attr = _attr()
    _ELEM.pack_into(attr, 0, fd, 0, _addr(v), 0)
    try:
        _bpf(BpfCmd.MAP_LOOKUP_ELEM, attr)
    except OSError as e:
        if e.errno == _errno.ENOENT:
            return None
        raise
    return v.raw[:value_size]


# --- BTF and the full PROG_LOAD attribute set (bpfvm.kernel.loader) -------------------------

_PL_KERN_VERSION = 40  # u32 kern_version, u32 prog_flags, char prog_name[16]
_PL_BTF = 72  # u32 prog_btf_fd, func_info_rec_size, u64 func_info, u32 func_info_cnt,
# u32 line_info_rec_size, u64 line_info, u32 line_info_cnt, u32 attach_btf_id
_PL_BTF_FMT = "<IIQIIQII"
_MC_BTF = 48  # u32 btf_fd, btf_key_type_id, btf_value_type_id


def btf_load(data: bytes, *, log_size: int = 1 << 20) -> tuple[int, int, str]:
    """``BPF_BTF_LOAD`` of a raw BTF blob: (fd or -1, errno, the kernel's BTF log).

    The log is requested (level 1) only when the blob is refused, by loading it a second time,
    as libbpf does. The caller closes the fd.
    """
    blob = _buf(data)
    log = None
    for level in (0, 1):
        log = ctypes.create_string_buffer(log_size) if level else None
        attr = _attr()
        struct.pack_into("<QQIII", attr, 0, _addr(blob), _addr(log), len(data),
                         log_size if level else 0, level)  # fmt: skip
        try:
            return _bpf(BpfCmd.BTF_LOAD, attr), 0, ""
        except OSError as e:
            err = e.errno or 0
    text = log.value.decode("utf-8", "replace") if log is not None else ""
    return -1, err, text


def map_create_btf(
    map_type: int,
    key_size: int,
    value_size: int,
    max_entries: int,
    map_flags: int = 0,
    *,
    inner_map_fd: int = 0,
    map_extra: int = 0,
    map_name: str = "",
    btf_fd: int = 0,
    btf_key_type_id: int = 0,
    btf_value_type_id: int = 0,
) -> int:
    """:func:`map_create_attr` plus the map's BTF (``btf_fd`` and the key/value type ids)."""
    attr = _attr()
    struct.pack_into("<IIIII", attr, 0, map_type, key_size, value_size, max_entries, map_flags)
    struct.pack_into("<I", attr, _MC_INNER_MAP_FD, inner_map_fd)
    struct.pack_into("16s", attr, _MC_MAP_NAME, map_name.encode()[:15])
    struct.pack_into("<III", attr, _MC_BTF, btf_fd, btf_key_type_id, btf_value_type_id)
    struct.pack_into("<Q", attr, _MC_MAP_EXTRA, map_extra)
    return _bpf(BpfCmd.MAP_CREATE, attr)


def prog_load_ex(
    insns: bytes,
    prog_type: int,
    *,
    license: str = "GPL",
    log_level: int = 1,
    log_size: int = 1 << 24,
    grow_log: bool = True,
    expected_attach_type: int = 0,
    prog_flags: int = 0,
    prog_name: str = "",
    kern_version: int = 0,
    prog_btf_fd: int = 0,
    func_info: bytes = b"",
    line_info: bytes = b"",
    attach_btf_id: int = 0,
) -> tuple[LoadedProg | None, LoadResult]:
    """:func:`prog_load` with the BTF attributes libbpf passes.

    ``func_info`` and ``line_info`` are packed ``struct bpf_func_info`` (8 bytes) and
    ``struct bpf_line_info`` (16 bytes) records, ``insn_off`` in instruction slots. With
    ``grow_log`` false a log that did not fit is not retried: the kernel keeps its tail and the
    load fails with ENOSPC (useful for huge level-2 logs).
    """
    if len(insns) % 8 or len(func_info) % 8 or len(line_info) % 16:
        raise ValueError("insns, func_info or line_info has a partial record")
    code, lic = _buf(insns), ctypes.create_string_buffer(license.encode())
    finfo, linfo = _buf(func_info), _buf(line_info)
    size = log_size if log_level else 0
    eagain_retries = 5
    while True:
        log = ctypes.create_string_buffer(size) if size else None
        attr = _attr()
        struct.pack_into(
            "<IIQQ", attr, _PL_PROG_TYPE, prog_type, len(insns) // 8, _addr(code), _addr(lic)
        )
        struct.pack_into("<IIQ", attr, _PL_LOG, log_level if size else 0, size, _addr(log))
        struct.pack_into("<II16s", attr, _PL_KERN_VERSION, kern_version, prog_flags,
                         prog_name.encode()[:15])  # fmt: skip
        struct.pack_into("<I", attr, _PL_EXPECTED_ATTACH_TYPE, expected_attach_type)
        struct.pack_into(
            _PL_BTF_FMT, attr, _PL_BTF, prog_btf_fd,
            8 if func_info else 0, _addr(finfo) if func_info else 0, len(func_info) // 8,
            16 if line_info else 0, _addr(linfo) if line_info else 0, len(line_info) // 16,
            attach_btf_id,
        )  # fmt: skip
        try:
            fd, err = _bpf(BpfCmd.PROG_LOAD, attr), 0
        except OSError as e:
            fd, err = -1, e.errno or 0
            if err == _errno.EAGAIN and eagain_retries:
                eagain_retries -= 1
                continue
        text = log.value.decode("utf-8", "replace") if log is not None else ""
        (true_size,) = struct.unpack_from("<I", attr, _PL_LOG_TRUE_SIZE)
        truncated = err == _errno.ENOSPC or true_size > size
        if grow_log and log is not None and truncated and size < LOG_SIZE_MAX:
            if fd >= 0:
                os.close(fd)
            size = min(max(true_size, 2 * size), LOG_SIZE_MAX)
            continue
        if fd >= 0:
            return LoadedProg(fd), LoadResult(True, 0, text)
        return None, LoadResult(False, err, text)


# --- BPF_OBJ_GET_INFO_BY_FD ------------------------------------------------------------------

# struct bpf_prog_info: the offsets of the fields read here.
_PI_XLATED_LEN = 20  # __u32 xlated_prog_len
_PI_XLATED_INSNS = 32  # __aligned_u64 xlated_prog_insns
_PI_SIZE = 40  # a prefix holding both (the kernel zero-fills the rest)


def _prog_info(fd: int, info: ctypes.Array[ctypes.c_char]) -> None:
    attr = _attr()
    struct.pack_into("<IIQ", attr, 0, fd, len(info), _addr(info))
    _bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr)


def prog_xlated_insns(fd: int) -> bytes:
    """The loaded program ``fd`` as the kernel rewrote it (``bpf_prog_info.xlated_prog_insns``,
    what ``bpftool prog dump xlated`` prints): encoded ``struct bpf_insn`` slots. Needs
    CAP_SYS_ADMIN-like rights (the kernel reports an empty program otherwise); errors raise
    OSError."""
    info = ctypes.create_string_buffer(_PI_SIZE)
    _prog_info(fd, info)
    (size,) = struct.unpack_from("<I", info, _PI_XLATED_LEN)
    if not size:
        return b""
    insns = ctypes.create_string_buffer(size)
    info = ctypes.create_string_buffer(_PI_SIZE)
    struct.pack_into("<I", info, _PI_XLATED_LEN, size)
    struct.pack_into("<Q", info, _PI_XLATED_INSNS, _addr(insns))
    _prog_info(fd, info)
    return insns.raw[:size]
