#!/usr/bin/env bash
# run_corpus.sh - the real-capture checks.
#
# Usage: tests/run_corpus.sh [--build DIR] [--asan-build DIR] [--pcap-dir DIR]
#   --build DIR       tree holding cli/dpf and tests/corpus_oracle (default build)
#   --asan-build DIR  also run DIR's oracle and replay every capture with
#                     DIR/cli/dpf (the ASan+UBSan build)
#   --pcap-dir DIR    captures (default ../shared/corpus/pcap beside the tree)
#
# 1. Oracle: tests/corpus/filters.dpf against libpcap on every Ethernet
#    capture, per packet and per `dpf replay --json` count (corpus_oracle).
#    Its full report goes to DIR/corpus/oracle.log; failures, the filter
#    table and the summary are shown here.
# 2. Robustness: `dpf replay` of every capture, whatever its link type,
#    under `timeout 10`.  Exit 0 or 1 (bad input, with a message) is fine;
#    a signal, a timeout or any other status fails.
# Exit status: 0 pass, 1 fail, 77 when the capture directory is absent.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=build
asan_build=
pcaps="$root/../shared/corpus/pcap"
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--asan-build) asan_build=$2; shift 2 ;;
	--pcap-dir) pcaps=$2; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "run_corpus: unknown argument $1" >&2; exit 2 ;;
	esac
done
case "$build" in /*) ;; *) build="$root/$build" ;; esac
if [ -n "$asan_build" ]; then
	case "$asan_build" in /*) ;; *) asan_build="$root/$asan_build" ;; esac
fi

if [ ! -d "$pcaps" ]; then
	echo "SKIP corpus: ../shared/corpus/pcap not found"
	exit 77
fi
filters="$root/tests/corpus/filters.dpf"
dpf="$build/cli/dpf"
oracle="$build/tests/corpus_oracle"
for f in "$dpf" "$oracle"; do
	if [ ! -x "$f" ]; then
		echo "run_corpus: $f not built (make build)" >&2
		exit 1
	fi
done

fail=0
mkdir -p "$build/corpus"

# ---- 1. oracle ----
log="$build/corpus/oracle.log"
"$oracle" -f "$filters" -d "$pcaps" --dpf "$dpf" >"$log" 2>&1
st=$?
# Everything but the per-capture "ok" lines.
grep -v '^  ok ' "$log"
echo "per-capture report: $log"
if [ $st -eq 77 ]; then
	exit 77
elif [ $st -ne 0 ]; then
	echo "FAIL corpus oracle (exit $st); full report in $log"
	fail=1
fi

# The same under the sanitizers, quietly: only failing captures print.
if [ -n "$asan_build" ] && [ -x "$asan_build/tests/corpus_oracle" ] &&
	[ -x "$asan_build/cli/dpf" ]; then
	alog="$build/corpus/oracle-asan.log"
	"$asan_build/tests/corpus_oracle" -q -f "$filters" -d "$pcaps" \
		--dpf "$asan_build/cli/dpf" >"$alog" 2>&1
	ast=$?
	grep -E '^  FAIL|^    |Sanitizer|runtime error' "$alog" | head -n 40
	echo "asan $(grep '^corpus: [0-9]* captures' "$alog" || echo 'corpus: no summary line')"
	if [ $ast -ne 0 ]; then
		echo "FAIL corpus oracle under ASan/UBSan (exit $ast); full report in $alog"
		fail=1
	fi
fi

# ---- 2. robustness ----
# Replay every capture with one binary; refusals (exit 1) are listed in
# $build/corpus/refused-LABEL.txt as "NAME<TAB>first line of the message".
replay_all() {
	local bin=$1 label=$2
	local n=0 ok=0 refused=0 bad=0 out st name
	local list="$build/corpus/refused-$label.txt"
	: >"$list"
	for f in "$pcaps"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		name=$(basename "$f")
		# Sanitizer reports exit 86, apart from the CLI's own statuses.
		out=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86" \
			UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=86" \
			timeout -k 5 10 "$bin" replay -r "$f" "$filters" 2>&1 >/dev/null)
		st=$?
		if [ $st -le 1 ] && grep -qE 'Sanitizer|runtime error:' <<<"$out"; then
			st=86
		fi
		case $st in
		0) ok=$((ok + 1)) ;;
		1)
			refused=$((refused + 1))
			# The message without the leading path, for grouping.
			printf '%s\t%s\n' "$name" "$(head -n1 <<<"$out" | sed "s|^$f: ||")" >>"$list"
			;;
		124|137) echo "FAIL replay ($label) $name: timed out after 10 s"; bad=$((bad + 1)) ;;
		*)
			if [ $st -gt 128 ]; then
				echo "FAIL replay ($label) $name: killed by signal $((st - 128))"
			else
				echo "FAIL replay ($label) $name: exit status $st"
			fi
			printf '%s\n' "$out" | head -n 5 | sed 's/^/    /'
			bad=$((bad + 1))
			;;
		esac
	done
	if [ "$label" != release ] && [ -f "$build/corpus/refused-release.txt" ] &&
		cmp -s "$list" "$build/corpus/refused-release.txt"; then
		echo "refused as bad input ($label): the same $refused captures as release"
	elif [ $refused -gt 0 ]; then
		echo "refused as bad input ($label), by message:"
		cut -f2 "$list" | sort | uniq -c | sort -rn | while read -r count msg; do
			names=$(awk -F'\t' -v m="$msg" '$2 == m {print $1}' "$list" | paste -sd' ')
			echo "  $count x $msg"
			fold -s -w 94 <<<"$names" | sed 's/ *$//; s/^/      /'
		done
	fi
	echo "replay ($label): $n captures, $ok read, $refused refused (exit 1), $bad failed"
	[ $bad -eq 0 ]
}

replay_all "$dpf" release || fail=1
if [ -n "$asan_build" ]; then
	if [ -x "$asan_build/cli/dpf" ]; then
		replay_all "$asan_build/cli/dpf" asan || fail=1
	else
		echo "run_corpus: $asan_build/cli/dpf not built; sanitizer replay skipped"
	fi
fi
exit $fail
