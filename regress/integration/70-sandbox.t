#!/usr/bin/env python3
# Every child of the mmpd parent, seen from /proc: not root, chrooted to
# ChrootDir, seccomp filter on, no_new_privs set, no capabilities, not
# dumpable, no core files, no directory descriptor; and the children
# survive real sessions (a forbidden system call would kill them).

import os
import pwd
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

WORKERS = 2


def kind(pid):
    cmd = T.proc_cmdline(pid)
    if "mmp-ldapd" in cmd or T.proc_status(pid).get("Name") == "mmp-ldapd":
        return "mmp-ldapd"
    if "relay" in cmd:
        return "relay"
    return "other: " + cmd


def limit(pid, name):
    """[soft, hard] of a line of /proc/PID/limits, e.g. "Max processes"."""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith(name + " "):
                    return line[len(name):].split()[0:2]
    except OSError:
        pass
    return None


def status_owner(pid):
    """Owner of /proc/PID/status: root when the process is not dumpable
    (/proc/PID itself stays the effective uid's, for ps)."""
    try:
        return os.stat("/proc/%d/status" % pid).st_uid
    except OSError as e:
        return repr(e)


def directory_fds(pid):
    """Descriptors that are directories: a path relative to one would get
    past the newfstatat rule of the filter, so there must be none."""
    d = "/proc/%d/fd" % pid
    found = []
    for fd in os.listdir(d):
        try:
            if stat.S_ISDIR(os.stat(os.path.join(d, fd)).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found


def check_child(tap, pid, want_uid, what):
    st = T.proc_status(pid)
    uids = st.get("Uid", "").split()
    gids = st.get("Gid", "").split()
    tap.ok(len(uids) == 4 and all(u == str(want_uid) for u in uids),
           "%s runs as uid %d (real, effective, saved, fs)" %
           (what, want_uid), "Uid: %r" % uids)
    tap.ok(len(gids) == 4 and "0" not in gids,
           "%s has no root group id" % what, "Gid: %r" % gids)
    groups = st.get("Groups", "").split()
    tap.ok("0" not in groups, "%s has no root supplementary group" % what,
           "Groups: %r" % groups)
    try:
        root = os.readlink("/proc/%d/root" % pid)
    except OSError as e:
        root = repr(e)
    tap.is_(root, T.CHROOT, "%s is chrooted to %s" % (what, T.CHROOT))
    tap.is_(st.get("Seccomp"), "2", "%s: Seccomp 2 (filter)" % what)
    tap.is_(st.get("NoNewPrivs"), "1", "%s: NoNewPrivs 1" % what)
    tap.is_(st.get("CapEff"), "0000000000000000",
            "%s: no effective capabilities" % what)
    tap.is_(limit(pid, "Max processes"), ["0", "0"],
            "%s: RLIMIT_NPROC 0 (cannot fork)" % what)
    tap.is_(status_owner(pid), 0,
            "%s: not dumpable (/proc/PID/status belongs to root)" % what)
    tap.is_(limit(pid, "Max core file size"), ["0", "0"],
            "%s: RLIMIT_CORE 0 (no core file)" % what)
    tap.is_(directory_fds(pid), [], "%s holds no directory descriptor" % what)


def main(tap):
    env = T.Env("sandbox", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice on store1"))
    env.user("bob", "bob-pw", "store2")
    env.stores["store2"].seed("bob", T.message("bob on store2"))
    env.start_backends()
    m = env.mmpd(aservice={"Workers": WORKERS}).start()
    relay_uid = pwd.getpwnam("_mmpd").pw_uid
    ldap_uid = pwd.getpwnam("_mmpldap").pw_uid

    before = m.children()
    kinds = [kind(p) for p in before]
    tap.is_(sorted(kinds), sorted(["relay"] * WORKERS + ["mmp-ldapd"]),
            "children of the parent: %d relays and one mmp-ldapd" % WORKERS)

    # Real work first: logins, relay, failures, pre-auth commands.
    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(b" OK" in t and subj == ["alice on store1"],
           "an IMAP session works", d)
    r, subj = T.pop_route(m, "bob", "bob-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["bob on store2"],
           "a POP3 session works", repr((r, subj)))
    with m.imap() as c:
        c.cmd("CAPABILITY")
        c.cmd('ID ("name" "x")')
        c.login("nobody-here", "x")
        c.login("alice", "wrong")
    after = m.children()
    tap.is_(after, before, "the same children after the sessions (none "
            "killed by its filter)")

    st = T.proc_status(m.pid)
    tap.is_(st.get("Uid", "").split()[:1], ["0"], "the parent keeps root")
    seen = {}
    for pid in after:
        k = kind(pid)
        seen[k] = seen.get(k, 0) + 1
        check_child(tap, pid, ldap_uid if k == "mmp-ldapd" else relay_uid,
                    "%s %d" % (k, seen[k]))


T.run(main)
