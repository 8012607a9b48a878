#!/usr/bin/env bash
# run_fuzz.sh - run every libFuzzer harness for a fixed time.
#
# Usage: tests/run_fuzz.sh [--build DIR] [--time SECONDS] [--keep]
#                          [--gendiff BIN] [NAME...]
#        tests/run_fuzz.sh [--build DIR] --save [NAME...]
#        tests/run_fuzz.sh [--build DIR] --report
#   --build DIR   the DPF_FUZZ=ON build tree (default build-fuzz)
#   --time N      seconds per harness (default 20)
#   --keep        grow DIR/corpus-long/NAME across runs instead of starting
#                 from a fresh DIR/corpus/NAME, and add each run's CPU time,
#                 executions and coverage to DIR/corpus-long/ledger.tsv
#   --save        minimise DIR/corpus-long/NAME together with the saved
#                 corpus tests/fuzz/corpus/NAME (libFuzzer -merge=1: the
#                 fewest inputs that keep every feature) and write the
#                 result back to tests/fuzz/corpus/NAME, at most
#                 FUZZ_SAVE_KB KiB a harness (default 192: past it the
#                 largest inputs are left out); nothing is fuzzed
#   --report      the ledger summed per harness: CPU time, executions,
#                 failed runs (crash, leak, timeout), and the coverage
#                 the last run reached
#   --gendiff BIN after the harnesses, the engine differential test on
#                 random programs: BIN (tests/ash/ash_gendiff of a release
#                 build) over 10,000,000 (program, frame) pairs, two
#                 processes of 4 seeds x 250 programs x 5,000 frames, and
#                 at once a third run that also compares 300 programs with
#                 Linux (skipped inside it when bpf() is not permitted)
#   NAME...       only these harnesses (default: every DIR/tests/fuzz_*)
#
# Before a harness is fuzzed, its saved corpus tests/fuzz/corpus/NAME/
# (minimised inputs kept from long runs, committed) is replayed once as a
# regression test: any input that crashes, leaks or times out fails the
# run.  Fuzzing then also starts from it (it is read, never written).
#
# Each harness starts from its seeds: tests/fuzz/seeds/NAME/, plus, made
# here, copies of the project's .dpf files (fuzz_parse) and their binary IR
# from `dpf compile --emit=irbin` (fuzz_ir), and small captures from
# `dpf gen` (fuzz_pcap), the handler examples (fuzz_ash_elf) and the
# conformance programs (fuzz_ash_verify), and a control-channel session written by
# fuzz_ctl itself (DPF_FUZZ_CTL_SEED).  A harness that crashes, leaks,
# times out or exceeds its memory fails the run; the input that did it is
# kept as DIR/artifacts/NAME-crash-* (reproduce: DIR/tests/NAME FILE).
# Exit status: 0 when every harness ran clean, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=build-fuzz
secs=20
keep=0
save=0
save_kb=${FUZZ_SAVE_KB:-192}
report=0
gendiff=
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--time) secs=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--save) save=1; shift ;;
	--report) report=1; shift ;;
	--gendiff) gendiff=$2; shift 2 ;;
	-h|--help) sed -n '2,43p' "$0"; exit 0 ;;
	-*) echo "run_fuzz: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1"); shift ;;
	esac
done
case "$build" in /*) ;; *) build="$root/$build" ;; esac
ledger="$build/corpus-long/ledger.tsv"
saved="$root/tests/fuzz/corpus"

# ---- --report: the long runs' ledger, per harness ----
if [ $report -eq 1 ]; then
	if [ ! -s "$ledger" ]; then
		echo "run_fuzz: no ledger at $ledger (run \`make fuzz-long\` first)" >&2
		exit 1
	fi
	# ledger columns: date name cpu_seconds executions status cov ft corpus
	printf '%-16s %8s %14s %5s %7s %6s %7s %6s  %s\n' harness "CPU h" \
		executions runs failed cov ft corpus "last run"
	awk -F'\t' '
		{ cpu[$2] += $3; ex[$2] += $4; runs[$2]++; if ($5 != 0) bad[$2]++
		  cov[$2] = $6; ft[$2] = $7; corp[$2] = $8; last[$2] = $1 }
		END {
			for (h in cpu)
				printf "%-16s %8.3f %14d %5d %7d %6s %7s %6s  %s\n", h,
					cpu[h] / 3600, ex[h], runs[h], bad[h] + 0, cov[h], ft[h],
					corp[h], last[h]
		}' "$ledger" | sort
	exit 0
fi

if [ ${#names[@]} -eq 0 ]; then
	for b in "$build"/tests/fuzz_*; do
		[ -x "$b" ] && names+=("$(basename "$b")")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "run_fuzz: no harnesses in $build/tests (configure with CC=clang -DDPF_FUZZ=ON)" >&2
	exit 1
fi

# ---- seeds made at run time ----
gen="$build/seeds"
rm -rf "$gen"
mkdir -p "$gen/fuzz_parse" "$gen/fuzz_ir" "$gen/fuzz_pcap" "$gen/fuzz_ctl" \
	"$build/artifacts"
dpf_files=("$root"/tests/fuzz/seeds/fuzz_parse/*.dpf "$root"/tests/corpus/*.dpf "$root"/examples/*.dpf)
i=0
for f in "${dpf_files[@]}"; do
	[ -f "$f" ] || continue
	i=$((i + 1))
	cp "$f" "$gen/fuzz_parse/$i-$(basename "$f")"
	if [ -x "$build/cli/dpf" ]; then
		"$build/cli/dpf" compile "$f" --emit=irbin -o "$gen/fuzz_ir/$i-$(basename "$f" .dpf).ir" \
			>/dev/null 2>&1 || rm -f "$gen/fuzz_ir/$i-$(basename "$f" .dpf).ir"
	fi
done
if [ -x "$build/cli/dpf" ]; then
	for seed in 1 2 3; do
		"$build/cli/dpf" gen --flows 4 --packets $((seed * 6)) --seed $seed \
			-o "$gen/fuzz_pcap/gen-$seed.pcap" >/dev/null 2>&1 ||
			rm -f "$gen/fuzz_pcap/gen-$seed.pcap"
	done
fi
if [ -x "$build/tests/fuzz_ctl" ]; then
	DPF_FUZZ_CTL_SEED="$gen/fuzz_ctl/session" "$build/tests/fuzz_ctl" -runs=0 \
		>/dev/null 2>&1 || echo "run_fuzz: warning: fuzz_ctl wrote no seed session" >&2
fi
# the admission credential's and owner 1's and 2's placeholders, the control EtherType
cat >"$gen/fuzz_ctl.dict" <<'EOF'
"\xCA\xFE\xCA\xFE\xCA\xFE\xCA\x00"
"\xCA\xFE\xCA\xFE\xCA\xFE\xCA\x01"
"\xCA\xFE\xCA\xFE\xCA\xFE\xCA\x02"
"\x88\xB6"
EOF
# Handlers: the example objects; the conformance programs as raw-memory
# inputs (mode 0, memory length, memory, instructions).
mkdir -p "$gen/fuzz_ash_elf" "$gen/fuzz_ash_verify" "$gen/fuzz_ash_gen"
# The generator's random stream: a few fixed pseudo-random strings.
for k in 1 2 3 4 5 6 7 8; do
	RANDOM=$k
	for ((b = 0; b < 96 * k; b++)); do
		printf '%02x' $((RANDOM % 256))
	done | xxd -r -p >"$gen/fuzz_ash_gen/stream-$k"
done
for o in "$build"/ash/examples/*.o; do
	[ -f "$o" ] && cp "$o" "$gen/fuzz_ash_elf/"
done
cases="$root/../shared/peers/bpf_conformance/cases.jsonl"
if [ -f "$cases" ]; then
	k=0
	sed -n 's/.*"program":"\([0-9a-f]*\)","mem":"\([0-9a-f]*\)".*/\1 \2/p' "$cases" |
	while read -r prog mem; do
		k=$((k + 1))
		[ ${#mem} -le 510 ] || continue
		printf '00%02x%s%s' $((${#mem} / 2)) "$mem" "$prog" | xxd -r -p \
			>"$gen/fuzz_ash_verify/conf-$k"
	done
fi
if [ -z "$(ls -A "$gen/fuzz_ir")" ]; then
	echo "run_fuzz: warning: no binary IR seeds (dpf compile --emit=irbin failed or $build/cli/dpf missing)" >&2
fi

# Words of the filter language, so short runs get past the lexer.
cat >"$gen/fuzz_parse.dict" <<'EOF'
"filter"
"priority"
"and"
"or"
"in"
"=="
"&"
"{"
"}"
"("
")"
"["
"]"
"/"
","
"eth"
"eth.src"
"eth.dst"
"eth.type"
"vlan"
"vlan.id"
"arp"
"arp.op"
"arp.spa"
"arp.tpa"
"ip"
"ip.src"
"ip.dst"
"ip.addr"
"ip.proto"
"ip.tos"
"ip.ttl"
"ip.len"
"ip.id"
"ip.off"
"ip6"
"ip6.src"
"ip6.dst"
"ip6.nxt"
"tcp"
"tcp.sport"
"tcp.dport"
"tcp.port"
"tcp.flags"
"udp"
"udp.sport"
"udp.dport"
"udp.port"
"icmp"
"icmp.type"
"icmp.code"
"icmp6"
"icmp6.type"
"icmp6.code"
"u8"
"u16"
"u32"
"0x"
"10.0.0.0/8"
"192.168.1.1"
"fe80::/10"
"2001:db8::1"
"aa:bb:cc:dd:ee:ff"
"#"
"\x0a"
EOF

max_len() {
	case "$1" in
	fuzz_parse) echo 4096 ;;
	fuzz_ir) echo 16384 ;;
	fuzz_pcap) echo 8192 ;;
	fuzz_ctl) echo 16384 ;;
	fuzz_ash_elf) echo 65536 ;;
	fuzz_ash_verify) echo 8192 ;;
	fuzz_ash_gen) echo 4096 ;;
	*) echo 2048 ;;
	esac
}

# ---- --save: minimise the long runs' corpora into tests/fuzz/corpus ----
if [ $save -eq 1 ]; then
	st=0
	for name in "${names[@]}"; do
		bin="$build/tests/$name"
		long="$build/corpus-long/$name"
		if [ ! -x "$bin" ] || [ ! -d "$long" ]; then
			echo "run_fuzz: $name: no harness or no $long; skipped" >&2
			continue
		fi
		tmp="$build/merge-$name"
		rm -rf "$tmp"
		mkdir -p "$tmp" "$saved/$name"
		if "$bin" -merge=1 -timeout=10 -rss_limit_mb=2048 \
			-max_len="$(max_len "$name")" "$tmp" "$saved/$name" "$long" \
			>"$build/$name.merge.log" 2>&1; then
			# keep the repository small: past the budget, the largest
			# inputs go first
			budget=$((save_kb * 1024))
			sum=0
			while read -r sz f; do
				sum=$((sum + sz))
				[ $sum -le $budget ] || rm -f "$tmp/$f"
			done < <(cd "$tmp" && find . -type f -printf '%s %P\n' | sort -n)
			rm -rf "${saved:?}/$name"
			mv "$tmp" "$saved/$name"
			printf 'saved %-16s %5d inputs, %s bytes\n' "$name" \
				"$(ls "$saved/$name" | wc -l)" \
				"$(du -sb "$saved/$name" | cut -f1)"
		else
			echo "run_fuzz: $name: merge failed; log $build/$name.merge.log" >&2
			st=1
		fi
	done
	exit $st
fi

pass=0
fail=0
for name in "${names[@]}"; do
	bin="$build/tests/$name"
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: $bin not built"
		fail=$((fail + 1))
		continue
	fi
	if [ $keep -eq 1 ]; then
		corpus="$build/corpus-long/$name"
	else
		corpus="$build/corpus/$name"
		rm -rf "$corpus"
	fi
	mkdir -p "$corpus"
	if [ -d "$saved/$name" ] && [ -n "$(ls -A "$saved/$name")" ]; then
		nsaved=$(ls "$saved/$name" | wc -l)
		if "$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 \
			-max_len="$(max_len "$name")" \
			-artifact_prefix="$build/artifacts/$name-saved-" "$saved/$name" \
			>"$build/$name.replay.log" 2>&1; then
			printf 'ok   %-14s %5d saved inputs replayed\n' "$name" "$nsaved"
			pass=$((pass + 1))
		else
			printf 'FAIL %-14s replay of tests/fuzz/corpus/%s; log %s\n' "$name" \
				"$name" "$build/$name.replay.log"
			grep -E 'ERROR|SUMMARY|Test unit written|^==[0-9]+==' \
				"$build/$name.replay.log" | head -n 20 || true
			fail=$((fail + 1))
		fi
	fi
	dirs=("$corpus")
	[ -d "$saved/$name" ] && dirs+=("$saved/$name")
	[ -d "$root/tests/fuzz/seeds/$name" ] && dirs+=("$root/tests/fuzz/seeds/$name")
	[ -d "$gen/$name" ] && [ -n "$(ls -A "$gen/$name")" ] && dirs+=("$gen/$name")
	opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
		-max_len="$(max_len "$name")" -print_final_stats=1
		-artifact_prefix="$build/artifacts/$name-")
	[ -f "$gen/$name.dict" ] && opts+=(-dict="$gen/$name.dict")
	log="$build/$name.log"
	t0=$(date +%s)
	tf="$build/$name.cpu"
	TIMEFORMAT='%U %S'
	if { time "$bin" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1; } 2>"$tf"; then
		st=0
	else
		st=$?
	fi
	t1=$(date +%s)
	cpu=$(awk '{ printf "%d", $1 + $2 }' "$tf" 2>/dev/null || echo 0)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	if [ $keep -eq 1 ]; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" \
			"${cpu:-0}" "${runs:-0}" "$st" "${cov:-?}" "${ft:-?}" "${corp:-?}" >>"$ledger"
	fi
	if [ $st -eq 0 ]; then
		printf 'ok   %-14s %4ss  %9s runs  cov %-5s corpus %s\n' "$name" $((t1 - t0)) \
			"${runs:-?}" "${cov:-?}" "${corp:-?}"
		pass=$((pass + 1))
	else
		printf 'FAIL %-14s exit %d after %ss; log %s\n' "$name" "$st" $((t1 - t0)) "$log"
		grep -E 'ERROR|SUMMARY|fuzz: |Test unit written|^==[0-9]+==' "$log" | head -n 20 || true
		echo "---- last lines of $log ----"
		tail -n 40 "$log"
		fail=$((fail + 1))
	fi
done

# ---- engine differential test on generated programs ----
if [ -n "$gendiff" ]; then
	if [ ! -x "$gendiff" ]; then
		echo "FAIL ash_gendiff: $gendiff not built"
		fail=$((fail + 1))
	else
		out="$build/gendiff"
		rm -rf "$out"
		mkdir -p "$out"
		t0=$(date +%s)
		"$gendiff" --seeds 1-4 --programs 250 --frames 5000 --time-budget 300 \
			--out "$out" >"$out/a.log" 2>&1 &
		pa=$!
		"$gendiff" --seeds 5-8 --programs 250 --frames 5000 --time-budget 300 \
			--out "$out" >"$out/b.log" 2>&1 &
		pb=$!
		"$gendiff" --seeds 1001 --programs 300 --frames 200 --linux 300 \
			--out "$out" >"$out/linux.log" 2>&1 &
		pl=$!
		st=0
		for p in $pa $pb $pl; do
			wait "$p" || st=1
		done
		t1=$(date +%s)
		execs=0
		for l in a b linux; do
			n=$(sed -n 's/^ash_gendiff: \([0-9]*\) executions.*/\1/p' "$out/$l.log")
			execs=$((execs + ${n:-0}))
		done
		if [ $st -eq 0 ]; then
			printf 'ok   %-14s %4ss  %9s executions (program x frame, 3 engines each)\n' \
				ash_gendiff $((t1 - t0)) "$execs"
			grep -h '^ash_gendiff: .*\(accepted\|linux\|skipped\|stopped\)' \
				"$out"/a.log "$out"/b.log "$out"/linux.log | sed 's/^/     /'
			pass=$((pass + 1))
		else
			printf 'FAIL ash_gendiff after %ss; logs in %s\n' $((t1 - t0)) "$out"
			grep -h -A 12 '^FAIL' "$out"/a.log "$out"/b.log "$out"/linux.log | head -n 60
			fail=$((fail + 1))
		fi
	fi
fi
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
