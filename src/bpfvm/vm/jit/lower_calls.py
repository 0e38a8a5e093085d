"""Lowering of calls: bpf-to-bpf calls, helpers (inline or through Python), tail calls.

* **bpf-to-bpf**: a direct LLVM call with ``depth + 1`` (at most 8 frames, the interpreter's
  fault beyond) and the caller's outgoing stack-argument area.
* **Helpers without a Python round trip** (only when the registry holds bpfvm's own
  implementation, so a user's replacement is always honoured):
  ``bpf_map_lookup_elem``/``update``/``delete`` on an array or per-CPU array known at the call
  site (inline from the handle's ``data_addr``/``value_stride``/``percpu_stride``/
  ``max_entries``, with the helper's checks in its order), the ``ktime`` clocks
  (``clock_gettime`` through libc), ``bpf_get_prandom_u32`` (xorshift64* in the run state),
  ``bpf_get_smp_processor_id``, ``bpf_get_numa_node_id``, and ``bpf_loop`` with a known
  callback (a native loop of direct calls).
* Packet helpers (checksums, packet bytes, ``bpf_xdp_adjust_head``/``meta``/``tail``) run
  natively on the run's packet descriptor (:mod:`.lower_packet`), calling the Python helper
  only for odd cases (another packet kind, XDP fragments, memory outside the run's regions).
* ``bpf_map_lookup_elem`` on a ``hash``/``percpu_hash`` map known at the call site searches
  the map's native index inline (:mod:`.lower_hash`); on other maps with keys (LRU, LPM,
  maps of maps...) the key is checked natively and ``lookup_cb`` calls ``prog_lookup``.
* **Every other helper** calls the engine's ctypes callback ``helper_cb(state, id, pc,
  r1..r5)`` which runs the registry's Python function; a Python exception becomes a fault.
  (Hash map updates and deletes are inline, :mod:`.lower_hash_update`, and so are
  ``bpf_ringbuf_reserve``/``submit``/``discard``, :mod:`.lower_ringbuf`.)
* **Tail calls** (helper 12): if fewer than 33 were taken, ``tail_cb(state, map, index)`` (the
  engine's resolver, the interpreter's ``tail_call_target``) names the program, which is
  called through the module's program table at the same depth, and its result returned. An
  empty slot continues with the next instruction.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from llvmlite import ir

from bpfvm.isa.insn import Insn
from bpfvm.isa.opcodes import CallSrc
from bpfvm.isa.spec import OpSpec
from bpfvm.vm.jit import layout as L
from bpfvm.vm.jit.cfg import Plan, plan_call
from bpfvm.vm.jit.lower_hash import hash_lookup
from bpfvm.vm.jit.lower_hash_update import hash_delete, hash_update
from bpfvm.vm.jit.lower_mem import access
from bpfvm.vm.jit.lower_packet import lower_packet
from bpfvm.vm.jit.lower_ringbuf import ringbuf_commit, ringbuf_reserve
from bpfvm.vm.jit.runtime_ir import load_field, store_field, table_ptr

if TYPE_CHECKING:
    from bpfvm.vm.jit.lower import FunctionLowerer

M32 = 0xFFFFFFFF
FRAMES_MSG = "the call stack of {n} frames is too deep"


def _neg(err: int) -> int:
    return -err & (1 << 64) - 1


def lower_call(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    if insn.src == CallSrc.PSEUDO_CALL:
        _bpf_call(fl, pc, insn)
        return
    if insn.src == CallSrc.KFUNC_CALL:
        fl.fault(pc, "kernel function calls (kfuncs) are not supported by bpfvm")
        return
    plan, arg = plan_call(insn, fl.info.pre[pc], fl.ctx.maps, fl.ctx.inline)
    if plan is Plan.GENERIC:
        _helper(fl, pc, fl.t.c64(insn.imm))
    elif plan is Plan.TAIL_CALL:
        _tail_call(fl, pc, arg)
    elif plan is Plan.LOOP:
        _loop(fl, pc, arg)
    elif plan is Plan.PACKET:
        lower_packet(fl, pc, arg, lambda: _helper(fl, pc, fl.t.c64(arg)))
    elif plan is Plan.LOOKUP_ARRAY:
        _array_lookup(fl, pc)
    elif plan is Plan.LOOKUP_HASH:
        hash_lookup(fl, pc, arg)
    elif plan is Plan.UPDATE_HASH:
        hash_update(fl, pc, arg)
    elif plan is Plan.DELETE_HASH:
        hash_delete(fl, pc, arg)
    elif plan is Plan.RINGBUF_RESERVE:
        ringbuf_reserve(fl, pc, arg)
    elif plan in (Plan.RINGBUF_SUBMIT, Plan.RINGBUF_DISCARD):
        ringbuf_commit(fl, pc, arg, discard=plan is Plan.RINGBUF_DISCARD)
    elif plan is Plan.LOOKUP_PY:
        _py_lookup(fl, pc, arg)
    elif plan is Plan.UPDATE_ARRAY:
        _array_update(fl, pc, arg)
    elif plan is Plan.DELETE_ARRAY:
        access(fl, pc, 2, 0, 4)  # the key is read (and checked) first
        fl.put(0, fl.t.c64(_neg(errno.EINVAL)))
    else:
        _simple(fl, plan, insn.imm)


def lower_callx(fl: FunctionLowerer, pc: int, insn: Insn, spec: OpSpec) -> None:
    """``callx``: uBPF semantics, the register holds a helper id."""
    _helper(fl, pc, fl.get(insn.dst))


def _helper(fl: FunctionLowerer, pc: int, helper_id: ir.Value) -> None:
    b, t = fl.b, fl.t
    store_field(b, t, fl.state, "depth", fl.depth)
    cb = b.inttoptr(load_field(b, t, fl.state, "helper_cb"), t.helper_cb.as_pointer())
    args = [fl.get(r) for r in range(1, 6)]
    fl.put(0, b.call(cb, [fl.state, helper_id, t.c64(pc), *args]))
    fl.bail_if_stopped()


def _enter_depth(fl: FunctionLowerer, pc: int) -> ir.Value:
    """The depth of a new frame, faulting beyond MAX_CALL_FRAMES as the interpreter does."""
    b, t = fl.b, fl.t
    depth = b.add(fl.depth, t.c64(1))
    ok = b.icmp_unsigned("<", depth, t.c64(L.MAX_CALL_FRAMES))
    fl.guard(ok, pc, FRAMES_MSG, b.add(depth, t.c64(1)))
    return depth


def _call_args(fl: FunctionLowerer) -> ir.Value:
    assert fl.out_args is not None
    return fl.out_args


def _bpf_call(fl: FunctionLowerer, pc: int, insn: Insn) -> None:
    target = fl.layout.call_target(pc, insn)
    assert target is not None
    depth = _enter_depth(fl, pc)
    args = [fl.get(r) for r in range(1, 6)]
    r0 = fl.b.call(fl.ctx.funcs[target], [fl.state, *args, _call_args(fl), depth])
    fl.put(0, r0)
    fl.bail_if_stopped()


def _tail_call(fl: FunctionLowerer, pc: int, map_index: int) -> None:
    b, t = fl.b, fl.t
    count = load_field(b, t, fl.state, "tail_calls")
    attempt = fl.fn.append_basic_block("tail_try")
    go = fl.fn.append_basic_block("tail_go")
    skip = fl.fn.append_basic_block("tail_skip")
    b.cbranch(b.icmp_unsigned("<", count, t.c64(L.MAX_TAIL_CALL_CNT)), attempt, skip)
    b.position_at_end(attempt)
    index = b.and_(fl.get(3), t.c64(M32))
    if map_index >= 0:
        target = _tail_target_snapshot(fl, pc, map_index, index)
    else:
        target = _tail_target_python(fl, index)
    assert fl.ctx.prog_table is not None
    nprogs = len(fl.layout.bases)
    b.cbranch(b.icmp_unsigned("<", target, t.c64(nprogs)), go, skip)
    b.position_at_end(go)
    store_field(b, t, fl.state, "tail_calls", b.add(count, t.c64(1)))
    table_ty = ir.ArrayType(t.ptr, nprogs)
    slot = b.gep(fl.ctx.prog_table, [t.c64(0), target], inbounds=True, source_etype=table_ty)
    fn = b.load(slot, typ=t.bpf_fn.as_pointer())
    args = [fl.get(r) for r in range(1, 6)]
    fl.ret(b.call(fn, [fl.state, *args, fl.in_args, fl.depth]))
    b.position_at_end(skip)


def _tail_target_python(fl: FunctionLowerer, index: ir.Value) -> ir.Value:
    b, t = fl.b, fl.t
    resolve = b.inttoptr(load_field(b, t, fl.state, "tail_cb"), t.tail_cb.as_pointer())
    target = b.call(resolve, [fl.state, fl.get(2), index])
    fl.bail_if_stopped()
    return target


def _tail_target_snapshot(
    fl: FunctionLowerer, pc: int, map_index: int, index: ir.Value
) -> ir.Value:
    """The program in slot ``index`` of the run's snapshot of prog_array ``map_index`` (-1
    when empty or out of range); without a snapshot, ask Python."""
    b, t = fl.b, fl.t
    table = b.load(table_ptr(b, t, fl.state, "prog_tables", t.c64(map_index)), typ=t.i64)
    native = fl.fn.append_basic_block("tail_snapshot")
    python = fl.fn.append_basic_block("tail_python")
    done = fl.fn.append_basic_block("tail_resolved")
    b.cbranch(b.icmp_unsigned("!=", table, t.c64(0)), native, python)
    b.position_at_end(native)
    in_range = b.icmp_unsigned("<", index, _handle(fl, fl.get(2), 12, 32))
    safe = b.select(in_range, index, t.c64(0))
    slot = b.gep(b.inttoptr(table, t.ptr), [safe], inbounds=True, source_etype=t.i64)
    found = b.select(in_range, b.load(slot, typ=t.i64), t.c64(-1))
    end_native = b.block
    b.branch(done)
    b.position_at_end(python)
    asked = _tail_target_python(fl, index)
    end_python = b.block
    b.branch(done)
    b.position_at_end(done)
    target = b.phi(t.i64)
    target.add_incoming(found, end_native)
    target.add_incoming(asked, end_python)
    return target


def _loop(fl: FunctionLowerer, pc: int, slot: int) -> None:
    """``bpf_loop(nr, fn, ctx, flags)`` with a known ``fn``: the helper's loop, natively."""
    b, t = fl.b, fl.t
    callee = fl.ctx.funcs[slot]
    nr, ctx, flags = b.and_(fl.get(1), t.c64(M32)), fl.get(3), fl.get(4)
    result = fl.entry_alloca(t.i64, "loop_result")
    done = fl.fn.append_basic_block("loop_done")
    checks = fl.fn.append_basic_block("loop_checks")
    head = fl.fn.append_basic_block("loop_head")
    body = fl.fn.append_basic_block("loop_body")
    b.store(t.c64(_neg(errno.EINVAL)), result)
    b.cbranch(b.icmp_unsigned("!=", flags, t.c64(0)), done, checks)
    b.position_at_end(checks)
    b.store(t.c64(_neg(errno.E2BIG)), result)
    entry = b.block
    b.cbranch(b.icmp_unsigned(">", nr, t.c64(L.BPF_MAX_LOOPS)), done, head)
    b.position_at_end(head)
    i = b.phi(t.i64)
    i.add_incoming(t.c64(0), entry)
    b.store(nr, result)
    b.cbranch(b.icmp_unsigned(">=", i, nr), done, body)
    b.position_at_end(body)
    depth = _enter_depth(fl, pc)
    zero = t.c64(0)
    r0 = b.call(callee, [fl.state, i, ctx, zero, zero, zero, _call_args(fl), depth])
    fl.bail_if_stopped()
    nxt = b.add(i, t.c64(1))
    b.store(nxt, result)
    i.add_incoming(nxt, b.block)
    b.cbranch(b.icmp_unsigned("!=", r0, zero), done, head)
    b.position_at_end(done)
    fl.put(0, b.load(result, typ=t.i64))


# -- array maps ---------------------------------------------------------------------------------


def _handle(fl: FunctionLowerer, handle: ir.Value, off: int, bits: int) -> ir.Value:
    b, t = fl.b, fl.t
    ptr = b.inttoptr(b.add(handle, t.c64(off)), t.ptr)
    value = b.load(ptr, typ=t.ity(bits), align=bits // 8)
    return value if bits == 64 else b.zext(value, t.i64)


def _element(
    fl: FunctionLowerer, handle: ir.Value, index: ir.Value
) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(address of this CPU's copy of element ``index``, index in range, CPU in range)."""
    b, t = fl.b, fl.t
    cpu = load_field(b, t, fl.state, "cpu")
    index_ok = b.icmp_unsigned("<", index, _handle(fl, handle, 12, 32))
    cpu_ok = b.icmp_unsigned("<", cpu, _handle(fl, handle, 20, 32))
    addr = b.add(
        _handle(fl, handle, 32, 64),
        b.add(b.mul(cpu, _handle(fl, handle, 40, 64)), b.mul(index, _handle(fl, handle, 24, 32))),
    )
    return addr, index_ok, cpu_ok


def _array_lookup(fl: FunctionLowerer, pc: int) -> None:
    b, t = fl.b, fl.t
    key = access(fl, pc, 2, 0, 4)
    index = b.zext(b.load(key.ptr, typ=t.i32, align=min(key.align, 4)), t.i64)
    addr, index_ok, cpu_ok = _element(fl, fl.get(1), index)
    fl.put(0, b.select(b.and_(index_ok, cpu_ok), addr, t.c64(0)))


def _py_lookup(fl: FunctionLowerer, pc: int, map_index: int) -> None:
    """``bpf_map_lookup_elem`` on a map kept in Python (hash, LRU, LPM...): the key is
    checked here, then ``lookup_cb`` calls the map's ``prog_lookup`` directly."""
    b, t = fl.b, fl.t
    key = access(fl, pc, 2, 0, fl.ctx.maps[map_index].key_size)
    key_addr = b.ptrtoint(key.ptr, t.i64)
    store_field(b, t, fl.state, "depth", fl.depth)
    cb = b.inttoptr(load_field(b, t, fl.state, "lookup_cb"), t.lookup_cb.as_pointer())
    fl.put(0, b.call(cb, [fl.state, t.c64(map_index), key_addr]))
    fl.bail_if_stopped()


def _array_update(fl: FunctionLowerer, pc: int, map_index: int) -> None:
    """``array_map_update_elem``: value and key are read (checked) first, as the helper
    copies them; then its checks in order; then the copy into this CPU's element."""
    b, t = fl.b, fl.t
    desc = fl.ctx.maps[map_index]
    value = access(fl, pc, 3, 0, max(desc.value_size, 1))
    key = access(fl, pc, 2, 0, 4)
    index = b.zext(b.load(key.ptr, typ=t.i32, align=min(key.align, 4)), t.i64)
    if desc.rdonly_prog:
        fl.put(0, t.c64(_neg(errno.EPERM)))
        return
    flags = fl.get(4)
    addr, index_ok, cpu_ok = _element(fl, fl.get(1), index)

    def check(bad: ir.Value, err: int, otherwise: ir.Value) -> ir.Value:
        return b.select(bad, t.c64(_neg(err)), otherwise)

    # array_map_update_elem's checks, the first failing one wins (built last to first);
    # a CPU without a copy (never in a test_run) is refused rather than written past
    result = check(b.not_(cpu_ok), errno.EINVAL, t.c64(0))
    result = check(b.icmp_unsigned("!=", b.and_(flags, t.c64(4)), t.c64(0)), errno.EINVAL, result)
    result = check(b.icmp_unsigned("!=", b.and_(flags, t.c64(1)), t.c64(0)), errno.EEXIST, result)
    result = check(b.not_(index_ok), errno.E2BIG, result)
    bad_flags = b.icmp_unsigned(">", b.and_(flags, t.c64(~4)), t.c64(2))
    err = check(bad_flags, errno.EINVAL, result)
    write, done = fl.fn.append_basic_block("update_write"), fl.fn.append_basic_block("update_done")
    b.cbranch(b.icmp_unsigned("==", err, t.c64(0)), write, done)
    b.position_at_end(write)
    memmove = fl.ctx.intrinsic("llvm.memmove.p0.p0.i64", t.void, [t.ptr, t.ptr, t.i64, t.i1])
    dst = b.inttoptr(addr, t.ptr)
    b.call(memmove, [dst, value.ptr, t.c64(desc.value_size), ir.Constant(t.i1, 0)])
    b.branch(done)
    b.position_at_end(done)
    fl.put(0, err)


# -- small helpers ------------------------------------------------------------------------------


def _simple(fl: FunctionLowerer, plan: Plan, helper_id: int) -> None:
    b, t = fl.b, fl.t
    if plan is Plan.CLOCK:
        fn = b.inttoptr(load_field(b, t, fl.state, "clock_gettime"), t.clock_fn.as_pointer())
        ts = fl.timespec()
        b.call(fn, [ir.Constant(t.i32, L.CLOCKS[helper_id]), ts])
        sec = b.load(b.gep(ts, [t.c64(0)], source_etype=t.i64), typ=t.i64)
        nsec = b.load(b.gep(ts, [t.c64(1)], source_etype=t.i64), typ=t.i64)
        fl.put(0, b.add(b.mul(sec, t.c64(1_000_000_000)), nsec))
    elif plan is Plan.PRANDOM:  # xorshift64* (Vigna), the high half of the product
        x = load_field(b, t, fl.state, "rng")
        x = b.xor(x, b.lshr(x, t.c64(12)))
        x = b.xor(x, b.shl(x, t.c64(25)))
        x = b.xor(x, b.lshr(x, t.c64(27)))
        store_field(b, t, fl.state, "rng", x)
        fl.put(0, b.lshr(b.mul(x, t.c64(0x2545F4914F6CDD1D)), t.c64(32)))
    elif plan is Plan.SMP_ID:
        fl.put(0, load_field(b, t, fl.state, "cpu"))
    else:
        fl.put(0, t.c64(0))
