# Charts for bench/compare.sh. Called as
#   gnuplot -e "datadir='D'; outdir='O'; servers='ringd prosody ejabberd'; msgrate='4000';
#               tput='1 1 1 1'; lat='1 1'; callservers='ringd ejabberd'; mem=1" bench/plot.gp
# Reads the .dat files compare.sh writes into datadir (one header line,
# then one row per server or per offered load; NaN where not measured).
# tput and lat say which panels have at least one value, callservers which
# servers have call data, mem whether ringd's memory points exist: gnuplot
# stops at a plot with no valid point at all, so those are not drawn.

set terminal pngcairo size 1200,800 font "sans,11" noenhanced
set datafile missing "NaN"
set key noautotitle
set grid ytics lc rgb "#dddddd"
set style fill solid 0.85 border -1
set boxwidth 0.6
set yrange [0:*]
set fit quiet
set fit logfile "/dev/null"
# An empty panel that says why it is empty.
empty(t) = sprintf("%s: not measured", t)
# One colour per server, in the order of `servers`.
colors = "#1b7837 #2166ac #b2182b"
color(i) = word(colors, i)
rgb(i) = (i == 1) ? 0x1b7837 : (i == 2) ? 0x2166ac : 0xb2182b

# Throughput: one panel per scenario, one bar per server.
set output outdir."/throughput.png"
set offsets 0, 0, graph 0.12, 0 # room for the value above the tallest bar
set xrange [-0.6:words(servers) - 0.4]
set multiplot layout 2,2 title "Throughput, server pinned to one core (medians)"
array panel[4] = ["logins/s", "messages/s", "presence deliveries/s", "call setups/s at saturation"]
do for [col = 2:5] {
	set title panel[col - 1]
	if (word(tput, col - 1) eq "1") {
		plot datadir."/throughput.dat" using 0:col:(rgb($0 + 1)):xtic(1) skip 1 with boxes lc rgb variable, \
		     "" using 0:col:(sprintf("%.0f", column(col))) skip 1 with labels offset 0,0.8
	} else {
		set title empty(panel[col - 1])
		plot [0:1] [0:1] NaN
	}
}
unset multiplot
set offsets 0, 0, 0, 0
set xrange [*:*]

# Latency: p50 and p99 per server, log scale.
set output outdir."/latency.png"
set multiplot layout 1,2 title "Latency at a fixed offered load (medians of runs), ms, log scale"
set logscale y
set yrange [*:*]
set format y "%g"
set style data histograms
set style histogram clustered gap 1
set key top left
# Only fixed offered loads: at "as fast as possible" the latency is the
# depth of the queue the tool keeps, not the server's.
array lpanel[2] = ["messages at ".msgrate."/s offered", "calls at 500/s offered"]
do for [i = 1:2] {
	set title lpanel[i]
	if (word(lat, i) eq "1") {
		plot datadir."/latency.dat" using 2 * i:xtic(1) skip 1 title "p50" lc rgb "#92c5de", \
		     "" using 2 * i + 1 skip 1 title "p99" lc rgb "#2166ac"
	} else {
		set title empty(lpanel[i])
		plot [0:1] [1:10] NaN
	}
}
unset multiplot
unset logscale y
set style data lines

# Calls: achieved rate and setup latency against offered load.
set output outdir."/calls.png"
set multiplot layout 1,2 title "Call set-up (XEP-0353 + Jingle) against offered load"
set logscale x
set logscale y
set xlabel "offered setups/s"
set xtics (100, 250, 500, 1000, 2000, 4000, 8000)
set xrange [70:11000]
set key top left
set yrange [*:*]
set format y "%g"
# A server keeps its colour from `servers` whichever of them have calls.
ci(name) = sum [j = 1:words(servers)] (word(servers, j) eq name ? j : 0)
if (words(callservers) > 0) {
	set title "achieved setups/s"
	set ylabel "setups/s"
	set yrange [50:*]
	plot for [s in callservers] datadir."/calls-".s.".dat" using 1:2 skip 1 \
		with linespoints lw 2 pt 7 lc rgb color(ci(s)) title s, \
		x with lines dt 2 lc rgb "#888888" title "offered"
	set title "set-up latency, ms (solid p50, dashed p99)"
	set ylabel "ms"
	set yrange [*:*]
	plot for [s in callservers] datadir."/calls-".s.".dat" using 1:3 skip 1 \
		with linespoints lw 2 pt 7 lc rgb color(ci(s)) title s." p50", \
		for [s in callservers] datadir."/calls-".s.".dat" using 1:4 skip 1 \
		with linespoints lw 2 pt 5 dt 2 lc rgb color(ci(s)) title s." p99"
} else {
	unset logscale
	set title empty("calls")
	plot [0:1] [0:1] NaN
}
unset multiplot
unset logscale
unset xlabel
unset ylabel

# ringd memory: RSS growth against idle TLS sessions, with the fitted slope.
if (mem) {
	set output outdir."/ringd-memory.png"
	set terminal pngcairo size 900,600
	f(x) = a * x + b
	a = 0.01; b = 1
	fit f(x) datadir."/ringd-memory.dat" using 1:2 skip 1 via a, b
	set title sprintf("ringd RSS growth per idle TLS session: %.1f KiB (least squares)", a * 1024)
	set xlabel "sessions"
	set ylabel "RSS growth, MiB"
	set yrange [0:*]
	set xrange [0:*]
	set format x "%.0f"
	set xtics autofreq
	set key top left
	plot datadir."/ringd-memory.dat" using 1:2 skip 1 with points pt 7 ps 1.5 lc rgb color(1) title "measured (median)", \
	     f(x) with lines lc rgb "#888888" title "fit"
}
