#!/bin/sh
# Rebuild the test objects of this directory (needs clang-14 and libbpf-dev).
set -e
cd "$(dirname "$0")"
for src in *.bpf.c; do
	clang-14 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o"
done
