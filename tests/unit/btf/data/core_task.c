// CO-RE relocations against task_struct (built by build.sh; see README there).
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define __pai __attribute__((preserve_access_index))

struct task_struct {
	int pid;
	int tgid;
	unsigned long long flags; /* unsigned int in the kernel: the load shrinks to 4 bytes */
	char comm[16];
	struct task_struct *real_parent;
} __pai;

/* state was renamed __state in 5.14: the classic flavour pair */
struct task_struct___old {
	long state;
} __pai;

struct task_struct___new {
	unsigned int __state;
} __pai;

struct task_struct___bogus {
	int no_such_field;
} __pai;

struct task_struct___signed {
	long long pid; /* signed and wider than the kernel's int: cannot be resized, poisoned */
} __pai;

struct does_not_exist {
	int x;
};

char LICENSE[] SEC("license") = "GPL";

SEC("raw_tracepoint/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	int ppid = BPF_CORE_READ(t, real_parent, tgid);
	int pid = BPF_CORE_READ(t, pid);
	char c = BPF_CORE_READ(t, comm[3]);
	char comm[16];

	bpf_core_read(&comm, bpf_core_field_size(t->comm), &t->comm);
	return ppid + pid + c + comm[0];
}

SEC("raw_tracepoint/sys_exit")
int exists(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	int r = 0;

	if (bpf_core_field_exists(((struct task_struct___old *)t)->state))
		r += 1;
	if (bpf_core_field_exists(((struct task_struct___new *)t)->__state))
		r += BPF_CORE_READ((struct task_struct___new *)t, __state);
	if (bpf_core_type_exists(struct does_not_exist))
		r += 4;
	if (bpf_core_type_exists(struct task_struct))
		r += 8;
	r += bpf_core_type_size(struct task_struct);
	r += bpf_core_type_id_kernel(struct task_struct);
	r += bpf_core_type_id_local(struct task_struct);
	return r;
}

SEC("fentry/do_nanosleep")
int direct(unsigned long long *ctx)
{
	struct task_struct *t = (void *)ctx[0];

	return t->pid + t->flags;
}

SEC("fentry/do_exit")
int poisoned(unsigned long long *ctx)
{
	struct task_struct *t = (void *)ctx[0];
	int r = BPF_CORE_READ((struct task_struct___bogus *)t, no_such_field);

	return r + ((struct task_struct___signed *)t)->pid;
}
