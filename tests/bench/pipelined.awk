# awk -f tests/bench/pipelined.awk SCRIPT.sql: the pgbench script with its statements between
# \startpipeline and \endpipeline (its \set lines stay before them; comments and blank lines go),
# for the pipelined references of tests/bench/run and tests/bench/versus.
BEGIN { s = 0 }
/^--/ || /^$/ { next }
/^\\set/ { print; next }
{ if (!s) { print "\\startpipeline"; s = 1 } print }
END { print "\\endpipeline" }
