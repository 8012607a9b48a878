#!/usr/bin/env bash
# tests/install/run.sh BUILD_DIR - install the build into a temporary
# prefix and use it from there as a user would:
#   - the installed dpf runs (--version, check, gen, replay) away from the
#     build tree, and its man page is in place;
#   - it finds the installed kernel image (dpf --version names it, and
#     dpf boot boots it when QEMU is there; said and skipped otherwise);
#   - a program built with `pkg-config --cflags --libs dpf` against the
#     installed headers compiles, links (shared and static libdpf) and
#     classifies packets.
# Exit 0 pass, 1 fail, 77 skipped (no pkg-config or cc).
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*"; exit 1; }
for t in pkg-config cc cmake; do
	command -v $t >/dev/null || { echo "test_install skipped: no $t"; exit 77; }
done
tmp=$(mktemp -d /tmp/dpf_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install"; }

# Away from the build tree: a copy of the prefix somewhere else entirely.
mv "$prefix" "$tmp/moved"
prefix=$tmp/moved
cd "$tmp"
dpf=$prefix/bin/dpf
[ -x "$dpf" ] || fail "no $dpf"
[ -f "$prefix/share/man/man1/dpf.1" ] || fail "no man page"
if command -v man >/dev/null; then
	man -l "$prefix/share/man/man1/dpf.1" >man.txt 2>/dev/null
	grep -q "dpf replay -r - web.dpf" man.txt || fail "man page does not render"
fi
libdir=$(ls -d "$prefix"/lib*/ "$prefix"/lib/*-linux-gnu/ 2>/dev/null |
	while read -r d; do [ -f "$d/libdpf.a" ] && echo "$d"; done | head -1)
[ -n "$libdir" ] || fail "no libdpf.a under $prefix"
[ -e "$libdir/libdpf.so" ] || fail "no libdpf.so in $libdir"
for h in dpf/dpf.h dpf/lang/lang.h jit/jit.h; do
	[ -f "$prefix/include/dpf/$h" ] || fail "no header $h"
done

out=$("$dpf" --version) || fail "dpf --version"
echo "$out"
echo "$out" | grep -q "^dpf [0-9]" || fail "no version line"
echo "$out" | grep -qx "kernel image: $prefix/lib/dpf/kernel.elf" ||
	fail "the installed dpf does not find the installed kernel"

"$dpf" gen -o t.pcap -f t.dpf --packets 2000 --expect t.json >/dev/null || fail "gen"
"$dpf" check t.dpf >/dev/null || fail "check"
got=$("$dpf" replay -r t.pcap t.dpf --json) || fail "replay"
want=$(cat t.json)
[ "${got%%,\"bytes\"*}" = "${want%%,\"unmatched\"*}" ] || fail "replay counts: $got"

if command -v "${DPF_QEMU:-qemu-system-x86_64}" >/dev/null; then
	b=$("$dpf" boot -r t.pcap t.dpf --json 2>"$tmp/boot.err") ||
		{ cat "$tmp/boot.err"; fail "dpf boot with the installed kernel"; }
	echo "$b" | grep -q '"packets":2000,' || fail "boot: $b"
	echo "boot: the installed kernel booted and counted 2000 packets"
else
	echo "dpf boot part skipped: no QEMU"
fi

# A program against the installed library.
cat >prog.c <<'C'
#include <dpf/dpf.h>
#include <dpf/lang/lang.h>
#include <jit/jit.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	static const char text[] = "filter web { tcp.dport == 80 }\n"
	                           "filter dns { udp.dport == 53 }\n";
	struct dpf_prog *prog;
	struct dpf_diag d;
	if (dpf_lang_parse("p.dpf", text, strlen(text), &prog, &d) != 0) {
		printf("parse: %s\n", d.msg);
		return 1;
	}
	struct dpf_engine *e = dpf_engine_new(dpf_host_libc());
	int ids[2];
	for (int i = 0; i < 2; i++)
		if (dpf_insert(e, &prog->filters[i], &ids[i], &d) != 0) {
			printf("insert: %s\n", d.msg);
			return 1;
		}
	uint8_t pkt[54] = {0};
	pkt[12] = 0x08, pkt[14] = 0x45, pkt[23] = 17; /* IPv4 UDP */
	pkt[36] = 0, pkt[37] = 53;                    /* dport 53 */
	int interp = dpf_classify(e, pkt, sizeof pkt);
	int jit = jit_attach(e, jit_mem_posix(), 0, &d);
	int x86 = dpf_classify(e, pkt, sizeof pkt);
	printf("dns=%d interp=%d jit=%d x86=%d\n", ids[1], interp, jit, x86);
	dpf_engine_free(e);
	dpf_prog_free(dpf_host_libc(), prog);
	return interp == ids[1] && x86 == ids[1] && jit == 0 ? 0 : 1;
}
C
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags --libs dpf) || fail "pkg-config dpf"
echo "pkg-config --cflags --libs dpf: $flags"
cc -std=c11 -Wall -Werror -o prog prog.c $flags >cc.log 2>&1 || { cat cc.log; fail "build against libdpf.so"; }
LD_LIBRARY_PATH=$libdir ./prog || fail "prog (shared)"
LD_LIBRARY_PATH=$libdir ldd ./prog >ldd.txt
grep -q "libdpf.so.* => $libdir" ldd.txt || fail "prog did not link libdpf.so: $(cat ldd.txt)"
cc -std=c11 -Wall -Werror -o prog_static prog.c $(pkg-config --cflags dpf) \
	"$libdir/libdpf.a" $(pkg-config --libs-only-other --static dpf) -lpthread \
	>cc.log 2>&1 || { cat cc.log; fail "build against libdpf.a"; }
./prog_static || fail "prog (static)"
echo "ok: installed dpf, kernel image, man page and libdpf (shared and static)"
