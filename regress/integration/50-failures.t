#!/usr/bin/env python3
# Failures around mmpd: a store that is down gives NO [UNAVAILABLE] /
# -ERR [SYS/TEMP] with ServerDownAlert and the connection stays usable;
# LDAP down gives the answer of a wrong password within LdapTimeout, and
# logins work again once slapd is back on the same port. Failed logins do
# not extend LoginTimeout. An entry whose DN is too long for mmpd fails
# its own login only: the relay keeps its channel to mmp-ldapd.

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

LDAP_TIMEOUT = 3
IMAP_ALERT = "Store 42 is down for maintenance"
POP_ALERT = "POP store 42 is down for maintenance"
LATE_USERS = ("erin", "frank", "gina", "hank", "ivan", "judy")


def setup(tap):
    env = T.Env("failures", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice on store1"))
    env.user("bob", "bob-pw", "store2")
    env.stores["store2"].seed("bob", T.message("bob on store2"))
    env.user("downip", "down-pw", None, mailhost=T.DOWN_ADDR)
    env.user("downname", "down-pw", None, mailhost="down.mmp.test")
    # A DN longer than any message field for it (1024 bytes), built of
    # RDNs short enough for back-mdb's keys.
    base = "ou=people," + T.SUFFIX
    for i in range(6):
        ou = "%d%s" % (i, "y" * 190)
        base = "ou=%s,%s" % (ou, base)
        env.slapd.entries.append("dn: %s\nobjectClass: organizationalUnit\n"
                                 "ou: %s\n" % (base, ou))
    env.slapd.entries.append(
        "dn: cn=long,%s\nobjectClass: inetOrgPerson\n"
        "objectClass: mmpTestMailUser\ncn: long\nsn: long\nuid: longdn\n"
        "mailHost: store1.mmp.test\n" % base)
    # Never looked up before LDAP goes down: no cache can answer for them.
    for u in LATE_USERS:
        env.user(u, u + "-pw", "store2")
        env.stores["store2"].seed(u, T.message("%s on store2" % u))
    env.start_backends()
    return env


def test_store_down(tap, m):
    for user in ("downip", "downname"):
        with m.imap() as c:
            (t, _), dt = T.timed(c.login, user, "down-pw")
            tap.ok(re.match(rb"t1 NO \[UNAVAILABLE\] ", t) and
                   IMAP_ALERT.encode() in t,
                   "IMAP %s: NO [UNAVAILABLE] with ServerDownAlert" % user,
                   repr(t))
            t2, _ = c.cmd("NOOP")
            t3, _ = c.login("alice", "alice-pw")
            t4, _ = c.cmd("SELECT INBOX")
            tap.ok(t2.startswith(b"t2 OK") and t3.startswith(b"t3 OK") and
                   t4.startswith(b"t4 OK"),
                   "IMAP %s: connection usable afterwards (NOOP, LOGIN "
                   "alice, SELECT)" % user, repr((t2, t3, t4)))
        with m.pop3() as p:
            r = p.login(user, "down-pw")
            tap.ok(r.startswith(b"-ERR [SYS/TEMP] ") and
                   POP_ALERT.encode() in r,
                   "POP3 %s: -ERR [SYS/TEMP] with ServerDownAlert" % user,
                   repr(r))
            r2 = p.login("bob", "bob-pw")
            subj = T.pop_subjects(p) if r2.startswith(b"+OK") else None
            tap.ok(r2.startswith(b"+OK") and subj == ["bob on store2"],
                   "POP3 %s: connection usable afterwards (bob logs in)" %
                   user, repr((r2, subj)))


def closed_after_logins(m, user, pw, within):
    """Logs in again and again until mmpd closes: (seconds, logins)."""
    start = time.time()
    n = 0
    with m.imap(timeout=10) as c:
        while time.time() - start < within:
            try:
                t, _ = c.login(user, pw)
            except OSError:
                t = b""
            if not t.startswith(b"t"):
                return time.time() - start, n
            n += 1
    return None, n


def test_login_deadline(tap, env):
    """Failed logins do not buy more time: neither those at a dead store,
    answered at once, nor those the store refused, answered after
    AuthFailureDelay; the login timer goes on with the time left."""
    limits = {"LoginTimeout": 3, "MaxBadCommands": 100}
    m = env.mmpd("deadline", imap=limits).start()
    closed, n = closed_after_logins(m, "downip", "down-pw", 8)
    tap.ok(closed is not None and closed < 5,
           "store-down logins do not extend LoginTimeout 3 s",
           "closed after %r s, %d logins" % (closed, n))
    m = env.mmpd("deadline2", imap=dict(limits, AuthFailureDelay=1)).start()
    closed, n = closed_after_logins(m, "alice", "wrong-pw", 9)
    tap.ok(closed is not None and closed < 5,
           "failed logins (AuthFailureDelay 1 s) do not extend "
           "LoginTimeout 3 s", "closed after %r s, %d failed logins" %
           (closed, n))


def test_long_dn(tap, env):
    """One relay: a lookup answer it cannot use must not cut it off."""
    m = env.mmpd("onerelay", aservice={"Workers": 1}).start()
    with m.imap() as c:
        t1, _ = c.login("longdn", "x")
    ok = []
    for _ in range(3):
        with m.imap() as c:
            ok.append(c.login("alice", "alice-pw")[0].startswith(b"t1 OK"))
    tap.ok(b"NO [AUTHENTICATIONFAILED]" in t1 and all(ok),
           "an entry with a DN over 1024 bytes fails its own login; the next "
           "logins on the same relay work", repr((t1, ok)))


def wrong_password_answers(m):
    with m.imap() as c:
        t, _ = c.login("alice", "wrong")
    with m.pop3() as p:
        p.cmd("USER alice")
        r = p.cmd("PASS wrong")
    return T.strip_tag(t), r


def test_ldap_down(tap, env, m):
    imap_wrong, pop_wrong = wrong_password_answers(m)
    env.slapd.stop(signal.SIGKILL)
    bound = LDAP_TIMEOUT + 0 + 5
    with m.imap(timeout=bound + 10) as c:
        (t, _), dt = T.timed(c.login, "erin", "erin-pw")
        tap.ok(T.strip_tag(t) == imap_wrong,
               "LDAP down: IMAP answer is that of a wrong password",
               "got %r, wrong password: %r" % (t, imap_wrong))
        tap.ok(dt < bound, "LDAP down: IMAP answer within LdapTimeout "
               "(%.1f s < %d s)" % (dt, bound))
        t2, _ = c.cmd("NOOP")
        tap.ok(t2.startswith(b"t2 OK"), "LDAP down: IMAP connection usable",
               repr(t2))
    with m.pop3(timeout=bound + 10) as p:
        p.cmd("USER frank")
        r, dt = T.timed(p.cmd, "PASS frank-pw")
        tap.ok(r == pop_wrong and dt < bound,
               "LDAP down: POP3 answer is that of a wrong password, in "
               "%.1f s" % dt, "got %r, wrong password: %r" % (r, pop_wrong))

    env.slapd.start()
    t0 = time.monotonic()
    ok = False
    tries = []
    while time.monotonic() - t0 < 30 and not ok:
        t, subj, d = T.imap_route(m, "gina", "gina-pw")
        tries.append(t)
        ok = t.startswith(b"t1 OK") and subj == ["gina on store2"]
        if not ok:
            time.sleep(1)
    tap.ok(ok, "LDAP back on the same port: IMAP login works again within "
           "30 s (%.1f s, %d tries)" % (time.monotonic() - t0, len(tries)),
           repr(tries[-3:]))
    r, subj = T.pop_route(m, "hank", "hank-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["hank on store2"],
           "LDAP back: POP3 login works", repr((r, subj)))


def test_ldap_hung(tap, env, m):
    """slapd stopped: connections open, nothing answers; LdapTimeout."""
    imap_wrong, pop_wrong = wrong_password_answers(m)
    bound = LDAP_TIMEOUT + 0 + 5
    timeouts = {"LdapTimeout": LDAP_TIMEOUT}
    m2 = env.mmpd("bindhang", imap=timeouts, pop=dict(timeouts))
    T.stop(env.slapd.proc.pid)
    try:
        with m.imap(timeout=bound + 10) as c:
            (t, _), dt = T.timed(c.login, "ivan", "ivan-pw")
        tap.ok(T.strip_tag(t) == imap_wrong and dt < bound,
               "LDAP hung (SIGSTOP): IMAP answer is that of a wrong "
               "password, in %.1f s (< %d s)" % (dt, bound),
               "got %r, wrong password: %r" % (t, imap_wrong))
        # A new mmp-ldapd: TCP connects (the kernel's backlog), the bind
        # gets no answer.
        m2.start()
        with m2.imap(timeout=bound + 10) as c:
            (t, _), dt = T.timed(c.login, "ivan", "ivan-pw")
        tap.ok(T.strip_tag(t) == imap_wrong and dt < bound,
               "LDAP hung at the bind: IMAP answer is that of a wrong "
               "password, in %.1f s (< %d s)" % (dt, bound), repr(t))
        tap.ok(m2.wait_log(r"no answer to the bind within %d s" %
                           LDAP_TIMEOUT),
               "LDAP hung at the bind: the log says so",
               m2.log()[-2000:])
    finally:
        os.kill(env.slapd.proc.pid, signal.SIGCONT)
    for inst, what in ((m, r"[1-9]\d* searches"), (m2, r"[1-9]\d* binds")):
        off = inst.log_size()
        inst.reload()
        tap.ok(inst.wait_log(r"IMAP LDAP operations without an answer "
                             r"within LdapTimeout since start: .*" + what,
                             off),
               "%s: the timeouts are counted (%s), logged at a reload" %
               (inst.name, what), inst.log_since(off)[-2000:])
    m2.stop()
    t0 = time.monotonic()
    ok = False
    while time.monotonic() - t0 < 30 and not ok:
        t, subj, d = T.imap_route(m, "judy", "judy-pw")
        ok = t.startswith(b"t1 OK") and subj == ["judy on store2"]
        if not ok:
            time.sleep(1)
    tap.ok(ok, "LDAP answering again: IMAP login works within 30 s", d)


def test_store_networks(tap, env):
    """StoreNetworks: the relay connects only inside it, whatever the
    directory answers; unset, mmpd warns."""
    fence = {"StoreNetworks": T.STORE_ADDRS["store1"] + "/32, ::1"}
    m = env.mmpd("fenced", imap=fence, pop=dict(fence)).start()
    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(t.startswith(b"t1 OK") and subj == ["alice on store1"],
           "StoreNetworks: a store inside it is used", d)
    before = len(env.stores["store2"].log())
    with m.imap() as c:
        t, _ = c.login("bob", "bob-pw")
    with m.pop3() as p:
        r = p.login("bob", "bob-pw")
    tap.ok(t.startswith(b"t1 NO [UNAVAILABLE]") and
           r.startswith(b"-ERR [SYS/TEMP]"),
           "StoreNetworks: a store outside it is answered as down",
           repr((t, r)))
    # The relays' lines reach the log through the parent, maybe after
    # the client had its answer.
    m.wait_log(r"(?s): store \S+ is outside StoreNetworks.*: store \S+ "
               r"is outside StoreNetworks", timeout=5)
    lines = [ln for ln in m.log().splitlines() if re.search(
        r": store \S+ is outside StoreNetworks", ln)]
    want = r"store %s:\d+ is outside StoreNetworks \((Imap|Pop)ProxyAService" \
           r"\.cfg:\d+\): not connecting" % re.escape(T.STORE_ADDRS["store2"])
    tap.ok(len(lines) == 2 and all(re.search(want, ln) for ln in lines),
           "StoreNetworks: the log names the address and the key's place",
           "\n".join(lines) or m.log()[-2000:])
    time.sleep(0.5)
    tap.ok(len(env.stores["store2"].log()) == before,
           "StoreNetworks: the store outside saw nothing at all",
           env.stores["store2"].log()[before:])
    tap.ok("StoreNetworks is not set" not in m.log(), "set: no warning")
    # A reload that widens the list takes effect in the relays.
    for conf in (m.conf_imap, m.conf_pop):
        conf["StoreNetworks"] = "127.0.0.0/8"
    m.write_config()
    offset = m.log_size()
    m.reload()
    done = m.wait_log(r"configuration 2 in effect in every process", offset)
    t, subj, d = T.imap_route(m, "bob", "bob-pw")
    tap.ok(done and t.startswith(b"t1 OK") and subj == ["bob on store2"],
           "StoreNetworks widened by a reload: the store is used", d)
    m.stop()
    m = env.mmpd("open", imap={"StoreNetworks": None},
                 pop={"StoreNetworks": None}).start()
    warn = [ln for ln in m.log().splitlines()
            if "StoreNetworks is not set: stores are not restricted" in ln]
    tap.ok(len(warn) == 2, "unset: mmpd warns for each service",
           "\n".join(warn))
    m.stop()


def main(tap):
    env = setup(tap)
    m = env.mmpd(imap={"ServerDownAlert": IMAP_ALERT,
                       "LdapTimeout": LDAP_TIMEOUT},
                 pop={"ServerDownAlert": POP_ALERT,
                      "LdapTimeout": LDAP_TIMEOUT}).start()
    test_store_down(tap, m)
    test_store_networks(tap, env)
    test_login_deadline(tap, env)
    test_long_dn(tap, env)
    test_ldap_down(tap, env, m)
    test_ldap_hung(tap, env, m)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
