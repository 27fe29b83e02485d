#!/bin/sh
# The long runs of issue 18 on a machine that also does other work: each
# TARGET[:SECONDS] in turn runs (make -f regress/fuzz/Makefile.fuzz
# run-TARGET, its corpus kept in build-fuzz/corpus/TARGET) until the
# fuzzer has used SECONDS of CPU (default FUZZ_CPU, 1800), then SIGINT:
# libFuzzer prints its final stats and exits. It runs at SCHED_IDLE, so it
# takes only CPU nothing else wants; -timeout=120, not make fuzz's 10:
# libFuzzer times a unit by the wall clock, which keeps running while an
# idle-class process waits. Never stop it with SIGSTOP: the unit that
# was running then times out at SIGCONT. Idle-class is not free on a
# small VM either: make check's shared part took 521 s beside two of
# these fuzzers, 286 to 306 s without (2026-12-07); stop the campaign
# (SIGINT the fuzzers: their CPU so far is in the .done line) before
# anything that is timed.
#
#     sh regress/fuzz/campaign.sh LANE TARGET[:SECONDS]...
#
# One line per target to build-fuzz/runs/LANE.done (start, wall and CPU
# seconds, libFuzzer's exit code: 0 after SIGINT, else a finding in
# build-fuzz/crashes/); libFuzzer's output in build-fuzz/runs/TARGET.HHMM.log.

cd "$(dirname "$0")/../.." || exit 1
[ $# -ge 2 ] || { echo "usage: $0 LANE TARGET[:SECONDS]..." >&2; exit 2; }
lane=$1; shift
FUZZ_CPU=${FUZZ_CPU:-1800}
MK="make -s -f regress/fuzz/Makefile.fuzz"
unset MAKEFLAGS MFLAGS MAKELEVEL
mkdir -p build-fuzz/runs
tck=$(getconf CLK_TCK)
for spec in "$@"; do
	t=${spec%%:*}
	budget=${spec#*:}
	[ "$budget" = "$spec" ] && budget=$FUZZ_CPU
	stem=build-fuzz/runs/$t.$(date -u +%H%M)
	start=$(date -u +%s)
	chrt --idle 0 $MK run-"$t" FUZZ_SECONDS=1000000 \
	    FUZZ_OPTS="-timeout=120 -rss_limit_mb=2048 -print_final_stats=1" \
	    >"$stem.log" 2>&1 &
	mk=$!
	pid= cpu=0
	while kill -0 "$mk" 2>/dev/null; do
		sleep 10
		[ -n "$pid" ] || pid=$(pgrep -f "^./build-fuzz/fuzz_$t " |
		    head -1)
		[ -n "$pid" ] || continue
		c=$(awk -v t="$tck" '{ print int(($14 + $15) / t) }' \
		    "/proc/$pid/stat" 2>/dev/null)
		[ -n "$c" ] && cpu=$c
		[ "$cpu" -ge "$budget" ] && kill -INT "$pid" 2>/dev/null
	done
	wait "$mk"
	rc=$(grep -c "^SUMMARY\|fuzz: findings" "$stem.log")
	echo "$(date -u -d "@$start" '+%Y-%m-%d %H:%M') $t" \
	    "wall=$(($(date -u +%s) - start)) cpu=$cpu findings=$rc" \
	    "log=$stem.log" >>"build-fuzz/runs/$lane.done"
done
