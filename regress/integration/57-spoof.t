#!/usr/bin/env python3
# SpoofMessageFile, SpoofEmptyMailbox, SpoofTempFail (POP3): a user whose
# password mmp-ldapd verified (PreAuth) and whose store is down gets a
# session where mmpd plays the mailbox: the file's message (RETR equals
# the file, CRLF, dot-stuffed; TOP, UIDL, LIST, DELE/RSET), or an empty
# mailbox. A wrong password with the store down gets the failure every
# failure gets, at AuthFailureDelay: no spoof confirms a user to a
# guesser. Without PreAuth nothing is verified, so no spoof either.
# SpoofTempFail: the store's [SYS/TEMP] (Dovecot with pop3_lock_session
# and a maildir it cannot write its lock into; its [IN-USE] for a second
# session waits 2 minutes for the lock first) and a held account
# (mailUserStatus hold) spoof too; without it they fail. A file that is
# missing or not a message refuses the configuration with file:line.

import os
import poplib
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

DELAY = 1
SPOOF_FILE = (b"From: Postmaster <postmaster@example.test>\n"
              b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
              b"Subject: Your mailbox is resting\n"
              b"\n"
              b"Your mailbox cannot be reached just now.\n"
              b".a line that begins with a dot\n"
              b".\n"
              b"Try again later.\n")
SPOOF_CRLF = SPOOF_FILE.replace(b"\n", b"\r\n")


def setup(tap):
    env = T.Env("spoof", tap).setup(
        store_tuning={"pop3_lock_session": True})
    # sam: his store is down. hal: on hold.
    env.user("sam", "sam-pw", mailhost="down.mmp.test")
    env.user("hal", "hal-pw", "store1",
             attrs=(("mailUserStatus", "hold"),))
    # tina: a maildir Dovecot cannot write its POP3 session lock into.
    env.user("tina", "tina-pw", "store1")
    env.stores["store1"].seed("tina", T.message("for tina"))
    env.start_backends()
    os.chmod(env.stores["store1"].home("tina"), 0o555)
    return env


def spoof_file(env):
    path = env.path("spoof.msg")
    with open(path, "wb") as f:
        f.write(SPOOF_FILE)
    return path


def timed_fail(m, user, pw):
    with m.pop3() as p:
        t0 = time.monotonic()
        r = p.login(user, pw)
        return r, time.monotonic() - t0


def test_message(tap, m):
    p = poplib.POP3(m.host, m.pop_ports[0], timeout=10)
    try:
        p.user("sam")
        r = p.pass_("sam-pw")
        tap.like(r, r"^\+OK", "store down, right password: +OK")
        n, size = p.stat()
        tap.ok(n == 1 and size == len(SPOOF_CRLF), "STAT: one message of "
               "the file's size with CRLF", "%r %r" % (n, size))
        _, lines, octets = p.retr(1)
        got = b"\r\n".join(lines) + b"\r\n"
        tap.ok(got == SPOOF_CRLF, "RETR 1 is the file (poplib unstuffed "
               "the dots)", repr(got))
        _, top, _ = p.top(1, 0)
        tap.ok(top[-1] == b"" and b"Subject: Your mailbox is resting" in
               top and b"Try again later." not in top,
               "TOP 1 0: headers and the empty line only", repr(top))
        _, top1, _ = p.top(1, 2)
        tap.is_(top1[-2:], [b"Your mailbox cannot be reached just now.",
                            b".a line that begins with a dot"],
                "TOP 1 2: two body lines")
        _, ul, _ = p.uidl()
        tap.ok(len(ul) == 1 and re.match(rb"^1 spoof-[0-9a-f]{16}$", ul[0]),
               "UIDL: one stable id", repr(ul))
        u1 = p.uidl(1)
        tap.ok(u1.endswith(ul[0][2:]), "UIDL 1 the same", repr(u1))
        _, li, _ = p.list()
        tap.is_(li, [b"1 %d" % len(SPOOF_CRLF)], "LIST")
        tap.like(p.dele(1), r"^\+OK", "DELE 1 taken")
        tap.is_(p.stat(), (0, 0), "then STAT 0 0")
        try:
            p.retr(1)
            tap.ok(False, "RETR of a deleted message refused")
        except poplib.error_proto as e:
            tap.like(str(e), "deleted", "RETR of a deleted message refused")
        p.rset()
        tap.is_(p.stat()[0], 1, "RSET: the message is back")
        tap.like(p.noop(), r"^\+OK", "NOOP")
        tap.like(p.quit(), r"^\+OK", "QUIT +OK")
    except poplib.error_proto as e:
        tap.ok(False, "spoofed mailbox: %s" % e, m.log()[-2000:])
    tap.ok(m.wait_log(r'user "sam" gets a spoofed one-message mailbox: the '
                      r'store is unavailable'), "log: spoofed and why")


def test_raw(tap, m):
    """Dot-stuffing on the wire, strict parsing, pipelining."""
    with m.pop3() as p:
        # Pipelined: the login and the commands in one write.
        p.send(b"USER sam\r\nPASS sam-pw\r\nRETR 1\r\nLIST 2\r\n"
               b"RETR 01x\r\nTOP 1\r\nXYZZY\r\nUSER sam\r\nQUIT\r\n")
        a = [p.readline(), p.readline(), p.readline()]
        body = []
        while True:
            line = p.readline()
            if line in (b".\r\n", b""):
                break
            body.append(line)
        rest = [p.readline() for _ in range(6)]
        eof = p.readline()
    tap.ok(a[0].startswith(b"+OK") and a[1] == b"+OK Logged in.\r\n",
           "pipelined login: +OK", repr(a[:2]))
    tap.ok(a[2].startswith(b"+OK %d octets" % len(SPOOF_CRLF)),
           "RETR announces its octets", repr(a[2]))
    tap.ok(b"..a line that begins with a dot\r\n" in body and
           b"..\r\n" in body, "a line beginning with a dot is stuffed on "
           "the wire", repr(body))
    tap.ok(all(x.startswith(b"-ERR") for x in rest[:5]),
           "LIST 2, a bad number, TOP without count, unknown command, USER: "
           "-ERR", repr(rest))
    tap.ok(rest[5].startswith(b"+OK") and eof == b"", "QUIT: +OK, closed",
           repr(rest[5:] + [eof]))


def test_wrong(tap, m):
    r1, d1 = timed_fail(m, "sam", "not-sam-pw")
    r2, d2 = timed_fail(m, "nosuchuser", "whatever")
    tap.is_(r1, b"-ERR [AUTH] Authentication failed.\r\n",
            "store down, wrong password: the failure, not a spoof")
    tap.is_(r1, r2, "the same answer as an unknown user")
    tap.ok(DELAY <= d1 < DELAY + 0.8 and abs(d1 - d2) < 0.3,
           "at the same AuthFailureDelay", "%.3f %.3f" % (d1, d2))
    tap.ok(not re.search(r'user "sam" gets a spoofed.*\n(?:.*\n)*.*'
                         r'not-sam', m.log()), "no password in the log")


def test_tempfail(tap, m, want_spoof):
    """tina's maildir is read-only: Dovecot (pop3_lock_session) cannot
    create its session lock and answers -ERR [SYS/TEMP] to her PASS."""
    what = "SpoofTempFail yes" if want_spoof else "SpoofTempFail no"
    with m.pop3() as p:
        r = p.login("tina", "tina-pw")
        st = p.cmd("STAT")
    if want_spoof:
        tap.ok(r.startswith(b"+OK") and st == b"+OK 1 %d\r\n" %
               len(SPOOF_CRLF), "%s: the store's [SYS/TEMP] gives the "
               "spoofed message" % what, repr((r, st)))
        tap.ok(m.wait_log(r'store \S+ refused: -ERR \[SYS/TEMP\].*\n.*'
                          r'user "tina" gets a spoofed one-message mailbox: '
                          r'the store answered a temporary failure'),
               "log: the store's answer, then the spoof and why")
    else:
        tap.is_(r, b"-ERR [AUTH] Authentication failed.\r\n",
                "%s: the store's [SYS/TEMP] is a failed login" % what)


def test_held(tap, m, want_spoof):
    with m.pop3() as p:
        r = p.login("hal", "hal-pw")
        st = p.cmd("STAT") if r.startswith(b"+OK") else b""
    if want_spoof:
        tap.ok(r.startswith(b"+OK") and st == b"+OK 1 %d\r\n" %
               len(SPOOF_CRLF), "mailUserStatus hold, right password: the "
               "spoofed message", repr((r, st)))
        tap.ok(m.wait_log(r'user "hal" gets a spoofed one-message mailbox: '
                          r'mailUserStatus hold \(password verified\)'),
               "log: held, verified")
    else:
        tap.is_(r, b"-ERR [AUTH] Authentication failed.\r\n",
                "mailUserStatus hold without SpoofTempFail: refused")
    r1, d1 = timed_fail(m, "hal", "not-hal-pw")
    tap.is_(r1, b"-ERR [AUTH] Authentication failed.\r\n",
            "held, wrong password: the failure")


def test_empty(tap, env):
    m = env.mmpd(name="empty", pop={"PreAuth": "yes",
                                    "SpoofEmptyMailbox": "yes",
                                    "SpoofMessageFile": spoof_file(env),
                                    "AuthFailureDelay": DELAY}).start()
    p = poplib.POP3(m.host, m.pop_ports[0], timeout=10)
    try:
        p.user("sam")
        tap.like(p.pass_("sam-pw"), r"^\+OK", "SpoofEmptyMailbox: +OK")
        tap.is_(p.stat(), (0, 0), "STAT +OK 0 0 (the file is not used)")
        tap.is_(p.list()[1], [], "LIST empty")
        tap.is_(p.uidl()[1], [], "UIDL empty")
        try:
            p.retr(1)
            tap.ok(False, "RETR 1: -ERR")
        except poplib.error_proto as e:
            tap.like(str(e), "no message 1", "RETR 1: -ERR no such message")
        tap.like(p.quit(), r"^\+OK", "QUIT +OK")
    except poplib.error_proto as e:
        tap.ok(False, "empty mailbox: %s" % e, m.log()[-2000:])
    test_tempfail(tap, m, False)
    test_held(tap, m, False)
    m.stop()


def test_no_preauth(tap, env):
    m = env.mmpd(name="nopreauth",
                 pop={"SpoofMessageFile": spoof_file(env),
                      "SpoofTempFail": "yes"}).start()
    with m.pop3() as p:
        r = p.login("sam", "sam-pw")
    tap.is_(r, b"-ERR [SYS/TEMP] mmptest: POP store is down\r\n",
            "PreAuth no: nothing verified, the store-down answer, no spoof")
    tap.ok("gets a spoofed" not in m.log(), "no spoof logged")
    m.stop()


def test_config(tap, env):
    bad = env.path("bad.msg")
    with open(bad, "wb") as f:
        f.write(b"Subject: x\nDate: y\n\nbody\n")
    cases = (("missing", env.path("nothing.msg"), "No such file"),
             ("no From", bad, "the header section has no From: field"))
    for name, path, why in cases:
        m = env.mmpd(name="bad-" + name.replace(" ", ""),
                     pop={"SpoofMessageFile": path})
        lines = m.write_config()
        rc, out = m.check()
        want = "PopProxyAService.cfg:%d: SpoofMessageFile %s: %s" % (
            lines["PopProxyAService.cfg"]["SpoofMessageFile"], path, why)
        tap.ok(rc != 0 and want in out, "SpoofMessageFile %s: refused with "
               "file:line" % name, out)


def test_reload(tap, env, m, path):
    """A new file at reload: new sessions get it; a bad one is refused."""
    new = SPOOF_FILE.replace(b"resting", b"renewed")
    with open(path, "wb") as f:
        f.write(new)
    off = m.log_size()
    m.reload()
    m.wait_log(r"configuration \d+ in effect in every process", off)
    p = poplib.POP3(m.host, m.pop_ports[0], timeout=10)
    p.user("sam")
    p.pass_("sam-pw")
    _, lines, _ = p.retr(1)
    p.quit()
    tap.ok(b"Subject: Your mailbox is renewed" in lines,
           "after a reload: the new file's message", repr(lines[:4]))
    with open(path, "wb") as f:
        f.write(b"\0bad")
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"SpoofMessageFile \S+: a NUL byte at 0", off),
           "a reload with a bad file is refused, said with the reason")


def main(tap):
    env = setup(tap)
    path = spoof_file(env)
    m = env.mmpd(pop={"PreAuth": "yes", "SpoofMessageFile": path,
                      "SpoofTempFail": "yes",
                      "AuthFailureDelay": DELAY}).start()
    test_message(tap, m)
    test_raw(tap, m)
    test_wrong(tap, m)
    test_tempfail(tap, m, True)
    test_held(tap, m, True)
    test_reload(tap, env, m, path)
    m.stop()
    test_empty(tap, env)
    test_no_preauth(tap, env)
    test_config(tap, env)


T.run(main)
