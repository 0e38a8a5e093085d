// .kconfig externs as libbpf resolves them: the kernel version, config values of several
// types, a weak extern the kernel lacks. A syscall program copies them into its ctx.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <stdbool.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;
extern unsigned long long CONFIG_BPFVM_NOT_A_CONFIG __kconfig __weak;

struct facts {
	unsigned int version;
	int hz;
	unsigned char has_cookie;
	unsigned char bpf_syscall;
	char hostname[16];
	unsigned long long missing;
};

SEC("syscall")
int kconfig_facts(struct facts *out)
{
	out->version = LINUX_KERNEL_VERSION;
	out->hz = CONFIG_HZ;
	out->has_cookie = LINUX_HAS_BPF_COOKIE;
	out->bpf_syscall = CONFIG_BPF_SYSCALL;
	__builtin_memcpy(out->hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(out->hostname));
	out->missing = CONFIG_BPFVM_NOT_A_CONFIG;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
