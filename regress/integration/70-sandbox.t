#!/usr/bin/env python3
# Every child of the mmpd parent, seen from /proc: not root, chrooted to
# ChrootDir, seccomp filter on, no_new_privs set, no capabilities, not
# dumpable, no core files, no directory descriptor; and the children
# survive real sessions (a forbidden system call would kill them).

import os
import pwd
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
    with open("/proc/%d/limits" % m.pid) as f:
        core = [ln.split()[4:6] for ln in f if ln.startswith("Max core")]
    tap.is_(core, [["0", "0"]], "the parent writes no core file (it holds "
            "BindPass, StoreAdminPass, ticket keys)")
    seen = {}
    for pid in after:
        k = kind(pid)
        seen[k] = seen.get(k, 0) + 1
        T.check_sandboxed(tap, pid,
                          ldap_uid if k == "mmp-ldapd" else relay_uid,
                          "%s %d" % (k, seen[k]))


T.run(main)
