#!/bin/sh
# run_linux.sh BUILD OUTDIR - the Linux half of the handler differential
# test: one ash_trace trace (OUTDIR/trace.pcap), and every example of
# BUILD/ash/examples run through ash_linux_run into OUTDIR/NAME.jsonl.
# Exit 77 when the kernel refuses bpf() (not root), 1 when an example
# does not load.
set -u
build=${1:?usage: run_linux.sh BUILD OUTDIR}
out=${2:?usage: run_linux.sh BUILD OUTDIR}
mkdir -p "$out" || exit 1
"$build/tests/ash/ash_trace" "$out/trace.pcap" || exit 1
status=0
for obj in "$build"/ash/examples/*.o; do
	name=$(basename "$obj" .o)
	"$build/tests/ash/ash_linux_run" "$obj" "$out/trace.pcap" \
		> "$out/$name.jsonl" 2> "$out/$name.err"
	rc=$?
	[ $rc -eq 77 ] && { cat "$out/$name.err" >&2; exit 77; }
	if [ $rc -ne 0 ]; then
		echo "$name: failed (see $out/$name.err)" >&2
		status=1
	else
		printf '%s:' "$name"
		grep -o '"action":"[a-z]*"' "$out/$name.jsonl" | sort | uniq -c |
			awk '{ sub(/"action":/, "", $2); printf " %s %s", $2, $1 }'
		echo
	fi
done
exit $status
