#!/usr/bin/env bash
# linux_diff.sh - every handler example against Linux, frame by frame.
#
# Usage: tests/ash/linux_diff.sh BUILD_DIR [ENGINE]
#
# For each ash/examples object: a generated trace (ash_trace, three seeds)
# is run through the running kernel's BPF_PROG_TEST_RUN (ash_linux_run)
# and through `dpf ash run --jsonl --engine=ENGINE`; the two outputs (one
# line per frame: action, length and bytes after the handler; then every
# map) must be identical.  Objects may carry test settings in their source
# as a line "// linux-diff: --set NAME=VALUE ...", run in addition to the
# defaults.  A line "// linux-diff-ignore-map: NAME" leaves map NAME's
# contents out of the comparison (Linux's LRU maps evict approximately);
# the frames must still be equal, and DPF's map may not hold more entries
# than its max_entries says (checked by the unit tests).  A line
# "// linux-diff-skip: REASON" leaves the object out (it uses DPF's own
# helpers, which Linux refuses); the reason is printed.
# Exit status: 0 all equal, 1 a difference (the first lines of the diff
# are printed), 77 skipped when this kernel cannot load programs (not
# root, or bpf() unavailable), which ctest reports as skipped.
set -uo pipefail

build=${1:?usage: linux_diff.sh BUILD_DIR [ENGINE]}
engine=${2:-interp}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dpf="$build/cli/dpf"
lrun="$build/tests/ash/ash_linux_run"
gen="$build/tests/ash/ash_trace"
work=$(mktemp -d /tmp/dpf_linux_diff.XXXXXX)
trap 'rm -rf "$work"' EXIT

for b in "$dpf" "$lrun" "$gen"; do
	[ -x "$b" ] || { echo "linux_diff: $b is not built" >&2; exit 1; }
done

objs=()
for obj in "$build"/ash/examples/*.o; do
	src="$root/ash/examples/$(basename "$obj" .o).c"
	why=$([ -f "$src" ] && sed -n 's|^// linux-diff-skip: *||p' "$src" | head -1)
	if [ -n "$why" ]; then
		echo "linux_diff: $(basename "$obj") left out: $why"
		continue
	fi
	objs+=("$obj")
done
[ ${#objs[@]} -gt 0 ] && [ -e "${objs[0]}" ] || { echo "linux_diff: no examples in $build/ash/examples" >&2; exit 1; }

# Can this kernel run programs at all?  Ask with the first example.
"$gen" "$work/probe.pcap" --seed 1 --count 4 >/dev/null || exit 1
"$lrun" "${objs[0]}" "$work/probe.pcap" >/dev/null 2>"$work/probe.err"
st=$?
if [ $st -eq 77 ]; then
	echo "linux_diff: skipped: $(cat "$work/probe.err")" >&2
	exit 77
fi

fail=0 frames=0 runs=0
for seed in 1 2 3; do
	"$gen" "$work/trace-$seed.pcap" --seed $seed >/dev/null || exit 1
done
for obj in "${objs[@]}"; do
	name=$(basename "$obj" .o)
	src="$root/ash/examples/$name.c"
	variants=("")
	ignore=()
	if [ -f "$src" ]; then
		while IFS= read -r m; do
			ignore+=("$m")
		done < <(sed -n 's|^// linux-diff-ignore-map: *\([^ ]*\).*|\1|p' "$src")
		while IFS= read -r line; do
			variants+=("$line")
		done < <(sed -n 's|^// linux-diff: *||p' "$src")
	fi
	for v in "${variants[@]}"; do
		read -r -a extra <<<"$v"
		for seed in 1 2 3; do
			t="$work/trace-$seed.pcap"
			"$lrun" "$obj" "$t" "${extra[@]}" >"$work/linux.jsonl" 2>"$work/linux.err"
			lst=$?
			"$dpf" ash run "$obj" -r "$t" --jsonl --engine="$engine" "${extra[@]}" \
				>"$work/dpf.jsonl" 2>"$work/dpf.err"
			dst=$?
			runs=$((runs + 1))
			for m in "${ignore[@]}"; do
				for f in "$work/linux.jsonl" "$work/dpf.jsonl"; do
					sed -i "s/\"$m\":{[^}]*}/\"$m\":\"(ignored)\"/" "$f"
				done
			done
			if [ $lst -ne 0 ] || [ $dst -ne 0 ]; then
				echo "linux_diff: $name seed $seed ${v:+($v) }: linux exit $lst, dpf exit $dst" >&2
				head -5 "$work/linux.err" "$work/dpf.err" >&2
				fail=1
				continue
			fi
			if ! cmp -s "$work/linux.jsonl" "$work/dpf.jsonl"; then
				echo "linux_diff: $name seed $seed ${v:+($v) }differs from Linux (< linux, > dpf):" >&2
				diff "$work/linux.jsonl" "$work/dpf.jsonl" | head -20 >&2
				fail=1
				continue
			fi
			n=$(grep -c '^{"i":' "$work/dpf.jsonl")
			frames=$((frames + n))
		done
	done
done
echo "linux_diff: $runs runs of ${#objs[@]} handlers, $frames frames compared (engine $engine)"
exit $fail
