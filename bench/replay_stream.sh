#!/usr/bin/env bash
# replay_stream.sh - `dpf replay` on a capture larger than memory should
# need: `dpf gen -o -` writes a generated capture into a pipe, `dpf replay
# -r -` classifies it as it arrives, and /usr/bin/time -v reports the
# replay's peak resident set.  Nothing is written to disk.
#
#   bench/replay_stream.sh [--bin build/cli/dpf] [--gib 2] [--max-rss-mb 100]
#
# Prints the stream's size, the packets, the wall time and the peak RSS;
# exits 1 when the replay fails, its packet count differs from what was
# generated, or the peak RSS reaches --max-rss-mb.  The machine's load
# changes the time, not the memory.
set -euo pipefail
bin=build/cli/dpf
gib=2
max_rss_mb=100
while [ $# -gt 0 ]; do
	case $1 in
	--bin) bin=$2; shift 2;;
	--gib) gib=$2; shift 2;;
	--max-rss-mb) max_rss_mb=$2; shift 2;;
	*) echo "usage: $0 [--bin DPF] [--gib N] [--max-rss-mb M]" >&2; exit 2;;
	esac
done
[ -x /usr/bin/time ] || { echo "$0: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# gen's default mix averages about 194 bytes a record (16 of header).
packets=$(( gib * 1024 * 1024 * 1024 / 194 ))
"$bin" gen -o /dev/null -f "$tmp/flows.dpf" --packets 1 >/dev/null
t0=$(date +%s.%N)
"$bin" gen -o - --packets "$packets" 2>/dev/null |
	tee >(wc -c >"$tmp/bytes") |
	/usr/bin/time -v -o "$tmp/time" "$bin" replay -r - "$tmp/flows.dpf" \
		--json >"$tmp/out"
t1=$(date +%s.%N)
sleep 0.2 # the byte count's subshell
got=$(sed -n 's/^{"packets":\([0-9]*\),.*/\1/p' "$tmp/out")
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time")
bytes=$(cat "$tmp/bytes")
printf 'stream   %d bytes (%.2f GiB) through a pipe\n' "$bytes" \
	"$(echo "$bytes / 1073741824" | bc -l)"
printf 'packets  %s generated, %s replayed\n' "$packets" "$got"
printf 'wall     %.1f s (generator and replay together)\n' "$(echo "$t1 - $t0" | bc -l)"
printf 'peak RSS %d KiB (%.1f MiB) of dpf replay\n' "$rss_kb" "$(echo "$rss_kb / 1024" | bc -l)"
[ "$got" = "$packets" ] || { echo "FAIL: packet count"; exit 1; }
[ "$rss_kb" -lt $(( max_rss_mb * 1024 )) ] || { echo "FAIL: peak RSS over $max_rss_mb MB"; exit 1; }
echo "ok: peak RSS under $max_rss_mb MB"
