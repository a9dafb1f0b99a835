# bash bench/timed.sh CMD ARG...: run CMD once as a child, as qmail-local does (fork, exec, wait), and
# report on fd 3 its CPU time and wall time. Node cannot give a child's rusage and /usr/bin/time
# rounds CPU to 10 ms (a Node start-up is about 25 ms), while bash's `times` prints the waited-for
# children's user and system time to the millisecond. The wall time is taken here too, around the
# child alone, so this shell's own start-up is in neither figure.
t0=$EPOCHREALTIME
"$@" 3>&-
status=$?
t1=$EPOCHREALTIME
times >&3
echo "$t0 $t1" >&3
exit $status
