# bars.gp - medians with 95% interval error bars per kernel, one bar per series (native, vm, per file).
#   gnuplot -e "fmt='svg'; name='bars-ptupdate'; n=2; ttl='...'" bars.gp
# Data: NAME.dat; first line: "kernel" then label, low, high per series (quoted);
# then one line per kernel: quoted label, then median low high per series (NaN if absent).
if (fmt eq 'svg') {
    set terminal svg size 960,600 dynamic noenhanced font 'sans,12' background '#ffffff'
} else {
    set terminal pngcairo size 960,600 noenhanced font 'sans,10' background '#ffffff'
}
set output name.'.'.fmt
set title ttl noenhanced
set ylabel 'median ns per operation (log scale), 95% interval' noenhanced
set logscale y
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -25 noenhanced
set grid ytics lc rgb '#dddddd'
set key outside right top noenhanced
set datafile missing 'NaN'
set bmargin 8
plot for [i=0:n-1] name.'.dat' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnheader(2+3*i)
