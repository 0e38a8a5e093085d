"""Support code every lowered module carries, built as LLVM IR in pure Python.

* ``bpf_check`` is the slow path of a checked access: it scans the run's region table from
  the last entry back (as :meth:`AddressSpace.find` does), then the registered stack frames of
  the live call chain. On a hit in a region it fills the access site's cache entry (writable
  regions only, for stores and atomics); on a miss it records the interpreter's fault.
* ``bpf_fault`` records a fault in the run state (cold, never inlined).
* Entry points, one set per program, all ``i64 (ptr state, ...)`` with the C calling
  convention so ctypes can call them: ``<prog>__run(state, r1..r5)``,
  ``<prog>__repeat(state, r1..r5, n)`` (``BPF_PROG_TEST_RUN``'s repeat loop) and
  ``<prog>__batch(state, items, n)`` (one program over many inputs); and one
  ``bpf_callback_<slot>(state, depth, r1..r5)`` per function reference, which Python helpers
  taking a callback (``bpf_loop``, ``bpf_for_each_map_elem``) call back into.

A run starts with the status cleared, the tail-call count zero and no registered frames. The
status is the only way out of a failed run: every call site checks it and returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from llvmlite import ir

from bpfvm.vm.jit import layout as L


class Types:
    """The LLVM types of one module."""

    def __init__(self, module: ir.Module) -> None:
        self.i1 = ir.IntType(1)
        self.i8 = ir.IntType(8)
        self.i16 = ir.IntType(16)
        self.i32 = ir.IntType(32)
        self.i64 = ir.IntType(64)
        self.ptr = ir.PointerType()
        self.void = ir.VoidType()
        self.state = module.context.get_identified_type("bpf_jit_run")
        if self.state.is_opaque:
            fields: list[ir.Type] = [self.i64] * len(L.STATE_FIELDS)
            self.state.set_body(*fields, ir.ArrayType(self.i64, L.MAX_CALL_FRAMES))
        self.state_size = 8 * (len(L.STATE_FIELDS) + L.MAX_CALL_FRAMES)
        self.item = ir.ArrayType(self.i64, len(L.BATCH_FIELDS))
        self.args7 = ir.ArrayType(self.i64, L.MAX_STACK_ARGS)
        # i64 fn(state, r1..r5, in_args, depth): every lowered BPF function
        self.bpf_fn = ir.FunctionType(self.i64, [self.ptr, *[self.i64] * 5, self.ptr, self.i64])
        self.helper_cb = ir.FunctionType(self.i64, [self.ptr, *[self.i64] * 7])
        self.tail_cb = ir.FunctionType(self.i64, [self.ptr, self.i64, self.i64])
        self.lookup_cb = self.tail_cb  # (state, map index, key address) -> value address
        self.clock_fn = ir.FunctionType(self.i32, [self.i32, self.ptr])

    def ity(self, bits: int) -> ir.IntType:
        return {1: self.i1, 8: self.i8, 16: self.i16, 32: self.i32, 64: self.i64}[bits]

    def c64(self, value: int) -> ir.Constant:
        return ir.Constant(self.i64, value & (1 << 64) - 1)


def alloca(b: ir.IRBuilder, t: Types, typ: ir.Type, name: str, align: int = 8) -> ir.Value:
    """An ``alloca`` typed as an opaque pointer."""
    slot = b.alloca(typ, name=name)
    slot.align = align
    slot.type = t.ptr
    return slot


def field_ptr(b: ir.IRBuilder, t: Types, state: ir.Value, name: str) -> ir.Value:
    idx = [ir.Constant(t.i32, 0), ir.Constant(t.i32, L.FIELD[name])]
    return b.gep(state, idx, inbounds=True, source_etype=t.state)


INVARIANT_FIELDS = frozenset(
    ["helper_cb", "tail_cb", "lookup_cb", "clock_gettime", "site_cache", "maps", "map_values",
     "prog_tables"]
)  # fmt: skip
"""Fields native code never writes and Python sets before a run: their loads are marked
``!invariant.load`` so LLVM may hoist them out of loops and merge them."""


def invariant(b: ir.IRBuilder, load: ir.Instruction) -> ir.Instruction:
    """Mark ``load`` as reading memory no native code writes (``!invariant.load``)."""
    load.set_metadata("invariant.load", b.module.add_metadata([]))
    return load


def load_field(b: ir.IRBuilder, t: Types, state: ir.Value, name: str) -> ir.Value:
    load = b.load(field_ptr(b, t, state, name), typ=t.i64)
    return invariant(b, load) if name in INVARIANT_FIELDS else load


def store_field(b: ir.IRBuilder, t: Types, state: ir.Value, name: str, value: ir.Value) -> None:
    b.store(value, field_ptr(b, t, state, name))


def frame_ptr(b: ir.IRBuilder, t: Types, state: ir.Value, depth: ir.Value) -> ir.Value:
    idx = [ir.Constant(t.i32, 0), ir.Constant(t.i32, L.FRAMES_FIELD), depth]
    return b.gep(state, idx, inbounds=True, source_etype=t.state)


def table_ptr(b: ir.IRBuilder, t: Types, state: ir.Value, name: str, index: ir.Value) -> ir.Value:
    """The address of the u64 ``index`` of the native array the field ``name`` points to."""
    base = b.inttoptr(load_field(b, t, state, name), t.ptr)
    return b.gep(base, [index], inbounds=True, source_etype=t.i64)


class Runtime:
    """The support functions of one module."""

    def __init__(self, module: ir.Module, t: Types) -> None:
        self.module = module
        self.t = t
        self.fault = self._build_fault()
        self.check = self._build_check()

    def _build_fault(self) -> ir.Function:
        t = self.t
        fnty = ir.FunctionType(t.void, [t.ptr, *[t.i64] * 5])
        fn = ir.Function(self.module, fnty, "bpf_fault")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        fn.attributes.add("cold")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        st, kind, pc, addr, size, arg = fn.args
        store_field(b, t, st, "status", t.c64(L.ST_FAULT))
        for name, value in (("fault_kind", kind), ("fault_pc", pc), ("fault_addr", addr),
                            ("fault_size", size), ("fault_arg", arg)):  # fmt: skip
            store_field(b, t, st, name, value)
        b.ret_void()
        return fn

    def _build_check(self) -> ir.Function:
        t = self.t
        fnty = ir.FunctionType(t.i32, [t.ptr, *[t.i64] * 6])
        fn = ir.Function(self.module, fnty, "bpf_check")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        st, addr, size, mode, pc, site, depth = fn.args
        entry = fn.append_basic_block("entry")
        head, body, found = (fn.append_basic_block(n) for n in ("head", "body", "found"))
        frames, fhead, fbody, miss = (fn.append_basic_block(n) for n in
                                      ("frames", "fhead", "fbody", "miss"))  # fmt: skip
        b = ir.IRBuilder(entry)
        n = load_field(b, t, st, "nregions")
        tbl = b.inttoptr(load_field(b, t, st, "regions"), t.ptr)
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(t.i64)
        i.add_incoming(n, entry)
        b.cbranch(b.icmp_unsigned("==", i, t.c64(0)), frames, body)
        b.position_at_end(body)
        j = b.sub(i, t.c64(1))
        i.add_incoming(j, body)
        row = b.mul(j, t.c64(3))
        lo = b.load(b.gep(tbl, [row], source_etype=t.i64), typ=t.i64)
        hi = b.load(b.gep(tbl, [b.add(row, t.c64(1))], source_etype=t.i64), typ=t.i64)
        flags = b.load(b.gep(tbl, [b.add(row, t.c64(2))], source_etype=t.i64), typ=t.i64)
        inside = b.and_(
            b.and_(b.icmp_unsigned(">=", addr, lo), b.icmp_unsigned(">=", hi, size)),
            b.icmp_unsigned("<=", addr, b.sub(hi, size)),
        )
        b.cbranch(inside, found, head)
        b.position_at_end(found)
        self._found(b, fn, st, lo, hi, flags, mode, site, addr, size, pc)
        # the live stack frames that escaped: frames[0..depth]
        b.position_at_end(frames)
        b.branch(fhead)
        b.position_at_end(fhead)
        d = b.phi(t.i64)
        d.add_incoming(t.c64(0), frames)
        b.cbranch(b.icmp_unsigned(">", d, depth), miss, fbody)
        b.position_at_end(fbody)
        flo = b.load(frame_ptr(b, t, st, d), typ=t.i64)
        fok = b.and_(
            b.and_(b.icmp_unsigned("!=", flo, t.c64(0)), b.icmp_unsigned("<=", size, t.c64(512))),
            b.and_(
                b.icmp_unsigned(">=", addr, flo),
                b.icmp_unsigned("<=", addr, b.sub(b.add(flo, t.c64(L.STACK_SIZE)), size)),
            ),
        )
        d.add_incoming(b.add(d, t.c64(1)), fbody)
        ok = fn.append_basic_block("frame_ok")
        b.cbranch(fok, ok, fhead)
        b.position_at_end(ok)
        b.ret(ir.Constant(t.i32, 1))
        b.position_at_end(miss)
        is_write = b.icmp_unsigned("==", mode, t.c64(L.MODE_WRITE))
        kind = b.select(is_write, t.c64(L.FK_WRITE), t.c64(L.FK_READ))
        b.call(self.fault, [st, kind, pc, addr, size, t.c64(0)])
        b.ret(ir.Constant(t.i32, 0))
        return fn

    def _found(
        self,
        b: ir.IRBuilder,
        fn: ir.Function,
        st: ir.Value,
        lo: ir.Value,
        hi: ir.Value,
        flags: ir.Value,
        mode: ir.Value,
        site: ir.Value,
        addr: ir.Value,
        size: ir.Value,
        pc: ir.Value,
    ) -> None:
        t = self.t
        writable = b.icmp_unsigned("!=", b.and_(flags, t.c64(L.RF_WRITABLE)), t.c64(0))
        is_read = b.icmp_unsigned("==", mode, t.c64(L.MODE_READ))
        ok, bad = fn.append_basic_block("ok"), fn.append_basic_block("readonly")
        b.cbranch(b.or_(is_read, writable), ok, bad)
        b.position_at_end(ok)
        cache, done = fn.append_basic_block("cache"), fn.append_basic_block("done")
        b.cbranch(b.icmp_signed(">=", site, t.c64(0)), cache, done)
        b.position_at_end(cache)
        row = b.mul(site, t.c64(2))
        b.store(lo, table_ptr(b, t, st, "site_cache", row))
        b.store(hi, table_ptr(b, t, st, "site_cache", b.add(row, t.c64(1))))
        b.branch(done)
        b.position_at_end(done)
        b.ret(ir.Constant(t.i32, 1))
        b.position_at_end(bad)
        cmpx, fault = fn.append_basic_block("cmpxchg_ro"), fn.append_basic_block("fault_ro")
        b.cbranch(b.icmp_unsigned("==", mode, t.c64(L.MODE_CMPXCHG)), cmpx, fault)
        b.position_at_end(cmpx)
        b.ret(ir.Constant(t.i32, 2))
        b.position_at_end(fault)
        b.call(self.fault, [st, t.c64(L.FK_READONLY), pc, addr, size, t.c64(0)])
        b.ret(ir.Constant(t.i32, 0))

    # -- entry points ----------------------------------------------------------------------

    def _memset(self) -> ir.Function:
        t = self.t
        memset = self.module.globals.get("llvm.memset.p0.i64")
        if memset is None:
            fnty = ir.FunctionType(t.void, [t.ptr, t.i8, t.i64, t.i1])
            memset = ir.Function(self.module, fnty, "llvm.memset.p0.i64")
        return memset

    def _reset(self, b: ir.IRBuilder, st: ir.Value) -> None:
        t = self.t
        store_field(b, t, st, "status", t.c64(0))
        store_field(b, t, st, "tail_calls", t.c64(0))
        memset = self._memset()
        frames = frame_ptr(b, t, st, ir.Constant(t.i32, 0))
        size = t.c64(8 * L.MAX_CALL_FRAMES)
        b.call(memset, [frames, ir.Constant(t.i8, 0), size, ir.Constant(t.i1, 0)])

    def _zero_args(self, b: ir.IRBuilder) -> ir.Value:
        """A zeroed incoming stack-argument area (built in the entry block)."""
        zero = alloca(b, self.t, self.t.args7, "no_stack_args")
        b.store(ir.Constant(self.t.args7, None), zero)
        return zero

    def _invoke(self, b: ir.IRBuilder, target: ir.Function, st: ir.Value,
                args: Sequence[ir.Value], zero: ir.Value) -> ir.Value:  # fmt: skip
        """Call ``target`` as a fresh main frame; the result as the program sees it (an
        early exit's ``retval`` instead of r0)."""
        t = self.t
        r0 = b.call(target, [st, *args, zero, t.c64(0)])
        exited = b.icmp_unsigned("==", load_field(b, t, st, "status"), t.c64(L.ST_EXITED))
        return b.select(exited, load_field(b, t, st, "retval"), r0)

    def add_entry_points(self, name: str, target: ir.Function, nsites: int) -> None:
        t = self.t
        run = ir.Function(
            self.module, ir.FunctionType(t.i64, [t.ptr, *[t.i64] * 5]), f"{name}__run"
        )
        b = ir.IRBuilder(run.append_basic_block("entry"))
        st = run.args[0]
        zero = self._zero_args(b)
        self._reset(b, st)
        b.ret(self._invoke(b, target, st, run.args[1:6], zero))

        fnty = ir.FunctionType(t.i64, [t.ptr, *[t.i64] * 6])
        rep = ir.Function(self.module, fnty, f"{name}__repeat")
        st, n = rep.args[0], rep.args[6]
        entry, loop, out = (rep.append_basic_block(x) for x in ("entry", "loop", "out"))
        b = ir.IRBuilder(entry)
        zero = self._zero_args(b)
        b.branch(loop)
        b.position_at_end(loop)
        i = b.phi(t.i64)
        i.add_incoming(t.c64(0), entry)
        self._reset(b, st)
        r0 = self._invoke(b, target, st, rep.args[1:6], zero)
        i2 = b.add(i, t.c64(1))
        i.add_incoming(i2, b.block)
        faulted = b.icmp_unsigned("==", load_field(b, t, st, "status"), t.c64(L.ST_FAULT))
        b.cbranch(b.or_(faulted, b.icmp_unsigned(">=", i2, n)), out, loop)
        b.position_at_end(out)
        b.ret(r0)
        self._add_batch(name, target, nsites)

    def _add_batch(self, name: str, target: ir.Function, nsites: int) -> None:
        """``<name>__batch(state, items, n)``: runs item after item (each with its own region
        table and packet); stops at a fault and returns the number of items completed."""
        t = self.t
        fn = ir.Function(
            self.module, ir.FunctionType(t.i64, [t.ptr, t.ptr, t.i64]), f"{name}__batch"
        )
        st, items, n = fn.args
        entry, head, body, out = (
            fn.append_basic_block(x) for x in ("entry", "head", "body", "out")
        )
        b = ir.IRBuilder(entry)
        zero = self._zero_args(b)
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(t.i64)
        i.add_incoming(t.c64(0), entry)
        b.cbranch(b.icmp_unsigned(">=", i, n), out, body)
        b.position_at_end(body)
        item = b.gep(items, [i], inbounds=True, source_etype=t.item)

        def get(field: str) -> ir.Value:
            idx = [ir.Constant(t.i32, 0), ir.Constant(t.i32, L.BATCH[field])]
            return b.load(b.gep(item, idx, inbounds=True, source_etype=t.item), typ=t.i64)

        for field in ("regions", "nregions", "pkt_addr", "pkt_len", "has_pkt"):
            store_field(b, t, st, field, get(field))
        store_field(b, t, st, "batch_index", i)
        if nsites:  # another item, other regions: forget every site's cached region
            cache = b.inttoptr(load_field(b, t, st, "site_cache"), t.ptr)
            fill = ir.Constant(t.i8, L.EMPTY_CACHE)
            b.call(self._memset(), [cache, fill, t.c64(16 * nsites), ir.Constant(t.i1, 0)])
        self._reset(b, st)
        r0 = self._invoke(b, target, st, [get(f"r{k}") for k in range(1, 6)], zero)
        idx = [ir.Constant(t.i32, 0), ir.Constant(t.i32, L.BATCH["retval"])]
        b.store(r0, b.gep(item, idx, inbounds=True, source_etype=t.item))
        i.add_incoming(b.add(i, t.c64(1)), b.block)
        faulted = b.icmp_unsigned("==", load_field(b, t, st, "status"), t.c64(L.ST_FAULT))
        b.cbranch(faulted, out, head)
        b.position_at_end(out)
        done = b.phi(t.i64)
        done.add_incoming(i, head)
        done.add_incoming(i, body)
        b.ret(done)

    def add_callback_thunk(self, slot: int, target: ir.Function) -> str:
        t = self.t
        name = f"bpf_callback_{slot}"
        fnty = ir.FunctionType(t.i64, [t.ptr, t.i64, *[t.i64] * 5])
        fn = ir.Function(self.module, fnty, name)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        zero = alloca(b, t, t.args7, "no_stack_args")
        b.store(ir.Constant(t.args7, None), zero)
        b.ret(b.call(target, [fn.args[0], *fn.args[2:7], zero, fn.args[1]]))
        return name
