# pagemix.gp - page-size mix of completed page walks (PMU), stacked fractions per series and working set.
#   gnuplot -e "fmt='svg'; name='pmu-page-mix'; ttl='...'" pagemix.gp
# Data: NAME.dat; header line "series" "4k" "2m" "1g"; then a quoted label and three fractions per line.
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
set ylabel 'fraction of completed walks' noenhanced
set yrange [0:1.05]
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.8
set xtics rotate by -60 noenhanced font ',8'
set key outside right top noenhanced autotitle columnheader
set bmargin 12
plot for [i=2:4] name.'.dat' using i:xtic(1) title columnheader(i)
