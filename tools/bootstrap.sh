#!/usr/bin/env bash
# bootstrap.sh - make sure this machine can build and test DPF.
#
# Checks, without touching the network, that the tools and libraries the
# build needs are present:
#   commands  cmake make gcc clang pkg-config
#   libraries libc6-dev, libpcap-dev, libcriterion-dev, libbpf-dev,
#             libelf-dev and libdpdk-dev (through pkg-config); libbpf loads
#             the benchmark's eBPF peers and opens handler objects, libelf
#             reads them, DPDK's librte_bpf is the handler benchmark's
#             DPDK JIT peer
#   gnuplot   the benchmark's plots (gnuplot-nox)
#   xxd       turns hex into the fuzzers' handler seeds (xxd)
#   QEMU      qemu-system-x86_64, which boots the kernel-shim in the tests
#             and in `dpf boot` (qemu-system-x86)
#   libFuzzer the clang runtime library libclang_rt.fuzzer (libclang-rt-dev)
#   LLVM 19   llvm-config-19 and the C disassembler headers, linked into
#             `dpf` for `dpf compile --emit=asm` (llvm-19-dev)
# When everything is there it prints nothing and exits 0 quickly, so it is
# safe to run before every build.  When something is missing:
#   as root   apt-get update once, then apt-get install the missing packages;
#   otherwise print the exact `sudo apt-get install` line and exit 1.
set -euo pipefail

missing=()

need_pkg() {
	local p
	for p in "$@"; do
		case " ${missing[*]-} " in
		*" $p "*) ;;
		*) missing+=("$p") ;;
		esac
	done
}

# Commands, each mapped to the Debian package that provides it.
for cmd in cmake make gcc clang pkg-config; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		need_pkg "$cmd"
	fi
done

# The C library headers: gcc only recommends them, and installs here skip
# recommendations.
if [ ! -e /usr/include/stdio.h ]; then
	need_pkg libc6-dev
fi

# Libraries: ask pkg-config when it exists, else assume they are missing.
if command -v pkg-config >/dev/null 2>&1; then
	pkg-config --exists libpcap || need_pkg libpcap-dev
	pkg-config --exists criterion || need_pkg libcriterion-dev
	pkg-config --exists libbpf || need_pkg libbpf-dev
	pkg-config --exists libelf || need_pkg libelf-dev
	pkg-config --exists libdpdk || need_pkg libdpdk-dev
else
	need_pkg libpcap-dev libcriterion-dev libbpf-dev libelf-dev libdpdk-dev
fi
command -v gnuplot >/dev/null 2>&1 || need_pkg gnuplot-nox
command -v xxd >/dev/null 2>&1 || need_pkg xxd
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkg qemu-system-x86

# LLVM 19: the build asks llvm-config-19 where the headers and the shared
# libLLVM are; llvm-19-dev brings both (and llvm-config-19 through llvm-19).
if ! command -v llvm-config-19 >/dev/null 2>&1 ||
	[ ! -e /usr/lib/llvm-19/include/llvm-c/Disassembler.h ]; then
	need_pkg llvm-19-dev
fi

# The libFuzzer runtime ships apart from clang on Debian and Ubuntu.  Look
# for the archive where this clang searches for its runtimes.
fuzzer_runtime_present() {
	command -v clang >/dev/null 2>&1 || return 1
	local dir arch
	arch=$(uname -m)
	dir=$(clang -print-runtime-dir 2>/dev/null) || return 1
	[ -e "$dir/libclang_rt.fuzzer-$arch.a" ] || [ -e "$dir/libclang_rt.fuzzer.a" ] ||
		[ -e "$(clang -print-file-name="libclang_rt.fuzzer-$arch.a")" ]
}
if ! fuzzer_runtime_present; then
	need_pkg libclang-rt-dev
fi

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bootstrap: missing: ${missing[*]}" >&2
	echo "bootstrap: run:" >&2
	echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "bootstrap: missing: ${missing[*]}; no apt-get here, install them by hand" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "bootstrap: installing: ${missing[*]}" >&2
apt-get update -qq

# Older releases have no libclang-rt-dev metapackage: fall back to the
# runtime package of the installed (or about to be installed) clang.
pkgs=()
for p in "${missing[@]}"; do
	if [ "$p" = libclang-rt-dev ] && ! apt-cache show libclang-rt-dev >/dev/null 2>&1; then
		ver=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1)
		if [ -n "$ver" ] && apt-cache show "libclang-rt-$ver-dev" >/dev/null 2>&1; then
			p="libclang-rt-$ver-dev"
		elif [ -n "$ver" ]; then
			p="libclang-common-$ver-dev"
		fi
	fi
	pkgs+=("$p")
done
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null

if [[ " ${missing[*]} " == *" libclang-rt-dev "* ]] && ! fuzzer_runtime_present; then
	echo "bootstrap: installed ${pkgs[*]} but libclang_rt.fuzzer is still not found" >&2
	exit 1
fi
echo "bootstrap: done" >&2
