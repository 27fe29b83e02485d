#!/usr/bin/env python3
# What mmpd answers by itself before a login: IMAP greeting, CAPABILITY,
# NOOP, ID, LOGOUT, BAD for the rest; POP3 CAPA, NOOP, QUIT, -ERR for the
# rest; too many bad commands and the login timeout end the connection.

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


def test_imap_limits(tap, m):
    c = m.imap()
    answers = []
    closed_after = None
    for i in range(1, MAX_BAD + 2):
        try:
            c.send("b%d BOGUS\r\n" % i)
        except OSError:
            closed_after = i - 1
            break
        t, un = c.read_until_tagged("b%d" % i)
        answers.append(t)
        if not t or c.wait_closed(0.2):
            closed_after = i
            break
    tap.ok(all(a.startswith(b"b%d BAD" % (n + 1))
               for n, a in enumerate(answers[:MAX_BAD - 1])),
           "IMAP bad commands below the limit: each answered BAD",
           repr(answers))
    tap.ok(closed_after is not None and MAX_BAD <= closed_after <=
           MAX_BAD + 1,
           "IMAP MaxBadCommands %d: connection dropped after %d-%d bad "
           "commands" % (MAX_BAD, MAX_BAD, MAX_BAD + 1),
           "closed after %r; answers %r" % (closed_after, answers))
    c.close()

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
    c = m.pop3()
    answers = []
    closed_after = None
    for i in range(1, MAX_BAD + 2):
        try:
            r = c.cmd("BOGUS%d" % i)
        except OSError:
            closed_after = i - 1
            break
        answers.append(r)
        if not r or c.wait_closed(0.2):
            closed_after = i
            break
    tap.ok(all(a.startswith(b"-ERR") for a in answers[:MAX_BAD - 1]),
           "POP3 bad commands below the limit: each answered -ERR",
           repr(answers))
    tap.ok(closed_after is not None and MAX_BAD <= closed_after <=
           MAX_BAD + 1,
           "POP3 MaxBadCommands %d: connection dropped after %d-%d bad "
           "commands" % (MAX_BAD, MAX_BAD, MAX_BAD + 1),
           "closed after %r; answers %r" % (closed_after, answers))
    c.close()

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
    env.start_backends()
    limits = {"MaxBadCommands": MAX_BAD, "LoginTimeout": LOGIN_TIMEOUT}
    m = env.mmpd(imap=limits, pop=limits).start()
    test_imap(tap, m)
    test_pop(tap, m)
    test_imap_limits(tap, m)
    test_pop_limits(tap, m)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
