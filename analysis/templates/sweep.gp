# sweep.gp - a value against working set (log x), one line per series, from
# `nestbench report`.  Run in the report directory as
#   gnuplot -e "fmt='svg'; name='latency'; n=4; nk=2; ttl='...'; ylab='...'; logy=1" sweep.gp
# Data: NAME.dat, one block per series (separated by two blank lines), each
# starting with a quoted label line, then "working_set_bytes value ci_low ci_high".
# Knees (optional): NAME-knees.dat, "working_set_bytes value" per line.
# Only variables set by nestbench are used; all text from results files is
# in the data files, and every text element is noenhanced (printed literally).
if (fmt eq 'svg') {
    set terminal svg size 960,600 dynamic noenhanced font 'sans,12' background '#ffffff'
} else {
    set terminal pngcairo size 960,600 noenhanced font 'sans,10' background '#ffffff'
}
set output name.'.'.fmt
set title ttl noenhanced
set xlabel 'working set (bytes, log scale)' noenhanced
set ylabel ylab noenhanced
set logscale x 2
# Values an axis cannot show are drawn on one that can, never an error:
# nothing above 0 on a log axis (linear instead), or one flat value (all
# medians equal: a range around it).
stats name.'.dat' using 2 nooutput
if (logy && STATS_max <= 0) { logy = 0 }
if (logy) { set logscale y }
if (STATS_max - STATS_min <= 1e-9 * abs(STATS_max)) {
    pad = abs(STATS_max) > 0 ? abs(STATS_max) * 0.5 : 1
    set yrange [STATS_min - pad : STATS_max + pad]
}
set format x '%.0b %BB'
set grid xtics ytics lc rgb '#dddddd'
set key outside right top vertical noenhanced autotitle columnheader
set datafile missing 'NaN'
set style data yerrorlines
if (nk > 0) {
    plot for [i=0:n-1] name.'.dat' index i using 1:2:3:4 title columnheader(1) lw 1.5 lc 1+i%8 dt 1+(i/8)%5 pt 5+(i/8)%5 ps 0.6, \
         name.'-knees.dat' using 1:2 with points pt 6 ps 2.5 lw 2 lc rgb '#000000' title 'detected knee'
} else {
    plot for [i=0:n-1] name.'.dat' index i using 1:2:3:4 title columnheader(1) lw 1.5 lc 1+i%8 dt 1+(i/8)%5 pt 5+(i/8)%5 ps 0.6
}
