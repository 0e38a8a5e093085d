#!/bin/sh
# Rebuild the committed test objects (clang-14; the .o files are committed so tests need no
# compiler). Run from anywhere: sh tests/unit/btf/data/build.sh
set -e
cd "$(dirname "$0")"
for src in *.c; do
	clang-14 -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o"
done
