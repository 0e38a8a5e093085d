"""Loading a :class:`~bpfvm.program.Program` into the running kernel, the way libbpf would.

:func:`load_program` is the kernel's side of every verifier comparison (and of a future
``bpfvm verify --kernel``): it creates the program's maps (global data with its initial value,
``.rodata``/``.kconfig`` frozen, maps with BTF key/value types when the object has BTF), loads
the object's BTF (``BPF_BTF_LOAD``, DATASECs finalised as libbpf's ``btf_fixup_datasec`` does),
patches the pseudo ``ld_imm64`` map references to file descriptors, passes ``func_info`` and
``line_info`` (so the kernel verifies global functions on their own, as it does for a libbpf
load), finds ``attach_btf_id`` in ``/sys/kernel/btf/vmlinux`` for tracing programs, and asks
``BPF_PROG_LOAD`` for a verdict. Every descriptor it opened is closed before it returns.

A :class:`Program` does not say everything the object file knows: the ``.BTF.ext`` records and
the ELF symbols that give DATASEC sizes and variable offsets. Callers holding the object pass
them as :class:`ObjectExtras`; without them a program is loaded with its BTF as it is (and
without it, as libbpf does, when the kernel refuses the BTF).

The **error line** (:func:`error_line`) of a rejection is the verifier's last message: the last
non-empty log line that is neither part of the closing statistics (``processed N insns ...``,
``verification time ...``, ``stack depth ...``) nor an instruction-trace or register-state line
(``12: (bf) r1 = r6``, ``12: R1=ctx()``, ``from 3 to 7: ...``, ``; source text``,
``frame1: ...``, ``mark_precise: ...``, ``caller:``/``callee:`` dumps, ...). With ``log_level=1``
that is the line printed just before the ``processed N insns`` trailer, or the log's last
line when verification stopped before the main pass (CFG, BTF, argument checks). A message the
kernel printed without a newline runs into the trailer (``expected prog array map for tail
callprocessed 3 insns (limit 1000000) ...``): the error line is then the text before
``processed``; one printed at the top of the main loop may run into the previous instruction's
line (``2: (55) if r0 != 0x0 goto pc-2 BPF program is too large. Processed 1000001 insn``):
the error line is then the message alone. ``cur state:``/``old state:`` dumps after
``infinite loop detected at insn N`` are state lines.
"""

from __future__ import annotations

import errno as _errno
import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bpfvm.btf import Btf, BtfExt, BtfKind
from bpfvm.errors import BpfvmError
from bpfvm.isa.codec import encode
from bpfvm.isa.insn import LD_IMM64_CODE, Insn
from bpfvm.kernel import syscall as sc
from bpfvm.program.model import BPF_F_RDONLY_PROG, MapSpec, Program
from bpfvm.program.uapi import AttachType, MapType, ProgType

__all__ = [
    "KernelVerdict",
    "ObjectExtras",
    "error_line",
    "func_info_records",
    "load_program",
    "processed_insns",
]

BPF_F_SLEEPABLE = 1 << 4
DEFAULT_LOG_SIZE = 16 << 20
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE = 1, 2

_TRAILER = re.compile(
    r"^(processed \d+ insns|verification time |stack depth |max_states_per_insn |mark_read )"
)
_TRACE = re.compile(
    r"^(\d+: |\d+:[RF]|from \d+ to \d+|; |frame\d+: |[RF]P?\d+(_[rw]+)?=|func#\d+ @\d+"
    r"|mark_precise: |last_idx |regs=|parent didn't have regs|Live regs before insn:"
    r"|caller:$|callee:$|returning from callee:$|to caller at \d+:$|propagating |\.\.\.$"
    r"|Validating \S+ func#\d+\.\.\.$|Func#\d+ \('.*'\) is (global|safe)|(cur|old) state: "
    r"|SCC |\(\d+\) (frame|live) |stack use/def )"
)
# Messages printed at the top of the main loop, which may run into the previous instruction's
# line (the kernel removed its newline to append the register state).
_LOOP_TOP = re.compile(
    r"(BPF program is too large\. Processed \d+ insn|infinite loop detected at insn \d+"
    r"|The sequence of \d+ jumps is too complex\.)$"
)
_GLUED = re.compile(r"processed \d+ insns \(limit \d+\)")
_PROCESSED = re.compile(r"processed (\d+) insns \(limit")


def error_line(log: str) -> str:
    """The verifier's last message in ``log`` (see the module docstring); "" when none."""
    for raw in reversed(log.splitlines()):
        line = raw.strip()
        glued = _GLUED.search(line)  # a message printed without its newline
        if glued is not None and glued.start() > 0:
            line = line[: glued.start()].strip()
        if not line or _TRAILER.match(line):
            continue
        if not _TRACE.match(line):
            return line
        top = _LOOP_TOP.search(line)
        if top is not None:
            return top.group(1)
    return ""


def processed_insns(log: str) -> int:
    """N of the log's ``processed N insns`` line; 0 when it has none."""
    found = _PROCESSED.findall(log)
    return int(found[-1]) if found else 0


@dataclass(frozen=True)
class KernelVerdict:
    """What ``BPF_PROG_LOAD`` said about a program.

    ``accepted``/``errno``/``log`` are the load's outcome; ``error`` the error line (None when
    accepted); ``processed_insns`` the ``processed N insns`` count (0 when the log has none);
    ``insn_count`` the program's length in slots. ``unavailable`` is set (with the reason) when
    the kernel could not be asked for a verdict at all: a tracing load refused with EPERM
    (lockdown), an attach target missing from vmlinux, a map the kernel would not create. Such
    a result is not a verifier rejection: ``accepted`` is False and ``error`` None.
    """

    accepted: bool
    errno: int
    log: str
    error: str | None
    processed_insns: int
    insn_count: int
    unavailable: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``"accepted"``, ``"rejected"`` or ``"unavailable"``."""
        if self.unavailable is not None:
            return "unavailable"
        return "accepted" if self.accepted else "rejected"


@dataclass(frozen=True)
class ObjectExtras:
    """Object-file facts a :class:`Program` does not carry, which libbpf uses when loading.

    ``btf_ext`` is the object's ``.BTF.ext`` (func_info is matched to the program's
    subprograms through their first line_info record); ``section_sizes`` gives each ELF
    section's size and ``var_offsets`` each variable's offset by ``(section, name)`` (from the
    symbol table; ``.kconfig`` externs from libbpf's layout) to finalise the DATASECs;
    ``static_funcs`` names global functions of hidden visibility, whose BTF FUNC libbpf marks
    static. ``func_info``, when given, is used as it is: (slot, FUNC type id) per subprogram.
    """

    btf_ext: BtfExt | None = None
    section_sizes: Mapping[str, int] = field(default_factory=dict)
    var_offsets: Mapping[tuple[str, str], int] = field(default_factory=dict)
    static_funcs: frozenset[str] = frozenset()
    func_info: Sequence[tuple[int, int]] | None = None


# --- BTF ---------------------------------------------------------------------------------

_HDR = struct.Struct("<HBBIIIII")
_EXTRA = {1: 4, 3: 12, 14: 4, 17: 4}  # fixed extra bytes after struct btf_type, by kind
_PER_VLEN = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}  # bytes per vlen entry, by kind
_LINKAGE_EXTERN = 2


class _RawBtf:
    """A raw BTF blob patched in place: type ids and string offsets stay those of the object."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        _, _, _, hdr_len, type_off, type_len, str_off, str_len = _HDR.unpack_from(data)
        self.str_start = hdr_len + str_off
        raw = bytes(data[self.str_start : self.str_start + str_len])
        self.strings: dict[str, int] = {}
        pos = 0
        for part in raw.split(b"\0"):
            self.strings.setdefault(part.decode("utf-8", "surrogateescape"), pos)
            pos += len(part) + 1
        self.offsets = [0]  # byte offset of each type record, by id
        pos, end = hdr_len + type_off, hdr_len + type_off + type_len
        while pos < end:
            self.offsets.append(pos)
            _, info, _ = struct.unpack_from("<III", data, pos)
            kind, vlen = info >> 24 & 0x1F, info & 0xFFFF
            pos += 12 + _EXTRA.get(kind, 0) + _PER_VLEN.get(kind, 0) * vlen

    def kind(self, tid: int) -> tuple[int, int]:
        (info,) = struct.unpack_from("<I", self.data, self.offsets[tid] + 4)
        return info >> 24 & 0x1F, info & 0xFFFF

    def name(self, tid: int) -> str:
        (off,) = struct.unpack_from("<I", self.data, self.offsets[tid])
        end = self.data.index(b"\0", self.str_start + off)
        return self.data[self.str_start + off : end].decode("utf-8", "surrogateescape")

    def set_vlen(self, tid: int, vlen: int) -> None:
        (info,) = struct.unpack_from("<I", self.data, self.offsets[tid] + 4)
        struct.pack_into("<I", self.data, self.offsets[tid] + 4, info & ~0xFFFF | vlen)


def _finalize_btf(raw: _RawBtf, extras: ObjectExtras, static_funcs: frozenset[str]) -> list[str]:
    """libbpf's BTF finalisation; returns what could not be fixed (the kernel may refuse it)."""
    problems = []
    for tid in range(1, len(raw.offsets)):
        kind, vlen = raw.kind(tid)
        base = raw.offsets[tid]
        if kind == BtfKind.FUNC and (vlen == _LINKAGE_EXTERN or raw.name(tid) in static_funcs):
            raw.set_vlen(tid, 0 if raw.name(tid) in static_funcs else 1)
        elif kind == BtfKind.VAR:
            (linkage,) = struct.unpack_from("<I", raw.data, base + 12)
            if linkage == _LINKAGE_EXTERN:
                struct.pack_into("<I", raw.data, base + 12, 1)  # global allocated
        elif kind == BtfKind.DATASEC:
            problems += _fix_datasec(raw, tid, vlen, extras)
    return problems


def _fix_datasec(raw: _RawBtf, tid: int, vlen: int, extras: ObjectExtras) -> list[str]:
    base = raw.offsets[tid]
    sec = raw.name(tid)
    (size,) = struct.unpack_from("<I", raw.data, base + 8)
    entries = [list(struct.unpack_from("<III", raw.data, base + 12 + 12 * i)) for i in range(vlen)]
    fixup = size == 0 or sec == ".kconfig"
    if size == 0:
        size = extras.section_sizes.get(sec, 0)
        if not size:
            return [f"DATASEC '{sec}': section size unknown"]
        struct.pack_into("<I", raw.data, base + 8, size)
    problems = []
    if fixup:
        for entry in entries:
            off = extras.var_offsets.get((sec, raw.name(entry[0])))
            if off is None:
                problems.append(f"DATASEC '{sec}': no offset for '{raw.name(entry[0])}'")
            else:
                entry[1] = off
    for i, entry in enumerate(sorted(entries, key=lambda e: e[1])):
        struct.pack_into("<III", raw.data, base + 12 + 12 * i, *entry)
    return problems


def _func_info(program: Program, btf: Btf, ext: BtfExt) -> list[tuple[int, int]] | str:
    """(slot, FUNC type id) per subprogram, or why it cannot be told."""
    funcs: dict[tuple[str, int], int] = {}
    for sec, recs in ext.func_info.items():
        for fi in recs:
            funcs[(sec, fi.insn_off)] = fi.type_id
    starts: dict[tuple[str, str, int, int], set[int]] = {}
    for sec, lines in ext.line_info.items():
        for li in lines:
            if (sec, li.insn_off) in funcs:
                key = (li.file_name, li.line_text, li.line, li.col)
                starts.setdefault(key, set()).add(funcs[(sec, li.insn_off)])
    first: dict[int, tuple[str, str, int, int]] = {}
    for pli in program.line_info:
        first.setdefault(pli.insn_off, (pli.file, pli.text, pli.line, pli.col))
    out = []
    for slot in program.func_starts:
        where = first.get(slot)
        ids = set(starts.get(where, ())) if where is not None else set()
        if len(ids) > 1 and slot == 0:
            ids = {t for t in ids if btf.name(t) == program.name}
        if len(ids) != 1:
            return f"no unique func_info for the subprogram at insn {slot}"
        out.append((slot, ids.pop()))
    return out


def func_info_records(program: Program, ext: BtfExt) -> list[tuple[int, int]] | None:
    """The program's ``bpf_func_info`` as (slot, FUNC type id) pairs, None when not derivable."""
    if program.btf is None:
        return None
    found = _func_info(program, program.btf, ext)
    return None if isinstance(found, str) else found


def _line_info(program: Program, raw: _RawBtf) -> bytes:
    out, last = [], -1
    for li in program.line_info:
        file_off, text_off = raw.strings.get(li.file), raw.strings.get(li.text)
        if li.insn_off <= last or file_off is None or text_off is None:
            continue
        out.append(struct.pack("<IIII", li.insn_off, file_off, text_off, li.line << 10 | li.col))
        last = li.insn_off
    return b"".join(out)


# --- attach targets ------------------------------------------------------------------------

_vmlinux: Btf | None = None
_TRACING_PREFIX = {
    AttachType.TRACE_RAW_TP: ("btf_trace_", BtfKind.TYPEDEF),
    AttachType.TRACE_ITER: ("bpf_iter_", BtfKind.FUNC),
    AttachType.LSM_MAC: ("bpf_lsm_", BtfKind.FUNC),
    AttachType.LSM_CGROUP: ("bpf_lsm_", BtfKind.FUNC),
}


def _attach_btf_id(program: Program) -> int | str:
    """The vmlinux BTF id a tracing/LSM program attaches to, or why there is none."""
    global _vmlinux
    if _vmlinux is None:
        try:
            with open(VMLINUX_BTF, "rb") as f:
                _vmlinux = Btf.parse(f.read())
        except (OSError, BpfvmError) as exc:
            return f"cannot read {VMLINUX_BTF}: {exc}"
    attach = program.expected_attach_type
    prefix, kind = _TRACING_PREFIX.get(attach, ("", BtfKind.FUNC)) if attach else ("", BtfKind.FUNC)
    name = prefix + program.attach_to
    found = _vmlinux.find(name, kind) if program.attach_to else None
    if found is None:
        return f"attach target '{name}' not found in vmlinux BTF"
    return found


# --- maps ----------------------------------------------------------------------------------


class _Session:
    """File descriptors opened for one load; all closed by :meth:`close`."""

    def __init__(self) -> None:
        self.fds: list[int] = []

    def keep(self, fd: int) -> int:
        self.fds.append(fd)
        return fd

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())


_NO_BTF_MAPS = frozenset({
    MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.STACK_TRACE, MapType.ARRAY_OF_MAPS,
    MapType.HASH_OF_MAPS, MapType.DEVMAP, MapType.DEVMAP_HASH, MapType.CPUMAP, MapType.XSKMAP,
    MapType.SOCKMAP, MapType.SOCKHASH, MapType.QUEUE, MapType.STACK, MapType.RINGBUF,
    MapType.USER_RINGBUF,
})  # fmt: skip


def _map_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", name)[:15]


def _create_map(spec: MapSpec, s: _Session, btf_fd: int, datasec: dict[str, int]) -> int:
    inner_fd = _create_map(spec.inner, s, btf_fd, datasec) if spec.inner is not None else 0
    key_size, value_size, max_entries = spec.key_size, spec.value_size, spec.max_entries
    key_id, value_id = spec.btf_key_type_id, spec.btf_value_type_id
    if spec.initial is not None and spec.section in datasec:
        key_id, value_id = 0, datasec[spec.section]
    if spec.type in _NO_BTF_MAPS:  # libbpf creates these without BTF types
        key_id = value_id = 0
    if spec.type in (MapType.RINGBUF, MapType.USER_RINGBUF):
        key_size = value_size = 0  # a __type(value, ...) only documents the records
    elif spec.type == MapType.PERF_EVENT_ARRAY:
        key_size = value_size = 4  # fd-valued; libbpf/cilium-ebpf default 0 entries to nCPU
        max_entries = max_entries or sc.possible_cpus()

    def create(btf: int, key_type: int, value_type: int) -> int:
        return sc.map_create_btf(
            int(spec.type), key_size, value_size, max_entries, spec.map_flags,
            inner_map_fd=inner_fd, map_extra=spec.map_extra,
            map_name=_map_name(spec.kernel_name or spec.name),
            btf_fd=btf, btf_key_type_id=key_type, btf_value_type_id=value_type,
        )  # fmt: skip

    fd = -1
    if btf_fd > 0 and value_id:
        try:  # libbpf retries without BTF when the kernel refuses the map's types
            fd = create(btf_fd, key_id, value_id)
        except OSError:
            fd = -1
    if fd < 0:
        fd = create(0, 0, 0)
    s.keep(fd)
    if spec.initial is not None:
        sc.map_update(fd, bytes(4), spec.initial.ljust(spec.value_size, b"\0"))
        if spec.map_flags & BPF_F_RDONLY_PROG:
            sc.map_freeze(fd)
    if inner_fd:
        os.close(inner_fd)
        s.fds.remove(inner_fd)
    return fd


def _patch_maps(insns: Sequence[Insn], fds: Sequence[int]) -> list[Insn]:
    out = []
    for insn in insns:
        is_map = insn.code == LD_IMM64_CODE and insn.src in (_PSEUDO_MAP_FD, _PSEUDO_MAP_VALUE)
        if is_map and 0 <= insn.imm < len(fds):
            insn = Insn(insn.code, insn.dst, insn.src, insn.off, fds[insn.imm], insn.imm_hi)
        out.append(insn)
    return out


# --- the load ------------------------------------------------------------------------------


def _unavailable(
    program: Program, reason: str, notes: list[str], err: int = 0, log: str = ""
) -> KernelVerdict:
    count = sum(i.width for i in program.insns)
    return KernelVerdict(False, err, log, None, 0, count, reason, tuple(notes))


def load_program(
    program: Program,
    *,
    extras: ObjectExtras | None = None,
    log_level: int = 1,
    log_size: int = DEFAULT_LOG_SIZE,
    extra_flags: int = 0,
    grow_log: bool = True,
) -> KernelVerdict:
    """Ask the running kernel's verifier about ``program`` (see the module docstring).

    A verifier rejection is a result, never an exception; :class:`KernelUnavailable` is raised
    only when ``bpf()`` cannot be used here at all. ``extra_flags`` are added to
    ``prog_flags`` (``BPF_F_SLEEPABLE`` comes from the program itself). With ``grow_log``
    false a log larger than ``log_size`` keeps its tail (the load then fails with ENOSPC).
    """
    if not sc.kernel_available():
        raise sc.KernelUnavailable("bpf() cannot load programs here (needs root or CAP_BPF)")
    extras = extras or ObjectExtras()
    notes: list[str] = []
    s = _Session()
    try:
        raw, btf_fd = None, 0
        if program.btf is not None:
            raw = _RawBtf(program.btf.data)
            notes += _finalize_btf(raw, extras, extras.static_funcs)
            fd, err, btf_log = sc.btf_load(bytes(raw.data))
            if fd < 0:  # libbpf goes on without BTF
                notes.append(f"BTF refused ({os.strerror(err)}): {error_line(btf_log)}")
                raw = None
            else:
                btf_fd = s.keep(fd)
        datasec = {}
        if raw is not None:
            for tid in range(1, len(raw.offsets)):
                if raw.kind(tid)[0] == BtfKind.DATASEC:
                    datasec[raw.name(tid)] = tid
        fds = []
        for spec in program.maps:
            try:
                fds.append(_create_map(spec, s, btf_fd, datasec))
            except OSError as exc:
                why = os.strerror(exc.errno or 0)
                why = f"map '{spec.name}' not created: {why}"
                return _unavailable(program, why, notes, exc.errno or 0)
        func_info = line_info = b""
        if raw is not None and program.btf is not None and extras.func_info is not None:
            func_info = b"".join(struct.pack("<II", slot, tid) for slot, tid in extras.func_info)
            line_info = _line_info(program, raw)
        elif raw is not None and program.btf is not None and extras.btf_ext is not None:
            found = _func_info(program, program.btf, extras.btf_ext)
            if isinstance(found, str):
                notes.append(found)
            else:
                func_info = b"".join(struct.pack("<II", slot, tid) for slot, tid in found)
                line_info = _line_info(program, raw)
        attach_id = 0
        if program.prog_type in (ProgType.TRACING, ProgType.LSM):
            got = _attach_btf_id(program)
            if isinstance(got, str):
                return _unavailable(program, got, notes)
            attach_id = got
        flags = extra_flags | (BPF_F_SLEEPABLE if program.sleepable else 0)
        attach = program.expected_attach_type
        insns = _patch_maps(program.insns, fds)
        prog, res = sc.prog_load_ex(
            encode(insns), int(program.prog_type), license=program.license,
            log_level=log_level, log_size=log_size, grow_log=grow_log,
            expected_attach_type=int(attach) if attach is not None else 0, prog_flags=flags,
            prog_name=_map_name(program.name), kern_version=program.kern_version,
            prog_btf_fd=btf_fd if func_info else 0, func_info=func_info, line_info=line_info,
            attach_btf_id=attach_id,
        )  # fmt: skip
        if prog is not None:
            prog.close()
        count = sum(i.width for i in program.insns)
        if res.errno == _errno.EPERM and not res.log.strip():
            why = "the kernel refused the load with EPERM (lockdown or missing privilege)"
            return _unavailable(program, why, notes, res.errno, res.log)
        return KernelVerdict(
            res.accepted, res.errno, res.log, None if res.accepted else error_line(res.log),
            processed_insns(res.log), count, None, tuple(notes),
        )  # fmt: skip
    finally:
        s.close()
