#!/bin/sh
# make check's tests, once make has built everything (Makefile: check).
#
#   shared   the unit tests, memcheck, fuzz.t and the integration tests
#            that share the machine, CHECK_JOBS at a time;
#   alone    then the tests that must have it to themselves
#            (INTEGRATION_ALONE: they measure time or load it on purpose);
#   leak     beside both, at nice CHECK_LEAK_NICE: make check-leakcheck
#            (the leak-check build, its unit tests and the shared
#            integration tests against its daemons). Those tests mostly
#            wait on sockets; niced, they take the CPU the others leave.
#            Its output goes to build-lsan/check.log and is shown at the
#            end.
#
# The last part is regress/verdict.t, which reports the three parts, so
# the last line is prove's verdict on the whole check.
#
# From the Makefile: CHECK_SHARED, CHECK_ALONE (test lists), CHECK_JOBS,
# CHECK_LEAK_NICE, PROVE_FLAGS, MAKE; MMP_UNIT_TESTS for memcheck.t.

cd "$(dirname "$0")/.." || exit 1
out=build-lsan
mkdir -p "$out"
rm -f "$out/check.log" "$out/check.rc" "$out/verdict"

# A failing test shows its "not ok" lines and diagnostics, even with -j.
FLAGS="--failures --comments $PROVE_FLAGS"
start=$(date +%s)
(
	nice -n "$CHECK_LEAK_NICE" $MAKE -s check-leakcheck \
	    PROVE_FLAGS="$FLAGS" >"$out/check.log" 2>&1
	echo $? >"$out/check.rc"
	echo "leak-checked suite done after $(($(date +%s) - start)) s" \
	    >>"$out/check.log"
) </dev/null &
leak=$!

# shellcheck disable=SC2086 # the lists are words
prove -j"$CHECK_JOBS" -e '' $FLAGS $CHECK_SHARED
echo "shared $?" >>"$out/verdict"
echo "# shared tests done after $(($(date +%s) - start)) s"
# shellcheck disable=SC2086
prove -e '' $FLAGS $CHECK_ALONE
echo "alone $?" >>"$out/verdict"
echo "# tests run alone done after $(($(date +%s) - start)) s"

wait "$leak"
echo "leak $(cat "$out/check.rc" 2>/dev/null || echo 1)" >>"$out/verdict"
echo "# ---- the leak-checked suite (make check-leakcheck, $out/check.log)"
cat "$out/check.log"
prove -e '' regress/verdict.t
