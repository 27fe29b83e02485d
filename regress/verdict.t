#!/bin/sh
# make check's last word (regress/check.sh): one test per part, passing
# when that part's prove passed.
f=build-lsan/verdict
echo "1..3"
i=0
for part in shared alone leak; do
	i=$((i + 1))
	rc=$(awk -v p="$part" '$1 == p { print $2 }' "$f" 2>/dev/null)
	case $part in
	shared)	what="unit tests, memcheck, fuzz.t, shared integration tests";;
	alone)	what="the integration tests that run alone";;
	leak)	what="the leak-checked suite (build-lsan/check.log)";;
	esac
	if [ "$rc" = 0 ]; then
		echo "ok $i - $what"
	else
		echo "not ok $i - $what (${rc:-did not run})"
	fi
done
