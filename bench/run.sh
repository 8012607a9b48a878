#!/usr/bin/env bash
# run.sh - the demultiplexing benchmark and its plots, in one command.
#
#   bench/run.sh [--quick] [--bin PATH] [--out DIR]
#
# Runs bench_demux (default build/bench/bench_demux) writing DIR (default
# build/bench), then bench/plot.gp over DIR.  Exits non-zero when the
# benchmark does (an engine disagreed, or something failed to build or
# load), or when gnuplot fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=build/bench/bench_demux
out=build/bench
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) args+=(--quick) ;;
	--bin) bin=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
"$bin" "${args[@]}" --out "$out"
gnuplot -e "dir='$out'" "$here/plot.gp"
for f in classify-tcp-flows classify-udp-ports classify-mixed \
	insert-tcp-flows insert-udp-ports; do
	for ext in png svg; do
		[ -s "$out/$f.$ext" ] || { echo "run.sh: $out/$f.$ext not written" >&2; exit 1; }
	done
done
echo "run.sh: wrote $out/demux.csv, $out/demux.md and the plots (*.png, *.svg)"
