# pagemix.gp - page-size mix of completed page walks (PMU), stacked fractions per series and working set.
#   gnuplot -e "fmt='svg'; name='pmu-page-mix'; ttl='...'" pagemix.gp
# Data: NAME.dat; header line "series" "4k" "2m" "1g"; then a quoted label and three fractions per line.
if (fmt eq 'svg') {
    set terminal svg size 960,600 dynamic noenhanced font 'sans,12' background '#ffffff'
} else {
    set terminal pngcairo size 960,600 noenhanced font 'sans,10' background '#ffffff'
}
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
