#!/bin/sh
# Installs mmpd: programs, manual pages, sample configuration (never over an
# operator's file), the systemd unit and, for a real install as root, the
# system users. Called by `make install` as
#   sh etc/install.sh DESTDIR SBINDIR LIBEXECDIR MANDIR SYSCONFDIR
set -e

if [ $# -ne 5 ]; then
	echo "usage: sh etc/install.sh DESTDIR SBINDIR LIBEXECDIR MANDIR" \
	    "SYSCONFDIR" >&2
	exit 1
fi
DESTDIR=$1
SBINDIR=$2
LIBEXECDIR=$3
MANDIR=$4
SYSCONFDIR=$5
UNITDIR=/lib/systemd/system
LOGDIR=/var/log/mmpd

# The tree this script belongs to, wherever make runs it from.
top=$(cd "$(dirname "$0")/.." && pwd)
umask 022

die() {
	echo "install: $*" >&2
	exit 1
}

for d in "$SBINDIR" "$LIBEXECDIR" "$MANDIR" "$SYSCONFDIR"; do
	case $d in
	/*) ;;
	*) die "$d is not an absolute path" ;;
	esac
done
# Both go into the unit's ExecStart= through sed: plain paths only.
for d in "$SBINDIR" "$SYSCONFDIR"; do
	case $d in
	*[!A-Za-z0-9/._+-]*)
		die "$d: only letters, digits and / . _ + - allowed" ;;
	esac
done
case $DESTDIR in
''|/*) ;;
*) die "DESTDIR $DESTDIR is not an absolute path" ;;
esac

for f in mmpd/mmpd mmp-ldapd/mmp-ldapd mmpctl/mmpctl doc/mmpd.8 \
    doc/mmpctl.8 doc/mmpd.conf.5 etc/mmpd.service etc/mmpd.logrotate; do
	[ -f "$top/$f" ] || die "$top/$f is missing; run make first"
done

# A leak-check build (make leakcheck, lib/leakcheck.h) runs without its
# sandbox, a sandbox debug build with a filter that does not kill: never
# installed, whatever tree they were built in. Their programs carry these
# strings; grep -F: the string is the test, not a pattern.
for f in mmpd/mmpd mmp-ldapd/mmp-ldapd mmp-tlsd/mmp-tlsd; do
	[ -f "$top/$f" ] || continue
	if grep -qaF MMP_LEAKCHECK_BUILD "$top/$f"; then
		die "$top/$f is a leak-check build (sandbox off); rebuild" \
		    "with plain make before installing"
	fi
	# make SANDBOX_DEBUG=1 (lib/sandbox.h): forbidden calls fail
	# instead of killing the process.
	if grep -qaF MMP_SANDBOX_DEBUG_BUILD "$top/$f"; then
		die "$top/$f is a sandbox debug build; rebuild with plain" \
		    "make before installing"
	fi
done

# mkdir -p DIR, saying so when it creates it.
makedir() {
	if [ ! -d "$1" ]; then
		install -d -m "$2" "$1"
		echo "install: created $1"
	fi
}

# install SRC (relative to the tree) as DST with MODE.
put() {
	install -m "$3" "$top/$1" "$2"
	echo "install: $1 -> $2 ($3)"
}

makedir "$DESTDIR$SBINDIR" 0755
put mmpd/mmpd "$DESTDIR$SBINDIR/mmpd" 0755
put mmpctl/mmpctl "$DESTDIR$SBINDIR/mmpctl" 0755
makedir "$DESTDIR$LIBEXECDIR" 0755
put mmp-ldapd/mmp-ldapd "$DESTDIR$LIBEXECDIR/mmp-ldapd" 0755
# mmp-tlsd: in a tree that has its sources, it must have been built.
if [ -d "$top/mmp-tlsd" ]; then
	[ -f "$top/mmp-tlsd/mmp-tlsd" ] ||
	    die "$top/mmp-tlsd/mmp-tlsd is missing; run make first"
	put mmp-tlsd/mmp-tlsd "$DESTDIR$LIBEXECDIR/mmp-tlsd" 0755
fi

makedir "$DESTDIR$MANDIR/man8" 0755
put doc/mmpd.8 "$DESTDIR$MANDIR/man8/mmpd.8" 0644
put doc/mmpctl.8 "$DESTDIR$MANDIR/man8/mmpctl.8" 0644
makedir "$DESTDIR$MANDIR/man5" 0755
put doc/mmpd.conf.5 "$DESTDIR$MANDIR/man5/mmpd.conf.5" 0644

# An operator's configuration is never replaced; a file holding BindPass
# is readable by root (and its group) only.
makedir "$DESTDIR$SYSCONFDIR" 0755
for src in "$top"/etc/mmpd/*.cfg; do
	[ -f "$src" ] || die "no sample configuration in $top/etc/mmpd"
	name=${src##*/}
	dst=$DESTDIR$SYSCONFDIR/$name
	if [ -e "$dst" ] || [ -L "$dst" ]; then
		echo "install: $dst exists, kept"
		continue
	fi
	mode=0644
	if grep -qi '^[[:space:]]*default:BindPass' "$src"; then
		mode=0640
	fi
	put "etc/mmpd/$name" "$dst" "$mode"
done

# The LogDir of the sample configuration, and its rotation (SIGUSR1).
makedir "$DESTDIR$LOGDIR" 0750
makedir "$DESTDIR/etc/logrotate.d" 0755
put etc/mmpd.logrotate "$DESTDIR/etc/logrotate.d/mmpd" 0644

# mmpd.service for SYSCONFDIR, and mmpd@.service from the same file for
# further instances: mmpd@b.service runs the one configured in SYSCONFDIR-b.
makedir "$DESTDIR$UNITDIR" 0755
for name in mmpd mmpd@; do
	unit=$DESTDIR$UNITDIR/$name.service
	tmp=$unit.tmp.$$
	trap 'rm -f "$tmp"' EXIT
	dir=$SYSCONFDIR
	desc=""
	if [ "$name" = mmpd@ ]; then
		dir=$SYSCONFDIR-%i
		desc=" (instance %i)"
	fi
	sed -e "s|@SBINDIR@|$SBINDIR|g" -e "s|@SYSCONFDIR@|$dir|g" \
	    -e "s|^Description=.*|&$desc|" "$top/etc/mmpd.service" > "$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$unit"
	echo "install: etc/mmpd.service -> $unit (0644)"
done

if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ]; then
	echo "install: system users and chroot directory (etc/users.sh)"
	sh "$top/etc/users.sh"
	echo "install: done; edit $SYSCONFDIR, check it with" \
	    "'$SBINDIR/mmpd -n', then: systemctl daemon-reload &&" \
	    "systemctl enable --now mmpd"
else
	echo "install: system users not created (DESTDIR set or not root);" \
	    "run etc/users.sh as root on the target"
fi
