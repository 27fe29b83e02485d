#!/bin/sh
# Install the Debian packages mmpd needs to build, test and run its demo.
# Only what is missing is installed; as non-root, missing packages are listed.
# With arguments, those packages instead (make bench-deps: the benchmark's peers).
set -e
PKGS="build-essential pkg-config libtls-dev libssl-dev libldap-dev libbsd-dev libmd-dev libevent-dev
libseccomp-dev libc-ares-dev slapd ldap-utils dovecot-imapd dovecot-pop3d python3
perl clang libclang-rt-14-dev curl openssl valgrind strace logrotate"
[ $# -gt 0 ] && PKGS="$*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'make deps' as root or install them with apt-get" >&2
	exit 1
fi
echo "deps: installing$missing"
# The packages would start slapd and Dovecot on the standard ports; our tests and the
# demo run private instances, so keep the packaged daemons from starting.
rc=/usr/sbin/policy-rc.d
made_rc=""
if [ ! -e "$rc" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$rc"
	chmod 755 "$rc"
	made_rc=1
fi
trap '[ -n "$made_rc" ] && rm -f "$rc"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
