// SPDX-License-Identifier: GPL-2.0
/*
 * core_reads: CO-RE (Compile Once - Run Everywhere) relocations, without any tracing.
 *
 * clang records, for every access to a type marked preserve_access_index, *which field* was
 * meant (a CO-RE relocation in .BTF.ext) rather than trusting the offset it compiled in;
 * libbpf rewrites the instruction at load time with the offset in the running kernel's BTF.
 * A local type named `name___flavour` matches the kernel type `name`, so a program can carry
 * its own minimal, differently ordered view of a kernel struct.
 *
 * tc_core_ctx: reads and writes the skb ctx through struct __sk_buff___mine, whose fields are
 *   in a different order than the real struct __sk_buff; the relocated offsets make it work.
 *   A field the kernel does not have is guarded by bpf_core_field_exists(), so the load
 *   still succeeds and the guarded branch is dead.
 * core_facts (SEC("syscall"), run with a ctx): answers field/type/enum questions about the
 *   kernel with bpf_core_field_exists/size/offset, bpf_core_type_exists/size and
 *   bpf_core_enum_value; only facts that are fixed by the kernel's stable ABI are asked.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Our view of struct __sk_buff: a subset, reordered, plus a field no kernel has. */
struct __sk_buff___mine {
	__u32 cb[5];
	__u32 priority;
	__u32 mark;
	__u32 protocol;
	__u32 len;
	__u32 field_from_the_future;
} __attribute__((preserve_access_index));

struct task_struct___min {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

/* What tc_core_ctx saw, for user space (.bss). */
struct {
	__u32 len, mark, protocol, future;
} seen;

SEC("tc")
int tc_core_ctx(struct __sk_buff *ctx)
{
	struct __sk_buff___mine *skb = (void *)ctx;

	seen.len = skb->len;
	seen.mark = skb->mark;
	seen.protocol = skb->protocol;		/* network byte order: 0x0008 for IPv4 */
	if (bpf_core_field_exists(skb->field_from_the_future))
		seen.future = skb->field_from_the_future;
	else
		seen.future = 0xdead;

	/* Classify: priority from the mark's low nibble, note the length in cb[1]. */
	skb->priority = skb->mark & 0xf;
	skb->cb[1] = skb->len;
	return TC_ACT_OK;
}

/* ctx of core_facts: filled in by the program, copied back to user space. */
struct core_facts_args {
	__u32 task_struct_exists;
	__u32 task_pid_size;
	__u32 sk_buff_has_hwtstamp;
	__u32 sk_buff_hwtstamp_offset;
	__u32 sk_buff_has_future_field;
	__u32 xdp_md_size;
	__u32 ringbuf_map_type;
	__u32 loop_helper_exists;
};

SEC("syscall")
int core_facts(struct core_facts_args *args)
{
	args->task_struct_exists = bpf_core_type_exists(struct task_struct___min);
	args->task_pid_size = bpf_core_field_size(struct task_struct___min, pid);
	args->sk_buff_has_hwtstamp = bpf_core_field_exists(struct __sk_buff, hwtstamp);
	args->sk_buff_hwtstamp_offset = bpf_core_field_offset(struct __sk_buff, hwtstamp);
	args->sk_buff_has_future_field =
		bpf_core_field_exists(struct __sk_buff___mine, field_from_the_future);
	args->xdp_md_size = bpf_core_type_size(struct xdp_md);
	args->ringbuf_map_type = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_RINGBUF);
	args->loop_helper_exists = bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
