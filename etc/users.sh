#!/bin/sh
# Creates what mmpd's sandbox needs: the system users _mmpd (relay workers),
# _mmpldap (mmp-ldapd), _mmptls (mmp-tlsd) and _mmpstat (the statistics
# process, mmpd -P stats), without a login shell, home /var/empty, and the
# empty root-owned directory /var/empty they are chrooted to. Idempotent; as non-root it only lists what is missing and
# exits 1.
set -eu

EMPTY=/var/empty
USERS="_mmpd _mmpldap _mmptls _mmpstat"

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false

missing=""
for u in $USERS; do
	getent passwd "$u" >/dev/null 2>&1 || missing="$missing user:$u"
done
if [ ! -d "$EMPTY" ]; then
	missing="$missing dir:$EMPTY"
elif [ "$(stat -c '%u %a' "$EMPTY")" != "0 755" ]; then
	missing="$missing mode:$EMPTY(root,0755)"
fi
if [ -d "$EMPTY" ] && [ -n "$(ls -A "$EMPTY")" ]; then
	echo "users.sh: $EMPTY is not empty; fix that by hand" >&2
	exit 1
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	for m in $missing; do
		case "$m" in
		user:*)	echo "users.sh: missing system user ${m#user:}" >&2 ;;
		dir:*)	echo "users.sh: missing directory ${m#dir:}" >&2 ;;
		mode:*)	echo "users.sh: $EMPTY must be owned by root," \
			    "mode 0755" >&2 ;;
		esac
	done
	echo "users.sh: run it as root to create them" >&2
	exit 1
fi

if [ ! -d "$EMPTY" ]; then
	mkdir -p "$EMPTY"
	echo "users.sh: created $EMPTY"
fi
chown 0:0 "$EMPTY"
chmod 0755 "$EMPTY"
for u in $USERS; do
	if ! getent passwd "$u" >/dev/null 2>&1; then
		if getent group "$u" >/dev/null 2>&1; then
			useradd --system --gid "$u" --home-dir "$EMPTY" \
			    --no-create-home --shell "$nologin" \
			    --comment "mmpd sandbox" "$u"
		else
			useradd --system --user-group --home-dir "$EMPTY" \
			    --no-create-home --shell "$nologin" \
			    --comment "mmpd sandbox" "$u"
		fi
		echo "users.sh: created user $u"
	fi
done
