#!/bin/sh
# mmpd demo (make demo, as root): slapd, two Dovecot stores and mmpd on
# loopback in a temp dir, with users to log in as; Ctrl-C stops it all.
# DEMO_NO_WAIT=1: start, check both protocols with curl, stop.
# DEMO_IMAP_PORT / DEMO_POP_PORT: mmpd's ports (10143 / 10110).
# DEMO_IMAPS_PORT / DEMO_POP3S_PORT: its TLS ports (10993 / 10995);
# DEMO_TLS=0 leaves them out.
# MMPD: the mmpd program to run (default mmpd/mmpd).
set -eu

cd "$(dirname "$0")/../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (mmpd starts its sandboxed children as root)" >&2
	exit 1
fi
# MMPD: another build of mmpd (make asan's); mmp-ldapd and mmp-tlsd are
# found beside it.
mmpd=${MMPD:-mmpd/mmpd}
top=$(dirname "$(dirname "$mmpd")")
for b in "$mmpd" "$top/mmp-ldapd/mmp-ldapd" "$top/mmp-tlsd/mmp-tlsd"; do
	if [ ! -x "$b" ]; then
		echo "demo: $b is not built; run make all" >&2
		exit 1
	fi
done
for p in slapd dovecot curl python3; do
	if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
		echo "demo: $p is missing; run make deps" >&2
		exit 1
	fi
done
sh etc/users.sh

# The Python part does the work and cleans up on SIGTERM. A background job
# of a non-interactive shell ignores SIGINT, so Ctrl-C reaches it through
# this trap.
python3 -u etc/demo/demo.py &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || :; wait "$pid" || :; exit 130' INT TERM
rc=0
wait "$pid" || rc=$?
exit "$rc"
