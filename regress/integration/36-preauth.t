#!/usr/bin/env python3
# PreAuth: with PreAuth yes mmp-ldapd binds to LDAP as the user before any
# store is contacted. A user whose LDAP password differs from the store's
# shows which one was checked; a wrong password never reaches the store
# and is answered like any failure, at AuthFailureDelay; every attempt
# leaves one audit line in the product's format, in the AuditLog file
# when there is one, else in the service's log; an empty password never
# becomes an LDAP bind. PreAuth no: the store alone checks, as before.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

DELAY = 1	# AuthFailureDelay of the PreAuth instance
AUDIT_OK = (r"^(\d{8}) (\d{6}) \(sid (0x[0-9a-f]+)\) user %s "
            r"pre-authenticated - 127\.0\.0\.1$")
AUDIT_FAIL = (r"^\d{8} \d{6} \(sid (0x[0-9a-f]+)\) user %s "
              r"pre-authentication failed: %s - 127\.0\.0\.1$")


def setup(tap):
    env = T.Env("preauth", tap).setup()
    # frank, hank: the same password in LDAP and on the store.
    env.user("frank", "frank-pw", "store1")
    env.user("hank", "hank-pw", "store1")
    env.user("ivy", "ivy-pw", "store1")
    # gina: one password in LDAP, another on the store.
    env.slapd.add_user("gina", "gina-ldap-pw", "store1.mmp.test")
    env.stores["store1"].add_user("gina", "gina-store-pw")
    env.start_backends()
    return env


def audit_lines(path):
    try:
        with open(path, encoding="latin-1") as f:
            return f.read().splitlines()
    except OSError:
        return []


def wait_lines(fn, regex, n=1, timeout=5):
    end = time.time() + timeout
    while True:
        got = [ln for ln in fn() if re.search(regex, ln)]
        if len(got) >= n or time.time() > end:
            return got
        time.sleep(0.1)


def relay_sid(m, user):
    got = m.wait_log(r'session (0x[0-9a-f]+) \S+: user "%s" logged in'
                     % re.escape(user))
    return got.group(1) if got else None


def test_success(tap, m, audit):
    t, subj, d = T.imap_route(m, "frank", "frank-pw")
    tap.ok(re.match(rb"t\d+ OK", t) is not None,
           "IMAP PreAuth: the right LDAP password logs in", d)
    sid = relay_sid(m, "frank")
    lines = wait_lines(lambda: audit_lines(audit), AUDIT_OK % "frank")
    time.sleep(0.3)
    lines = [ln for ln in audit_lines(audit)
             if re.search(AUDIT_OK % "frank", ln)]
    tap.is_(len(lines), 1, "exactly one audit line for the login")
    mt = re.search(AUDIT_OK % "frank", lines[0]) if lines else None
    tap.ok(mt is not None and mt.group(3) == sid,
           "its sid is the relay's session id", "audit %r, relay %r" %
           (lines, sid))
    if mt:
        now = time.localtime()
        tap.ok(mt.group(1) == time.strftime("%Y%m%d", now),
               "its date is today's, local time", lines[0])
    main = m.log()
    tap.ok(not re.search(r"pre-authenticated", main),
           "with AuditLog set, no audit line in the main log",
           "\n".join(ln for ln in main.splitlines()
                     if "pre-auth" in ln))


def test_wrong(tap, env, m, audit):
    store = env.stores["store1"]
    with m.imap() as c:
        t0 = time.time()
        t, _ = c.login("hank", "not-hank-pw")
        dt = time.time() - t0
    tap.ok(re.match(rb"t\d+ NO \[AUTHENTICATIONFAILED\]", t) is not None,
           "a wrong LDAP password: NO [AUTHENTICATIONFAILED]", repr(t))
    tap.ok(DELAY <= dt < DELAY + 1.0, "answered at AuthFailureDelay",
           "%.3f s" % dt)
    with m.imap() as c:
        t0 = time.time()
        t2, _ = c.login("nosuchuser", "whatever")
        dt2 = time.time() - t0
    tap.ok(strip(t2) == strip(t), "an unknown user reads the same",
           "%r vs %r" % (t, t2))
    tap.ok(abs(dt2 - dt) < 0.3, "and takes the same time",
           "%.3f vs %.3f s" % (dt, dt2))
    fail = wait_lines(lambda: audit_lines(audit),
                      AUDIT_FAIL % ("hank", "invalid credentials"))
    tap.is_(len(fail), 1, "one failure line with the reason")
    nouser = wait_lines(lambda: audit_lines(audit),
                        AUDIT_FAIL % ("nosuchuser", "no such user"))
    tap.is_(len(nouser), 1, "an unknown user's failure line")
    # gina: the store's password is not the LDAP one, so PreAuth refuses.
    with m.imap() as c:
        t, _ = c.login("gina", "gina-store-pw")
    tap.ok(b"NO" in t, "the store's password is not checked by PreAuth",
           repr(t))
    time.sleep(0.5)
    store.wait_log(r"user=<frank>")
    log = store.log()
    tap.ok("user=<frank>" in log, "the store logs logins (control)")
    tap.ok("user=<hank>" not in log and "user=<gina>" not in log,
           "the store saw no attempt of a user PreAuth refused",
           "\n".join(ln for ln in log.splitlines()
                     if "hank" in ln or "gina" in ln))


def strip(t):
    return re.sub(rb"^t\d+ ", b"", t or b"")


def test_empty(tap, env, m):
    with m.imap() as c:
        t, _ = c.login("ivy", "")
    tap.ok(b"NO" in t, "an empty password is refused", repr(t))
    with m.pop3() as p:
        r = p.login("ivy", "")
    tap.ok(not r.startswith(b"+OK"), "POP3: an empty password is refused",
           repr(r))
    time.sleep(0.5)
    slog = env.slapd.log()
    tap.ok(re.search(r'BIND dn="uid=frank,', slog) is not None,
           "slapd logs the users' binds (control)")
    tap.ok(re.search(r'BIND dn="uid=ivy,', slog) is None,
           "no LDAP bind for an empty password",
           "\n".join(ln for ln in slog.splitlines() if "ivy" in ln))


def test_pop(tap, m):
    r, subj = T.pop_route(m, "frank", "frank-pw")
    tap.ok(r.startswith(b"+OK"), "POP3 PreAuth: the right password logs in",
           repr(r))
    got = m.wait_log(r"\d{8} \d{6} \(sid (0x[0-9a-f]+)\) user frank "
                     r"pre-authenticated - 127\.0\.0\.1\n")
    tap.ok(got is not None, "POP3 without AuditLog: the audit line is in "
           "the service's log")
    with m.pop3() as p:
        r = p.login("hank", "bad-pw")
    tap.ok(r.startswith(b"-ERR"), "POP3: a wrong LDAP password is refused",
           repr(r))
    got = m.wait_log(r"\(sid 0x[0-9a-f]+\) user hank pre-authentication "
                     r"failed: invalid credentials - 127\.0\.0\.1")
    tap.ok(got is not None, "POP3: its failure line")


def test_no_preauth(tap, env):
    m = env.mmpd(name="plain").start()
    with m.imap() as c:
        t, _ = c.login("gina", "gina-store-pw")
    tap.ok(re.match(rb"t\d+ OK", t) is not None,
           "PreAuth no: the store's password logs in (the store checks)",
           repr(t))
    with m.imap() as c:
        t, _ = c.login("gina", "gina-ldap-pw")
    tap.ok(b"NO" in t, "PreAuth no: the LDAP password does not", repr(t))
    tap.ok("pre-auth" not in m.log(), "PreAuth no: no audit line")
    m.stop()


def main(tap):
    env = setup(tap)
    audit = env.path("imap-audit.log")
    m = env.mmpd(imap={"PreAuth": "yes", "AuditLog": audit,
                       "AuthFailureDelay": DELAY},
                 pop={"PreAuth": "yes", "AuthFailureDelay": DELAY}).start()
    test_success(tap, m, audit)
    test_wrong(tap, env, m, audit)
    test_empty(tap, env, m)
    test_pop(tap, m)
    m.stop()
    test_no_preauth(tap, env)


T.run(main)
