# description: a cgroup_sock program returns a map value pointer
# prog_type: cgroup_sock
# attach_type: cgroup_inet_sock_create
# maps: [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
# intent: reject
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call bpf_map_lookup_elem
if r0 == 0 goto out
exit
out:
r0 = 1
exit
