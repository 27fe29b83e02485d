#!/usr/bin/env python3
# Timing is an answer too. With stores that take a real second to refuse a
# password (auth_failure_delay 1 s, as Dovecot does with 2 s by default),
# every failed login through mmpd must be answered AuthFailureDelay after
# the line that completed the credentials, whatever failed: an unknown
# user, a user without mailHost, a wrong password (the store's refusal), a
# name mmpd refuses itself. Once the wrong password took a second more
# than the unknown user, which told a client which names exist.

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

DELAY = 2		# AuthFailureDelay, above the stores' 1 s
STORE_DELAY = 1		# the stores' auth_failure_delay
ROUNDS = 20		# logins of each kind, all at once
SPREAD = 0.1		# most the medians of two kinds may differ by
LATE = 1.0		# no failure later than DELAY + this


def imap_case(m, user, pw):
    def run(i):
        with m.imap(timeout=30) as c:
            (t, _), dt = T.timed(c.login, user, pw)
            return t, dt
    return run


def imap_literal_case(m, data, tag):
    def run(i):
        with m.imap(timeout=30) as c:
            t0 = time.monotonic()
            c.send(data)
            t, _ = c.read_until_tagged(tag)
            return t, time.monotonic() - t0
    return run


def pop_case(m, user, pw):
    def run(i):
        with m.pop3(timeout=30) as p:
            p.cmd("USER " + user)
            r, dt = T.timed(p.cmd, "PASS " + pw)
            return r, dt
    return run


def measure(tap, cases, want):
    """Runs ROUNDS logins of every case at once: {name: [seconds]}."""
    fns = [(name, fn) for name, fn in cases for _ in range(ROUNDS)]
    results = T.in_threads(len(fns), lambda i: fns[i][1](i), timeout=120)
    times = {}
    bad = []
    for (name, _), (ok, res) in zip(fns, results):
        if not ok or want not in res[0]:
            bad.append("%s: %r" % (name, res))
            continue
        times.setdefault(name, []).append(res[1])
    tap.ok(not bad, "every login of every kind failed alike (%s)" %
           want.decode().strip(), "\n".join(bad[:10]))
    return times


def check(tap, proto, times):
    medians = {k: statistics.median(v) for k, v in times.items()}
    tap.diag("%s medians: %s" % (proto, ", ".join(
        "%s %.3f s" % kv for kv in sorted(medians.items()))))
    early = {k: min(v) for k, v in times.items() if min(v) < DELAY}
    tap.ok(not early, "%s: no failure answered before AuthFailureDelay "
           "%d s" % (proto, DELAY), repr(early))
    late = {k: max(v) for k, v in times.items() if max(v) > DELAY + LATE}
    tap.ok(not late, "%s: every failure answered within %.1f s after it" %
           (proto, LATE), repr(late))
    if not medians:
        tap.ok(False, "%s: medians" % proto)
        return
    spread = max(medians.values()) - min(medians.values())
    tap.ok(spread < SPREAD, "%s: medians of the causes differ by %.0f ms "
           "(< %.0f ms)" % (proto, spread * 1000, SPREAD * 1000),
           repr(medians))


def main(tap):
    env = T.Env("timing", tap).setup(
        store_tuning={"auth_failure_delay": STORE_DELAY})
    env.user("alice", "alice-pw", "store1")
    env.user("bob", "bob-pw", "store2")
    env.user("nomail", "nomail-pw", None, stores_pw=("store1", "store2"))
    env.user("ghost", "ghost-pw", None, ldap=False,
             stores_pw=("store1", "store2"))
    env.start_backends()
    # Every kind's ROUNDS logins at once from 127.0.0.1, several kinds
    # to one store: above ConnLimits' and MaxConcurrentConnectionAttempts'
    # defaults (20, 32), which would answer some before the delay.
    limits = {"AuthFailureDelay": DELAY, "MaxBadCommands": 100,
              "ConnLimits": "0.0.0.0|0.0.0.0:20,127.0.0.1|255.255.255.255:"
                            "1000",
              "MaxConcurrentConnectionAttempts": 1000}
    m = env.mmpd(imap=limits, pop=dict(limits)).start()

    # The store really takes its second: the leak this test is about.
    with m.imap() as c:
        t0 = time.monotonic()
        t, _ = c.login("alice", "wrong-pw")
        tap.ok(t.startswith(b"t1 NO"), "a wrong password fails", repr(t))
    env.stores["store1"].wait_log(r"(?i)auth failed|password mismatch")
    log = env.stores["store1"].log()
    tap.ok("auth failed" in log or "Password mismatch" in log or
           "password mismatch" in log.lower(),
           "the store itself refused it (its log says so)", log[-1500:])

    imap = measure(tap, [
        ("unknown user", imap_case(m, "ghost", "ghost-pw")),
        ("no mailHost", imap_case(m, "nomail", "nomail-pw")),
        ("wrong password", imap_case(m, "alice", "wrong-pw")),
        ("name with CR LF", imap_literal_case(
            m, b"n LOGIN {12+}\r\nalice\r\njunk1 alice-pw\r\n", "n")),
    ], b" NO [AUTHENTICATIONFAILED] ")
    check(tap, "IMAP", imap)
    pop = measure(tap, [
        ("unknown user", pop_case(m, "ghost", "ghost-pw")),
        ("no mailHost", pop_case(m, "nomail", "nomail-pw")),
        ("wrong password", pop_case(m, "bob", "wrong-pw")),
    ], b"-ERR [AUTH] ")
    check(tap, "POP3", pop)

    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(t.startswith(b"t1 OK"), "the right password still logs in", d)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
