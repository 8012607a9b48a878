# plot_ash.gp - draws what bench_ash measured: one group of bars per
# handler, one bar per engine (DPF interpreter, DPF x86, Linux JIT,
# native clang -O2) and, for the handlers with a raw-memory variant
# (bench/dpdk), three more on that variant (DPF x86 raw mode, DPDK's
# JIT, native clang -O2), ns/packet on a log scale.
#
#   gnuplot -e "csv='build/bench/ash.csv'; out='build/bench/ash.png'" \
#           bench/plot_ash.gp
#
# Reads the CSV `bench_ash --csv` writes (NaN where a column was not
# measured) and writes OUT (PNG).
if (!exists("csv")) csv = "build/bench/ash.csv"
if (!exists("out")) out = "build/bench/ash.png"

set datafile separator ","
set datafile missing "NaN"
set terminal pngcairo size 1320,600 noenhanced font ",11"
set output out
set title "bench_ash: handler cost per packet (lower is better)"
set ylabel "ns per packet (log scale)"
set logscale y
set grid ytics
set key outside right top
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -35 scale 0
# every ::1 skips the line of column names
plot csv every ::1 using 2:xtic(1) title "DPF interpreter", \
     "" every ::1 using 3 title "DPF x86", \
     "" every ::1 using 4 title "Linux JIT", \
     "" every ::1 using 5 title "native clang -O2", \
     "" every ::1 using 13 title "DPF x86, raw variant", \
     "" every ::1 using 14 title "DPDK JIT, raw variant", \
     "" every ::1 using 19 title "native, raw variant"
set output
