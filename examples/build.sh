#!/bin/sh
# Rebuild every examples/c/*.bpf.c into the *.bpf.o committed next to it, and the packets.
#
# Deterministic: same clang, same flags, sources compiled from inside examples/c under their
# bare file names, and the working directory mapped to "." in the debug info, so the objects
# are byte-identical wherever the checkout lives. Needs clang-14 and the libbpf headers
# (libbpf-dev: /usr/include/bpf); tests need neither, only the committed objects.
#
# Usage: examples/build.sh [NAME ...]     (default: all)
set -eu

CLANG=${CLANG:-clang-14}
ARCH_INCLUDE=${ARCH_INCLUDE:-/usr/include/$(uname -m)-linux-gnu}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/c"

if [ $# -eq 0 ]; then
	set -- $(ls *.bpf.c | sed 's/\.bpf\.c$//')
fi

for name in "$@"; do
	echo "  CC  c/$name.bpf.o"
	"$CLANG" -O2 -g -target bpf -Wall -Werror \
		-I"$ARCH_INCLUDE" \
		-fdebug-prefix-map="$here/c=." -fdebug-compilation-dir=. \
		-c "$name.bpf.c" -o "$name.bpf.o"
done

python3 "$here/packets/make_packets.py" "$here/packets"
