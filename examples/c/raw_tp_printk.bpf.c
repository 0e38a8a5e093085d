// SPDX-License-Identifier: GPL-2.0
/*
 * raw_tp_printk: a raw tracepoint program on sys_enter that counts system calls by number
 * and logs execve with bpf_printk() (bpf_trace_printk: /sys/kernel/tracing/trace_pipe).
 *
 * A raw tracepoint gets the tracepoint's arguments as an array of u64 (struct
 * bpf_raw_tracepoint_args); for sys_enter they are (struct pt_regs *regs, long id). BPF_PROG
 * from bpf_tracing.h unpacks them into named parameters. BPF_PROG_TEST_RUN runs it without
 * attaching: the ctx passed in *is* the argument array, so it behaves the same whatever the
 * machine is doing (regs is never dereferenced here).
 *
 * Returns 1 for execve (59 on x86-64), 0 otherwise.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_EXECVE 59		/* x86-64 */

struct pt_regs;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);		/* syscall number */
	__type(value, __u64);		/* times seen */
} syscall_count SEC(".maps");

SEC("raw_tp/sys_enter")
int BPF_PROG(count_syscalls, struct pt_regs *regs, long id)
{
	__u32 nr = id;
	__u64 *count, one = 1;

	count = bpf_map_lookup_elem(&syscall_count, &nr);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&syscall_count, &nr, &one, BPF_NOEXIST);

	if (id == NR_EXECVE) {
		bpf_printk("execve seen (%llu so far)", count ? *count : 1);
		return 1;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
