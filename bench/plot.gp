# plot.gp - draws what bench_demux measured, as PNG and SVG.
#
#   gnuplot -e "dir='build/bench'" bench/plot.gp
#
# Reads DIR/classify-<w>.dat and DIR/insert-<w>.dat (columns named in
# their first line; NaN where a row was not run) and writes, in DIR:
#   classify-<w>.png/.svg  ns/packet against the number of filters,
#                          log-log, one line per engine (tcp-flows,
#                          udp-ports)
#   insert-<w>.png/.svg    microseconds to add one filter against the
#                          number installed, log-log (tcp-flows, udp-ports)
#   classify-mixed.png/.svg the mixed set's ns/packet, one bar per engine
if (!exists("dir")) dir = "build/bench"

set datafile missing "NaN"
set grid
set key outside right top
set logscale xy
set xlabel "filters installed (N)"
set format x "10^{%L}"
set format y "10^{%L}"
set pointsize 1.2

engines = "interpreter x86 libpcap eBPF-each eBPF-one hand-written-C"
updaters = "x86 libpcap eBPF-each:load-one eBPF-one:reload-all"

do for [w in "tcp-flows udp-ports"] {
	do for [fmt in "png svg"] {
		if (fmt eq "png") {
			set terminal pngcairo size 900,560 noenhanced font ",11"
		} else {
			set terminal svg size 900,560 noenhanced font ",11"
		}
		set format x "%g"
		set format y "%g"
		set output sprintf("%s/classify-%s.%s", dir, w, fmt)
		set title sprintf("%s: classification cost", w)
		set ylabel "ns per packet"
		plot for [i=2:7] sprintf("%s/classify-%s.dat", dir, w) \
			using 1:i with linespoints lw 2 title word(engines, i - 1)
		set output sprintf("%s/insert-%s.%s", dir, w, fmt)
		set title sprintf("%s: adding one filter", w)
		set ylabel "microseconds (median)"
		plot for [i=2:5] sprintf("%s/insert-%s.dat", dir, w) \
			using 1:i with linespoints lw 2 title word(updaters, i - 1)
		set output
	}
}

# The mixed set has one N: bars, one per engine.
unset logscale
set logscale y
set style fill solid 0.8 border -1
set boxwidth 0.7
unset xlabel
set key off
set xrange [0.3:6.7]
set xtics ("interpreter" 1, "x86" 2, "libpcap" 3, "eBPF each" 4, \
	"eBPF one" 5, "hand-written C" 6)
do for [fmt in "png svg"] {
	if (fmt eq "png") {
		set terminal pngcairo size 900,560 noenhanced font ",11"
	} else {
		set terminal svg size 900,560 noenhanced font ",11"
	}
	set output sprintf("%s/classify-mixed.%s", dir, fmt)
	set title "mixed site set: classification cost"
	set ylabel "ns per packet (log scale)"
	plot for [i=2:7] sprintf("%s/classify-mixed.dat", dir) \
		using (i - 1):i with boxes lc i - 1
	set output
}
