// SPDX-License-Identifier: GPL-2.0
/*
 * for_each_map: summarise a map in the kernel with bpf_for_each_map_elem(), from a
 * SEC("syscall") program.
 *
 * BPF_PROG_TYPE_SYSCALL programs are not attached anywhere: user space runs them with
 * BPF_PROG_TEST_RUN (bpf_prog_test_run_opts) and passes a ctx of its own design, which the
 * program may read and write; the kernel copies the ctx back to user space afterwards. Here
 * the ctx carries a threshold in and the summary out.
 *
 * bpf_for_each_map_elem() calls the callback once per element (hash maps: in bucket order,
 * which is why everything computed here is independent of the order) until it returns 1.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;		/* opaque: the callbacks get the map they iterate */

/* flow id -> bytes seen */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} flow_bytes SEC(".maps");

/* A histogram with 8 buckets, iterated in index order. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} histogram SEC(".maps");

/* The ctx user space passes to BPF_PROG_TEST_RUN (ctx_in) and gets back. */
struct summary_args {
	__u64 threshold;	/* in: count flows with at least this many bytes */
	__u64 total_bytes;	/* out */
	__u64 max_bytes;	/* out */
	__u32 max_flow;		/* out: the flow with max_bytes (smallest id on ties) */
	__u32 flows;		/* out: elements visited */
	__u32 heavy_flows;	/* out: flows >= threshold */
	__u32 first_empty_bucket; /* out: first histogram index holding 0, 8 if none */
};

struct flow_acc {
	__u64 threshold, total, max;
	__u32 max_flow, flows, heavy;
};

static long sum_flow(struct bpf_map *map, __u32 *key, __u64 *bytes, struct flow_acc *acc)
{
	acc->flows++;
	acc->total += *bytes;
	if (*bytes >= acc->threshold)
		acc->heavy++;
	if (*bytes > acc->max || (*bytes == acc->max && *key < acc->max_flow)) {
		acc->max = *bytes;
		acc->max_flow = *key;
	}
	return 0;		/* continue */
}

static long find_empty(struct bpf_map *map, __u32 *key, __u64 *count, __u32 *found)
{
	if (*count == 0) {
		*found = *key;
		return 1;	/* stop iterating */
	}
	return 0;
}

SEC("syscall")
int summarize(struct summary_args *args)
{
	struct flow_acc acc = { .threshold = args->threshold, .max_flow = ~0U };
	__u32 empty = 8;

	bpf_for_each_map_elem(&flow_bytes, sum_flow, &acc, 0);
	bpf_for_each_map_elem(&histogram, find_empty, &empty, 0);

	args->total_bytes = acc.total;
	args->max_bytes = acc.max;
	args->max_flow = acc.flows ? acc.max_flow : 0;
	args->flows = acc.flows;
	args->heavy_flows = acc.heavy;
	args->first_empty_bucket = empty;
	return acc.flows;
}

char LICENSE[] SEC("license") = "GPL";
