# sweep.gp - a value against working set (log x), one line per series, from
# `nestbench report`.  Run in the report directory as
#   gnuplot -e "fmt='svg'; name='latency'; n=4; nk=2; ttl='...'; ylab='...'; logy=1" sweep.gp
# Data: NAME.dat, one block per series (separated by two blank lines), each
# starting with a quoted label line, then "working_set_bytes value ci_low ci_high".
# Knees (optional): NAME-knees.dat, "working_set_bytes value \"label\"" per line,
# the label the TLB level the knee is (empty when unknown), drawn beside the circle.
# Only variables set by nestbench are used; all text from results files is
# in the data files, and every text element is noenhanced (printed literally).
if (fmt eq 'svg') {
    set terminal svg size 960,600 dynamic noenhanced font 'sans,12' background '#ffffff'
} else {
    set terminal pngcairo size 1920,1200 noenhanced font 'sans,20' linewidth 2 background '#ffffff'
}
# Okabe-Ito colours, told apart by colour-blind readers too; PNG at twice
# the SVG's size (slides, high-density screens).
set linetype 1 lc rgb '#0072B2'
set linetype 2 lc rgb '#E69F00'
set linetype 3 lc rgb '#009E73'
set linetype 4 lc rgb '#D55E00'
set linetype 5 lc rgb '#56B4E9'
set linetype 6 lc rgb '#CC79A7'
set linetype 7 lc rgb '#000000'
set linetype 8 lc rgb '#F0E442'
set linetype cycle 8
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
         name.'-knees.dat' using 1:2 with points pt 6 ps 2.5 lw 2 lc rgb '#000000' title 'detected knee (TLB level)', \
         name.'-knees.dat' using 1:2:3 with labels left offset 1,0.8 font ',9' tc rgb '#333333' notitle
} else {
    plot for [i=0:n-1] name.'.dat' index i using 1:2:3:4 title columnheader(1) lw 1.5 lc 1+i%8 dt 1+(i/8)%5 pt 5+(i/8)%5 ps 0.6
}
