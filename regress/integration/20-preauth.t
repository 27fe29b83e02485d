#!/usr/bin/env python3
# What mmpd answers by itself before a login: IMAP greeting, CAPABILITY,
# NOOP, ID, LOGOUT, BAD for the rest; POP3 CAPA, NOOP, QUIT, -ERR for the
# rest; too many bad commands (failed logins included) and the login
# timeout end the connection.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

MAX_BAD = 3
LOGIN_TIMEOUT = 2


def test_imap(tap, m):
    c = m.imap()
    g = c.greeting.decode("latin-1")
    tap.like(g, r"^\* OK \[CAPABILITY [^\]]*\bIMAP4rev1\b[^\]]*\] .*\r\n$",
             "IMAP greeting: * OK [CAPABILITY ...] text")
    caps = re.search(r"\[CAPABILITY ([^\]]*)\]", g)
    caps = caps.group(1).split() if caps else []
    for cap in ("LITERAL+", "AUTH=PLAIN", "SASL-IR", "ID"):
        tap.ok(cap in caps, "IMAP greeting capability lists %s" % cap,
               "got %r" % caps)

    t, un = c.cmd("CAPABILITY")
    tap.ok(t.startswith(b"t1 OK") and
           any(u.startswith(b"* CAPABILITY ") and b" IMAP4rev1" in u
               for u in un),
           "IMAP CAPABILITY: * CAPABILITY IMAP4rev1 ... and tagged OK",
           "%r %r" % (t, un))
    t, un = c.cmd("NOOP")
    tap.like(t, r"^t2 OK", "IMAP NOOP: tagged OK")
    t, un = c.cmd('ID ("name" "mmptest" "version" "1")')
    tap.ok(t.startswith(b"t3 OK") and any(u.startswith(b"* ID ")
                                          for u in un),
           "IMAP ID: * ID ... and tagged OK", "%r %r" % (t, un))
    t, un = c.cmd("ID NIL")
    tap.like(t, r"^t4 OK", "IMAP ID NIL: tagged OK")
    t, un = c.cmd("FROBNICATE now")
    tap.like(t, r"^t5 BAD", "IMAP unknown command: tagged BAD")
    t, un = c.cmd("SELECT INBOX")
    tap.like(t, r"^t6 BAD", "IMAP SELECT before login: tagged BAD")
    t, un = c.cmd("NOOP")
    tap.like(t, r"^t7 OK", "IMAP connection usable after two BADs")
    t, un = c.cmd("LOGOUT")
    tap.ok(t.startswith(b"t8 OK") and any(u.startswith(b"* BYE")
                                          for u in un),
           "IMAP LOGOUT: * BYE and tagged OK", "%r %r" % (t, un))
    tap.ok(c.wait_closed(3), "IMAP LOGOUT: connection closed")
    c.close()

    c = m.imap()
    c.send("x1 LOGIN\r\n")
    t, un = c.read_until_tagged("x1")
    tap.like(t, r"^x1 BAD", "IMAP LOGIN without arguments: tagged BAD")
    c.send("x2 NOOP extra\r\n")
    t, un = c.read_until_tagged("x2")
    tap.like(t, r"^x2 BAD", "IMAP NOOP with an argument: tagged BAD")
    c.close()


def imap_bad_then(c, nbad, tagfmt="b%d"):
    """nbad bad commands, each read with its answer; (answers, closed at
    which one or None)."""
    answers = []
    for i in range(1, nbad + 1):
        c.send((tagfmt % i) + " BOGUS\r\n")
        t, un = c.read_until_tagged(tagfmt % i)
        answers.append((t, un))
        if c.wait_closed(0.2):
            return answers, i
    return answers, None


def test_imap_limits(tap, m):
    # Exactly: the MaxBadCommands-th bad command gets its BAD, a BYE and
    # the close; one fewer leaves the connection open.
    with m.imap() as c:
        answers, closed = imap_bad_then(c, MAX_BAD - 1)
        tap.ok(closed is None and all(t.startswith(b"b%d BAD" % (i + 1))
                                      for i, (t, un) in
                                      enumerate(answers)),
               "IMAP %d bad commands: each answered BAD, connection open" %
               (MAX_BAD - 1), repr(answers))
        c.send("b%d BOGUS\r\n" % MAX_BAD)
        t, un = c.read_until_tagged("b%d" % MAX_BAD)
        bye = c.readline()
        rest = c.readline()
        tap.ok(t.startswith(b"b%d BAD" % MAX_BAD) and
               bye == b"* BYE Too many invalid commands\r\n" and
               rest == b"",
               "IMAP MaxBadCommands %d: the %dth bad command gets BAD, BYE "
               "and the close" % (MAX_BAD, MAX_BAD), repr((t, bye, rest)))
    # A login the store refused counts like any other bad command.
    with m.imap() as c:
        answers, closed = imap_bad_then(c, MAX_BAD - 2)
        t1, _ = c.login("alice", "wrong-pw")
        open1 = not c.wait_closed(0.2)
        t2, _ = c.login("alice", "wrong-pw")
        bye = c.readline()
        rest = c.readline()
        tap.ok(closed is None and open1 and
               t1.startswith(b"t1 NO [AUTHENTICATIONFAILED]") and
               t2.startswith(b"t2 NO [AUTHENTICATIONFAILED]") and
               bye == b"* BYE Too many invalid commands\r\n" and
               rest == b"",
               "IMAP: wrong passwords count toward MaxBadCommands",
               repr((answers, t1, open1, t2, bye, rest)))

    c = m.imap()
    t0 = time.monotonic()
    closed = c.wait_closed(LOGIN_TIMEOUT + 5)
    dt = time.monotonic() - t0
    tap.ok(closed and dt >= LOGIN_TIMEOUT - 0.5,
           "IMAP LoginTimeout %d: idle client dropped (after %.1f s)" %
           (LOGIN_TIMEOUT, dt), "closed=%r after %.1f s" % (closed, dt))
    c.close()


def pop_capa(c):
    r = c.cmd("CAPA")
    lines = c.multiline() if r.startswith(b"+OK") else None
    return r, lines


def test_pop(tap, m):
    c = m.pop3()
    tap.like(c.greeting, r"^\+OK .*\r\n$", "POP3 greeting: +OK text")
    r, lines = pop_capa(c)
    names = [ln.split()[0].upper() for ln in (lines or []) if ln.split()]
    tap.ok(r.startswith(b"+OK") and lines is not None,
           "POP3 CAPA: +OK and a list ending in .", repr(r))
    tap.ok(b"USER" in names, "POP3 CAPA lists USER", repr(lines))
    tap.ok(any(ln.upper().startswith(b"SASL ") and b"PLAIN" in ln.upper()
               for ln in lines or []),
           "POP3 CAPA lists SASL PLAIN", repr(lines))
    tap.like(c.cmd("NOOP"), r"^\+OK", "POP3 NOOP: +OK")
    tap.like(c.cmd("FROB"), r"^-ERR", "POP3 unknown command: -ERR")
    tap.like(c.cmd("STAT"), r"^-ERR", "POP3 STAT before login: -ERR")
    tap.like(c.cmd("NOOP"), r"^\+OK", "POP3 connection usable after -ERR")
    tap.like(c.cmd("QUIT"), r"^\+OK", "POP3 QUIT: +OK")
    tap.ok(c.wait_closed(3), "POP3 QUIT: connection closed")
    c.close()


def test_pop_limits(tap, m):
    with m.pop3() as c:
        answers = [c.cmd("BOGUS%d" % i) for i in range(1, MAX_BAD)]
        still = not c.wait_closed(0.2)
        tap.ok(still and all(a.startswith(b"-ERR") for a in answers),
               "POP3 %d bad commands: each answered -ERR, connection open" %
               (MAX_BAD - 1), repr(answers))
        r = c.cmd("BOGUS%d" % MAX_BAD)
        bye = c.readline()
        rest = c.readline()
        tap.ok(r.startswith(b"-ERR") and
               bye == b"-ERR Too many invalid commands\r\n" and rest == b"",
               "POP3 MaxBadCommands %d: the %dth bad command gets -ERR, "
               "the -ERR of the limit and the close" % (MAX_BAD, MAX_BAD),
               repr((r, bye, rest)))
    with m.pop3() as c:
        answers = [c.cmd("BOGUS%d" % i) for i in range(1, MAX_BAD - 1)]
        r1 = c.login("alice", "wrong-pw")
        open1 = not c.wait_closed(0.2)
        r2 = c.login("alice", "wrong-pw")
        bye = c.readline()
        rest = c.readline()
        tap.ok(open1 and r1.startswith(b"-ERR [AUTH]") and
               r2.startswith(b"-ERR [AUTH]") and
               bye == b"-ERR Too many invalid commands\r\n" and rest == b"",
               "POP3: wrong passwords count toward MaxBadCommands",
               repr((answers, r1, open1, r2, bye, rest)))

    c = m.pop3()
    t0 = time.monotonic()
    closed = c.wait_closed(LOGIN_TIMEOUT + 5)
    dt = time.monotonic() - t0
    tap.ok(closed and dt >= LOGIN_TIMEOUT - 0.5,
           "POP3 LoginTimeout %d: idle client dropped (after %.1f s)" %
           (LOGIN_TIMEOUT, dt), "closed=%r after %.1f s" % (closed, dt))
    c.close()


def main(tap):
    env = T.Env("preauth", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.start_backends()
    limits = {"MaxBadCommands": MAX_BAD, "LoginTimeout": LOGIN_TIMEOUT}
    m = env.mmpd(imap=limits, pop=limits).start()
    test_imap(tap, m)
    test_pop(tap, m)
    test_imap_limits(tap, m)
    test_pop_limits(tap, m)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
