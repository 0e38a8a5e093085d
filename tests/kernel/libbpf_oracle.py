"""The kernel as an oracle, through libbpf: load clang-built objects and run them for real.

A ctypes wrapper around ``libbpf.so.1`` (libbpf 1.1 ABI), so tests need no compiler and no
bpftool: :class:`BpfObject` opens and loads an ELF object exactly as a libbpf application would
(maps created, global data and static map initialisers applied, CO-RE relocated against the
running kernel), then hands out programs and maps by name. :meth:`BpfObject.test_run` drives
``BPF_PROG_TEST_RUN`` through ``bpf_prog_test_run_opts``; :class:`BpfMap` reads and writes
maps with libbpf's low-level ``bpf_map_*_elem`` calls; :meth:`BpfMap.ringbuf_records` drains a
ring buffer with ``ring_buffer__new`` + ``ring_buffer__consume``.

Determinism: the program runs with the calling thread pinned to CPU 0 (the previous affinity is
restored afterwards), so per-CPU maps are written in slot 0 only. Per-CPU values follow libbpf's
convention: ``round_up(value_size, 8)`` bytes per possible CPU.

Test-run quirks handled per program type (``kernel/bpf/`` and ``net/bpf/test_run.c``):

* skb and XDP programs get ``data_in``/``data_out`` (and ``ctx_in``/``ctx_out`` when a ctx is
  given); ``data_out`` of a socket filter starts with a zeroed Ethernet header, because the
  kernel pushes ``ETH_HLEN`` bytes back in front of the network header it ran on.
* ``BPF_PROG_TYPE_SYSCALL`` and ``BPF_PROG_TYPE_RAW_TRACEPOINT`` take only ``ctx_in`` and refuse
  a non-zero ``repeat``; a syscall program's writes to its ctx are copied back into the
  ``ctx_in`` buffer, which :meth:`BpfObject.test_run` reports as ``ctx_out``.

:class:`OracleUnavailable` is raised when libbpf cannot be loaded or ``bpf()`` is refused (not
root, seccomp, no BPF support), so callers can ``pytest.skip`` cleanly. libbpf's own messages
(including the verifier log) are captured silently and attached to :class:`OracleError` when a
load fails; pass ``debug=True`` to echo them to stderr as they come.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as _errno
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = [
    "BpfMap",
    "BpfObject",
    "MapType",
    "OracleError",
    "OracleUnavailable",
    "ProgType",
    "TestRunResult",
    "libbpf",
    "num_possible_cpus",
    "on_cpu",
    "oracle_available",
]

LIBBPF_SONAME = "libbpf.so.1"
DATA_OUT_SIZE = 1 << 16  # room for programs that grow the packet (adjust_head/tail)
CTX_OUT_SIZE = 4096  # larger than any ctx struct (__sk_buff, xdp_md)
LOG_TAIL_LINES = 60  # of libbpf's log shown in an OracleError (all of it is in .log)


class OracleUnavailable(Exception):
    """libbpf or the ``bpf()`` system call cannot be used on this machine."""


class OracleError(Exception):
    """libbpf or the kernel refused an operation (the message carries libbpf's log)."""

    def __init__(self, message: str, err: int = 0, log: str = "") -> None:
        super().__init__(f"{message}: {os.strerror(err)}" if err else message)
        self.errno = err
        self.log = log

    def __str__(self) -> str:
        text = super().__str__()
        if not self.log:
            return text
        lines = self.log.splitlines()
        cut = f"[{len(lines) - LOG_TAIL_LINES} lines cut]\n" if len(lines) > LOG_TAIL_LINES else ""
        return f"{text}\n--- libbpf log (tail) ---\n{cut}" + "\n".join(lines[-LOG_TAIL_LINES:])


class ProgType:
    """``enum bpf_prog_type`` values the oracle treats specially."""

    SOCKET_FILTER = 1
    SCHED_CLS = 3
    SCHED_ACT = 4
    XDP = 6
    RAW_TRACEPOINT = 17
    SYSCALL = 31


class MapType:
    """``enum bpf_map_type`` values the oracle treats specially."""

    HASH = 1
    ARRAY = 2
    PROG_ARRAY = 3
    PERCPU_HASH = 5
    PERCPU_ARRAY = 6
    LRU_PERCPU_HASH = 10
    LPM_TRIE = 11
    ARRAY_OF_MAPS = 12
    HASH_OF_MAPS = 13
    PERCPU_CGROUP_STORAGE = 21
    QUEUE = 22
    STACK = 23
    RINGBUF = 27

    PERCPU = frozenset({PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE})
    ARRAYS = frozenset({ARRAY, PERCPU_ARRAY, PROG_ARRAY, ARRAY_OF_MAPS})
    VALUELESS_KEY = frozenset({QUEUE, STACK})


class _TestRunOpts(ctypes.Structure):
    """``struct bpf_test_run_opts`` of libbpf 1.1 (``bpf.h``), 80 bytes on LP64."""

    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_SAMPLE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)

_P = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "libbpf_set_print": (_P, [_PRINT_FN]),
    "libbpf_num_possible_cpus": (ctypes.c_int, []),
    "libbpf_probe_bpf_prog_type": (ctypes.c_int, [ctypes.c_int, _P]),
    "bpf_object__open_file": (_P, [ctypes.c_char_p, _P]),
    "bpf_object__load": (ctypes.c_int, [_P]),
    "bpf_object__close": (None, [_P]),
    "bpf_object__find_program_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_object__next_program": (_P, [_P, _P]),
    "bpf_object__find_map_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_object__next_map": (_P, [_P, _P]),
    "bpf_program__name": (ctypes.c_char_p, [_P]),
    "bpf_program__fd": (ctypes.c_int, [_P]),
    "bpf_program__type": (ctypes.c_int, [_P]),
    "bpf_program__insns": (_P, [_P]),
    "bpf_program__insn_cnt": (ctypes.c_size_t, [_P]),
    "bpf_map__name": (ctypes.c_char_p, [_P]),
    "bpf_map__fd": (ctypes.c_int, [_P]),
    "bpf_map__type": (ctypes.c_int, [_P]),
    "bpf_map__key_size": (ctypes.c_uint32, [_P]),
    "bpf_map__value_size": (ctypes.c_uint32, [_P]),
    "bpf_map__max_entries": (ctypes.c_uint32, [_P]),
    "bpf_map__set_initial_value": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "bpf_map_update_elem": (ctypes.c_int, [ctypes.c_int, _P, _P, ctypes.c_uint64]),
    "bpf_map_lookup_elem": (ctypes.c_int, [ctypes.c_int, _P, _P]),
    "bpf_map_lookup_and_delete_elem": (ctypes.c_int, [ctypes.c_int, _P, _P]),
    "bpf_map_delete_elem": (ctypes.c_int, [ctypes.c_int, _P]),
    "bpf_map_get_next_key": (ctypes.c_int, [ctypes.c_int, _P, _P]),
    "bpf_prog_test_run_opts": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(_TestRunOpts)]),
    "ring_buffer__new": (_P, [ctypes.c_int, _SAMPLE_FN, _P, _P]),
    "ring_buffer__consume": (ctypes.c_int, [_P]),
    "ring_buffer__free": (None, [_P]),
}


class _Log:
    """Collects libbpf's printf-style messages (formatted with the C library's vsnprintf)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.echo = False
        libc = ctypes.CDLL(None)
        self._vsnprintf = libc.vsnprintf
        self._vsnprintf.restype = ctypes.c_int
        self._vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _P]
        self.callback = _PRINT_FN(self._print)

    def _print(self, level: int, fmt: bytes | None, args: int | None) -> int:
        # va_list is an array type on x86-64 and a >16-byte struct on arm64: either way the
        # callee receives a pointer, which vsnprintf accepts as its own va_list argument.
        buf = ctypes.create_string_buffer(8192)
        n = int(self._vsnprintf(buf, len(buf), fmt, args))
        text = buf.value.decode(errors="replace")
        self.lines.append(text)
        if self.echo:
            sys.stderr.write(text)
        return max(n, 0)

    def take(self) -> str:
        text, self.lines = "".join(self.lines), []
        return text


@dataclass
class _Lib:
    cdll: ctypes.CDLL
    log: _Log
    ncpus: int


_LIB: list[_Lib] = []  # loaded once per process: libbpf's print callback is global anyway


def libbpf() -> _Lib:
    """libbpf.so.1 with prototypes set; :class:`OracleUnavailable` if it cannot be used."""
    if _LIB:
        return _LIB[0]
    try:
        cdll = ctypes.CDLL(LIBBPF_SONAME, use_errno=True)
    except OSError as exc:
        raise OracleUnavailable(f"cannot load {LIBBPF_SONAME}: {exc}") from exc
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError as exc:
            raise OracleUnavailable(f"{LIBBPF_SONAME} lacks {name} (need libbpf >= 1.0)") from exc
        fn.restype = restype
        fn.argtypes = argtypes
    log = _Log()
    cdll.libbpf_set_print(log.callback)
    ncpus = cdll.libbpf_num_possible_cpus()
    if ncpus <= 0:
        raise OracleUnavailable(f"libbpf_num_possible_cpus failed: {os.strerror(-ncpus)}")
    # A socket filter is the least privileged program type: if even it cannot be loaded, bpf()
    # is refused here (EPERM without CAP_BPF, ENOSYS without BPF, seccomp, ...).
    probe = cdll.libbpf_probe_bpf_prog_type(ProgType.SOCKET_FILTER, None)
    log.take()
    if probe != 1:
        why = os.strerror(-probe) if probe < 0 else "refused (not root? no CAP_BPF?)"
        raise OracleUnavailable(f"bpf() cannot load a trivial socket filter here: {why}")
    _LIB.append(_Lib(cdll, log, ncpus))
    return _LIB[0]


def oracle_available() -> bool:
    """True when libbpf loads and the kernel accepts BPF programs from this process."""
    try:
        libbpf()
    except OracleUnavailable:
        return False
    return True


def num_possible_cpus() -> int:
    """What libbpf sizes per-CPU values by (``/sys/devices/system/cpu/possible``)."""
    return libbpf().ncpus


@contextlib.contextmanager
def on_cpu(cpu: int = 0) -> Iterator[None]:
    """Run the body with the calling thread pinned to ``cpu``; restore the affinity after."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def _check(ret: int, what: str) -> int:
    """libbpf 1.x returns ``-errno`` on failure."""
    if ret < 0:
        raise OracleError(what, -ret)
    return ret


def _buf(data: bytes | None, size: int = 0) -> ctypes.Array[ctypes.c_char] | None:
    if data is None and not size:
        return None
    return ctypes.create_string_buffer(data or b"", max(size, len(data or b"")) or 1)


@dataclass(frozen=True)
class TestRunResult:
    """What ``BPF_PROG_TEST_RUN`` reported."""

    retval: int
    data_out: bytes | None
    ctx_out: bytes | None
    duration_ns: int


class BpfMap:
    """One map of a loaded :class:`BpfObject` (valid until the object is closed)."""

    def __init__(self, lib: _Lib, ptr: int) -> None:
        c = lib.cdll
        self._lib = lib
        self.name: str = c.bpf_map__name(ptr).decode()
        self.fd: int = c.bpf_map__fd(ptr)
        self.type: int = c.bpf_map__type(ptr)
        self.key_size: int = c.bpf_map__key_size(ptr)
        self.value_size: int = c.bpf_map__value_size(ptr)
        self.max_entries: int = c.bpf_map__max_entries(ptr)

    def __repr__(self) -> str:
        return f"BpfMap({self.name!r}, type={self.type}, fd={self.fd})"

    @property
    def percpu(self) -> bool:
        return self.type in MapType.PERCPU

    @property
    def slot_size(self) -> int:
        """Bytes per CPU in a per-CPU value buffer: the value size rounded up to 8."""
        return (self.value_size + 7) // 8 * 8

    def _key(self, key: bytes | None) -> ctypes.Array[ctypes.c_char] | None:
        if self.type in MapType.VALUELESS_KEY:
            return None
        if key is None or len(key) != self.key_size:
            raise ValueError(f"map {self.name}: key must be {self.key_size} bytes")
        return _buf(key)

    def _value_buffer(self) -> ctypes.Array[ctypes.c_char]:
        size = self.slot_size * self._lib.ncpus if self.percpu else self.value_size
        return ctypes.create_string_buffer(size)

    def _split(self, raw: bytes) -> bytes | list[bytes]:
        if not self.percpu:
            return raw
        step = self.slot_size
        return [raw[i * step : i * step + self.value_size] for i in range(self._lib.ncpus)]

    def lookup(self, key: bytes | None) -> bytes | list[bytes] | None:
        """The value (a list with one value per possible CPU for per-CPU maps), None if absent.

        For a queue or stack map (``key`` None) this peeks at the next element.
        """
        value = self._value_buffer()
        ret = self._lib.cdll.bpf_map_lookup_elem(self.fd, self._key(key), value)
        if ret == -_errno.ENOENT:
            return None
        _check(ret, f"lookup in map {self.name}")
        return self._split(value.raw)

    def update(self, key: bytes | None, value: bytes | list[bytes], flags: int = 0) -> None:
        """Write one element. A per-CPU map given a single value gets it on every CPU."""
        if self.percpu:
            values = value if isinstance(value, list) else [value] * self._lib.ncpus
            if len(values) != self._lib.ncpus:
                raise ValueError(f"map {self.name}: need {self._lib.ncpus} per-CPU values")
            raw = b"".join(self._sized(v).ljust(self.slot_size, b"\0") for v in values)
        else:
            if isinstance(value, list):
                raise ValueError(f"map {self.name} is not per-CPU")
            raw = self._sized(value)
        ret = self._lib.cdll.bpf_map_update_elem(self.fd, self._key(key), _buf(raw), flags)
        _check(ret, f"update of map {self.name}")

    def _sized(self, value: bytes) -> bytes:
        if len(value) != self.value_size:
            raise ValueError(f"map {self.name}: value must be {self.value_size} bytes")
        return value

    def delete(self, key: bytes) -> None:
        _check(self._lib.cdll.bpf_map_delete_elem(self.fd, self._key(key)), f"delete {self.name}")

    def pop(self) -> bytes | None:
        """Take the next element of a queue or stack map (None when empty)."""
        value = self._value_buffer()
        ret = self._lib.cdll.bpf_map_lookup_and_delete_elem(self.fd, None, value)
        if ret == -_errno.ENOENT:
            return None
        _check(ret, f"pop from map {self.name}")
        return value.raw

    def push(self, value: bytes) -> None:
        """Append to a queue or stack map."""
        self.update(None, value)

    def keys(self) -> Iterator[bytes]:
        """Every key, in the kernel's ``BPF_MAP_GET_NEXT_KEY`` order."""
        if self.type in MapType.VALUELESS_KEY:
            raise OracleError(f"map {self.name} has no keys (queue/stack)")
        prev: ctypes.Array[ctypes.c_char] | None = None
        while True:
            nxt = ctypes.create_string_buffer(self.key_size)
            ret = self._lib.cdll.bpf_map_get_next_key(self.fd, prev, nxt)
            if ret == -_errno.ENOENT:
                return
            _check(ret, f"get_next_key in map {self.name}")
            yield nxt.raw
            prev = nxt

    def items(self) -> dict[bytes, bytes | list[bytes]]:
        """Every element. Queue and stack maps are drained: ``{b"": [values in pop order]}``."""
        if self.type in MapType.VALUELESS_KEY:
            popped = []
            while (value := self.pop()) is not None:
                popped.append(value)
            return {b"": popped}
        out: dict[bytes, bytes | list[bytes]] = {}
        for key in list(self.keys()):
            found = self.lookup(key)
            if found is not None:
                out[key] = found
        return out

    def ringbuf_records(self) -> list[bytes]:
        """Drain a ``BPF_MAP_TYPE_RINGBUF``: every submitted record not yet consumed, in order."""
        if self.type != MapType.RINGBUF:
            raise OracleError(f"map {self.name} is not a ring buffer")
        records: list[bytes] = []

        def sample(_ctx: int | None, data: int, size: int) -> int:
            records.append(ctypes.string_at(data, size))
            return 0

        callback = _SAMPLE_FN(sample)
        c = self._lib.cdll
        rb = c.ring_buffer__new(self.fd, callback, None, None)
        if not rb:
            raise OracleError(f"ring_buffer__new({self.name})", ctypes.get_errno())
        try:
            _check(c.ring_buffer__consume(rb), f"ring_buffer__consume({self.name})")
        finally:
            c.ring_buffer__free(rb)
        return records


class BpfObject:
    """An ELF object opened and loaded by libbpf; a context manager that closes it."""

    def __init__(
        self,
        path: str | Path,
        *,
        initial_values: Mapping[str, bytes] | None = None,
        debug: bool = False,
    ) -> None:
        """Open and load ``path``.

        ``initial_values`` replaces the contents of global-data maps before load, by map name
        (``".rodata"``, ``".data"``, ``".bss"``...), the way a skeleton sets ``const volatile``
        configuration; omit it to keep the object's defaults.
        """
        lib = libbpf()
        self._lib = lib
        self.path = Path(path)
        lib.log.echo = debug
        lib.log.take()
        obj = lib.cdll.bpf_object__open_file(str(self.path).encode(), None)
        if not obj:
            err = ctypes.get_errno()
            raise OracleError(f"bpf_object__open_file({self.path})", err, lib.log.take())
        self._obj: int | None = obj
        try:
            for name, value in (initial_values or {}).items():
                ptr = self._map_ptr(name)
                ret = lib.cdll.bpf_map__set_initial_value(ptr, value, len(value))
                _check(ret, f"bpf_map__set_initial_value({name})")
            ret = lib.cdll.bpf_object__load(obj)
            if ret < 0:
                log = lib.log.take()
                if -ret == _errno.EPERM:
                    raise OracleUnavailable(f"bpf_object__load({self.path}): {os.strerror(-ret)}")
                raise OracleError(f"bpf_object__load({self.path})", -ret, log)
        except BaseException:
            self.close()
            raise
        self.load_log = lib.log.take()

    def __enter__(self) -> BpfObject:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Unload: closes every program and map fd the object holds (idempotent)."""
        if self._obj:
            self._lib.cdll.bpf_object__close(self._obj)
            self._obj = None

    @property
    def _handle(self) -> int:
        if not self._obj:
            raise OracleError(f"{self.path}: object is closed")
        return self._obj

    def _prog_ptr(self, name: str) -> int:
        ptr = self._lib.cdll.bpf_object__find_program_by_name(self._handle, name.encode())
        if not ptr:
            raise KeyError(f"{self.path}: no program {name!r} (have {self.program_names()})")
        return int(ptr)

    def _map_ptr(self, name: str) -> int:
        ptr = self._lib.cdll.bpf_object__find_map_by_name(self._handle, name.encode())
        if not ptr:
            raise KeyError(f"{self.path}: no map {name!r} (have {self.map_names()})")
        return int(ptr)

    def program_names(self) -> list[str]:
        names, ptr = [], self._lib.cdll.bpf_object__next_program(self._handle, None)
        while ptr:
            names.append(self._lib.cdll.bpf_program__name(ptr).decode())
            ptr = self._lib.cdll.bpf_object__next_program(self._handle, ptr)
        return names

    def map_names(self) -> list[str]:
        """libbpf's names: global-data maps appear as e.g. ``"global_c.bss"``."""
        names, ptr = [], self._lib.cdll.bpf_object__next_map(self._handle, None)
        while ptr:
            names.append(self._lib.cdll.bpf_map__name(ptr).decode())
            ptr = self._lib.cdll.bpf_object__next_map(self._handle, ptr)
        return names

    def maps(self) -> list[BpfMap]:
        return [self.map(name) for name in self.map_names()]

    def program_fd(self, name: str) -> int:
        return int(self._lib.cdll.bpf_program__fd(self._prog_ptr(name)))

    def program_type(self, name: str) -> int:
        return int(self._lib.cdll.bpf_program__type(self._prog_ptr(name)))

    def program_insns(self, name: str) -> bytes:
        """The program's instructions as libbpf loaded them (relocated, map fds in imm)."""
        prog = self._prog_ptr(name)
        count = int(self._lib.cdll.bpf_program__insn_cnt(prog))
        ptr = self._lib.cdll.bpf_program__insns(prog)
        return ctypes.string_at(ptr, count * 8) if ptr else b""

    def map(self, name: str) -> BpfMap:
        """A map by its C name, or ``".bss"``/``".data"``/``".rodata"``/``".rodata.str1.1"``."""
        return BpfMap(self._lib, self._map_ptr(name))

    def test_run(
        self,
        program: str,
        *,
        data: bytes | None = None,
        ctx: bytes | None = None,
        repeat: int = 1,
        cpu: int = 0,
    ) -> TestRunResult:
        """Run ``program`` once (or ``repeat`` times) with ``BPF_PROG_TEST_RUN`` on ``cpu``."""
        fd = self.program_fd(program)
        ptype = self.program_type(program)
        if ptype in (ProgType.SYSCALL, ProgType.RAW_TRACEPOINT):
            if data is not None:
                raise OracleError(f"{program}: this program type takes a ctx, not data")
            return prog_test_run(
                fd,
                ctx=ctx,
                repeat=0,
                cpu=cpu,
                ctx_writeback=True,
                want_ctx_out=ptype == ProgType.SYSCALL,
            )
        return prog_test_run(fd, data=data, ctx=ctx, repeat=repeat, cpu=cpu)


def prog_test_run(
    prog_fd: int,
    *,
    data: bytes | None = None,
    ctx: bytes | None = None,
    repeat: int = 1,
    cpu: int = 0,
    ctx_writeback: bool = False,
    want_ctx_out: bool = True,
) -> TestRunResult:
    """``bpf_prog_test_run_opts`` on the calling thread pinned to ``cpu``.

    Normal mode passes ``data_out`` when ``data`` is given and ``ctx_out`` when ``ctx`` is.
    ``ctx_writeback`` (syscall and raw_tp programs) passes ``ctx_in`` alone and, if
    ``want_ctx_out``, reports the ``ctx_in`` buffer after the run, which a syscall program may
    have written to.
    """
    lib = libbpf()
    opts = _TestRunOpts(sz=ctypes.sizeof(_TestRunOpts), repeat=repeat)
    data_in = _buf(data)
    data_out = _buf(None, DATA_OUT_SIZE) if data is not None else None
    ctx_in = _buf(ctx)
    ctx_out = _buf(None, CTX_OUT_SIZE) if ctx is not None and not ctx_writeback else None
    if data_in is not None and data is not None:
        opts.data_in = ctypes.addressof(data_in)
        opts.data_size_in = len(data)
    if data_out is not None:
        opts.data_out = ctypes.addressof(data_out)
        opts.data_size_out = len(data_out)
    if ctx_in is not None and ctx is not None:
        opts.ctx_in = ctypes.addressof(ctx_in)
        opts.ctx_size_in = len(ctx)
    if ctx_out is not None:
        opts.ctx_out = ctypes.addressof(ctx_out)
        opts.ctx_size_out = len(ctx_out)
    with on_cpu(cpu):
        ret = lib.cdll.bpf_prog_test_run_opts(prog_fd, ctypes.byref(opts))
    if ret < 0:
        raise OracleError("bpf_prog_test_run_opts", -ret)
    out_ctx: bytes | None = None
    if ctx_out is not None:
        out_ctx = ctx_out.raw[: opts.ctx_size_out]
    elif ctx_writeback and want_ctx_out and ctx_in is not None and ctx is not None:
        out_ctx = ctx_in.raw[: len(ctx)]
    return TestRunResult(
        retval=opts.retval,
        data_out=data_out.raw[: opts.data_size_out] if data_out is not None else None,
        ctx_out=out_ctx,
        duration_ns=opts.duration,
    )
