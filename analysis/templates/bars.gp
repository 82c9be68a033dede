# bars.gp - medians with 95% interval error bars per kernel, one bar per series (native, vm, per file).
#   gnuplot -e "fmt='svg'; name='bars-ptupdate'; n=2; ttl='...'" bars.gp
# Data: NAME.dat; first line: "kernel" then label, low, high per series (quoted);
# then one line per kernel: quoted label, then median low high per series (NaN if absent).
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
set datafile missing 'NaN'
# Values a log axis cannot show are drawn on one that can, never an error:
# no median above 0 (linear axis instead), or one flat value (a range
# around it).  HI_max and LO_min: the largest and smallest median of any series.
cv(c) = valid(c) ? column(c) : NaN
nmax(a, b) = a != a ? b : (b != b ? a : (a > b ? a : b))
nmin(a, b) = a != a ? b : (b != b ? a : (a < b ? a : b))
rowmax(i) = i < 0 ? NaN : nmax(cv(2 + 3 * i), rowmax(i - 1))
rowmin(i) = i < 0 ? NaN : nmin(cv(2 + 3 * i), rowmin(i - 1))
stats name.'.dat' using (rowmax(n - 1)) name 'HI' nooutput
stats name.'.dat' using (rowmin(n - 1)) name 'LO' nooutput
if (HI_max > 0) {
    set ylabel 'median ns per operation (log scale), 95% interval' noenhanced
    set logscale y
} else {
    set ylabel 'median ns per operation, 95% interval' noenhanced
}
if (HI_max - LO_min <= 1e-9 * abs(HI_max)) {
    pad = abs(HI_max) > 0 ? abs(HI_max) * 0.5 : 1
    set yrange [LO_min - pad : HI_max + pad]
}
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -25 noenhanced
set grid ytics lc rgb '#dddddd'
set key outside right top noenhanced
set bmargin 8
plot for [i=0:n-1] name.'.dat' using (column(2+3*i)):(column(3+3*i)):(column(4+3*i)):xtic(1) title columnheader(2+3*i)
