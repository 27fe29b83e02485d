#!/bin/sh
# make check: every libFuzzer target of regress/fuzz/Makefile.fuzz, built
# with clang, runs FUZZ_CHECK_SECONDS (default 2) on its seed corpus. A
# crash, sanitizer report, leak or timeout fails that target's test, which
# names the crashing input (kept under build-fuzz/check/<target>/) and the
# sanitizer's summary. `make fuzz` is the long run (FUZZ_SECONDS each).

cd "$(dirname "$0")/../.." || exit 1
MK="make -s -f regress/fuzz/Makefile.fuzz"
# Not the jobserver of a make check that started prove: its own -j.
unset MAKEFLAGS MFLAGS MAKELEVEL
JOBS=${FUZZ_CHECK_JOBS:-2}
SECS=${FUZZ_CHECK_SECONDS:-2}
DIR=build-fuzz/check

targets=$($MK targets) || { echo "1..1"; echo "not ok 1 - list targets"; exit 1; }
n=$(echo "$targets" | wc -l)
echo "1..$((n + 1))"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
if $MK -j"$JOBS" build >"$log" 2>&1; then
	echo "ok 1 - build $n fuzz targets ($(($(date +%s) - start)) s)"
else
	echo "not ok 1 - build the fuzz targets (clang: make deps)"
	sed 's/^/# /' "$log" | tail -40
	i=1
	for t in $targets; do
		i=$((i + 1))
		echo "not ok $i - $t: not built"
	done
	exit 1
fi

# JOBS targets at a time, each into its own log; then the lines in order.
logs=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$logs"' EXIT
k=0
for t in $targets; do
	( $MK check-"$t" FUZZ_CHECK_SECONDS="$SECS" FUZZ_CHECK_DIR="$DIR" \
	    >"$logs/$t" 2>&1; echo $? >"$logs/$t.rc" ) &
	k=$((k + 1))
	[ $((k % JOBS)) -eq 0 ] && wait
done
wait

i=1
for t in $targets; do
	i=$((i + 1))
	log=$logs/$t
	if [ "$(cat "$log.rc")" = 0 ]; then
		# libFuzzer's last line: "#1234 DONE cov: 59 ft: 150 ..."
		stats=$(grep -E '^#[0-9]+' "$log" | tail -1 |
		    awk '{ print substr($1, 2) " runs, " $3 " " $4 " " $5 " " $6 }')
		echo "ok $i - $t: ${SECS} s, nothing found ($stats)"
		continue
	fi
	echo "not ok $i - $t: a finding in ${SECS} s"
	for a in "$DIR/$t"/crash-* "$DIR/$t"/leak-* "$DIR/$t"/timeout-* \
	    "$DIR/$t"/oom-*; do
		[ -e "$a" ] && echo "#   input: $a (replay: build-fuzz/fuzz_$t $a)"
	done
	grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|^    #[0-9] ' "$log" |
	    head -20 | sed 's/^/#   /'
done
