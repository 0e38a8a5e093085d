#!/bin/sh
# Rebuild examples/bench/*.bpf.c into the *.bpf.o committed next to them (the programs
# bench/jit_speed.py times on bpfvm's JIT, the kernel and, as native.c, gcc -O2).
#
# Deterministic as examples/build.sh: same clang, same flags, bare file names, the directory
# mapped to "." in the debug info. Needs clang-14 and the libbpf headers (libbpf-dev).
#
# Usage: examples/bench/build.sh [NAME ...]     (default: all)
set -eu

CLANG=${CLANG:-clang-14}
ARCH_INCLUDE=${ARCH_INCLUDE:-/usr/include/$(uname -m)-linux-gnu}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if [ $# -eq 0 ]; then
	set -- $(ls *.bpf.c | sed 's/\.bpf\.c$//')
fi

for name in "$@"; do
	echo "  CC  bench/$name.bpf.o"
	"$CLANG" -O2 -g -target bpf -Wall -Werror \
		-I"$ARCH_INCLUDE" \
		-fdebug-prefix-map="$here=." -fdebug-compilation-dir=. \
		-c "$name.bpf.c" -o "$name.bpf.o"
done
