# heatmap.gp - guest page size x host backing: guest/native ratio at one working set.
#   gnuplot -e "fmt='svg'; name='heatmap-A-64M'; ttl='...'" heatmap.gp
# Data: NAME.dat, "host_backing_index guest_page_index ratio" per cell
# (backings 0..3 = 4k thp hugetlb-2m hugetlb-1g, guest pages 0..2 = 4k 2m 1g);
# cells without data are absent and stay blank.
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
set xlabel 'host backing' noenhanced
set ylabel 'guest page size' noenhanced
set xrange [-0.5:3.5]
set yrange [-0.5:2.5]
set xtics ('4k' 0, 'thp' 1, 'hugetlb-2m' 2, 'hugetlb-1g' 3)
set ytics ('4k' 0, '2m' 1, '1g' 2)
set cblabel 'guest / native (median)' noenhanced
set palette defined (0 '#2c7bb6', 1 '#ffffbf', 2 '#d7191c')
set cbrange [0.8:*]
unset key
plot name.'.dat' using 1:2:(0.5):(0.5):3 with boxxyerror fillstyle solid 1.0 noborder fillcolor palette, \
     name.'.dat' using 1:2:(sprintf('%.2fx', $3)) with labels font ',14' tc rgb '#000000'
