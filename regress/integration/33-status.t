#!/usr/bin/env python3
# Account status: a user whose inetUserStatus or mailUserStatus says the
# account is not active is refused like a wrong password (same answer, same
# AuthFailureDelay), the store never sees the attempt, and mmpd's log names
# the attribute. Absent, empty, "active" and "overquota" pass, in any case.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

DELAY = 1
# An answer comes after DELAY, never before; how much after is the
# machine's: make check's leak part runs niced, sanitized, beside the
# other tests (1.54 s once). Answered alike in time: 32-timing, alone.
SLACK = 1.0

# uid, LDAP status attributes; all on store1 with a working password
PASSING = [
    ("plain", ()),
    ("active", (("inetUserStatus", "active"),
                ("mailUserStatus", "Active"))),
    ("overquota", (("mailUserStatus", "overquota"),)),
    ("upcase", (("inetUserStatus", "ACTIVE"),)),
]
REFUSED = [
    ("inactive", (("inetUserStatus", "inactive"),),
     "inetUserStatus inactive"),
    ("disabled", (("mailUserStatus", "disabled"),),
     "mailUserStatus disabled"),
    ("deleted", (("inetUserStatus", "Deleted"),), "inetUserStatus Deleted"),
    ("removed", (("mailUserStatus", "removed"),), "mailUserStatus removed"),
    ("held", (("mailUserStatus", "hold"),), "mailUserStatus hold"),
    # the mail status refuses even when the user status is active
    ("mixed", (("inetUserStatus", "active"),
               ("mailUserStatus", "inactive")), "mailUserStatus inactive"),
]


def setup(tap):
    env = T.Env("status", tap).setup(stores=("store1",))
    for uid, attrs in PASSING:
        env.user(uid, uid + "-pw", "store1", attrs=attrs)
        env.stores["store1"].seed(uid, T.message("%s here" % uid))
    for uid, attrs, why in REFUSED:
        env.user(uid, uid + "-pw", "store1", attrs=attrs)
    env.start_backends()
    return env


def main(tap):
    env = setup(tap)
    conf = {"AuthFailureDelay": DELAY}
    m = env.mmpd(imap=conf, pop=dict(conf)).start()
    for uid, attrs in PASSING:
        t, subj, d = T.imap_route(m, uid, uid + "-pw")
        tap.ok(b" OK" in t and subj == ["%s here" % uid],
               "IMAP %s %r: logged in" % (uid, attrs), d)
    r, subj = T.pop_route(m, "active", "active-pw")
    tap.ok(r.startswith(b"+OK"), "POP3 active: logged in", repr(r))

    with m.imap() as c:
        (wrong, _), wrong_dt = T.timed(c.login, "plain", "wrong-pw")
    tap.like(wrong, r"^t1 NO \[AUTHENTICATIONFAILED\] ",
             "a wrong password: NO [AUTHENTICATIONFAILED]")
    for uid, attrs, why in REFUSED:
        off = m.log_size()
        with m.imap() as c:
            (t, _), dt = T.timed(c.login, uid, uid + "-pw")
        tap.ok(T.strip_tag(t) == T.strip_tag(wrong),
               "IMAP %s (%s): answered like a wrong password" % (uid, why),
               repr((t, wrong)))
        tap.ok(DELAY <= dt < DELAY + SLACK,
               "IMAP %s: after AuthFailureDelay" % uid, "took %.3f s" % dt)
        got = m.wait_log(r'login "%s" refused: account disabled \(domain '
                         r'\S+, store \S+\): %s' % (uid, re.escape(why)), off)
        tap.ok(got, "mmpd log names the attribute: user \"%s\": %s" %
               (uid, why), m.log_since(off)[-2000:])
    with m.pop3() as p:
        u = p.cmd("USER disabled")
        r, dt = T.timed(p.cmd, "PASS disabled-pw")
    tap.ok(u.startswith(b"+OK") and r.startswith(b"-ERR") and
           DELAY <= dt < DELAY + SLACK,
           "POP3 disabled: -ERR after AuthFailureDelay", repr((u, r, dt)))
    env.stores["store1"].wait_log(r"user=<plain>")
    log = env.stores["store1"].log()
    seen = [uid for uid, attrs, why in REFUSED
            if "user=<%s>" % uid in log]
    tap.ok(not seen, "the store saw no login of a refused user", repr(seen))
    tap.ok("user=<plain>" in log, "the store saw the passing logins")
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
