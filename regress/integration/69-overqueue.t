#!/usr/bin/env python3
# A reply that would take a relay's pre-login replies over
# MaxPreauthQueueBytes closes its session, silently, and the session
# stays closed whatever the reply was to announce: after STARTTLS / STLS
# the socket does not go to mmp-tlsd, after a CRAM-MD5 challenge no SASL
# response is waited for, after an XQUERYAUTH answer no more commands are
# read. None of them is counted as closing for ever: afterwards the relay
# greets and logs in clients (MaxSessionsPerWorker subtracts the closing
# sessions; one count left behind per such session made the relay refuse
# every client once there were more of them than sessions open) and the
# statistics page shows no session left.
#
# To the byte, and in order: with the one relay stopped (SIGSTOP), nine
# clients send 97 NOOPs each, then the victim its command; resumed, the
# relay reads them all in one round, in that order, and writes nothing
# before the round ends. The nine queue exactly MaxPreauthQueueBytes
# (each stays under the 2048 bytes that pause a client), so the victim's
# reply is the one over.
#
# A spoofed POP3 mailbox (SpoofMessageFile; sam's store is down) is
# logged in as far as its client knows: its replies are neither counted
# nor cut. With the queue 21 bytes short of the cap, sam's RETR in the
# same round is answered in full, a pre-login client's 21-byte reply
# after it still fits and the next one's goes over. The sections after
# it fill the queue to the byte again, so the accounting is back to
# zero.

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

FILLERS = 9
NOOPS = 97
NOOP_OK = b"f OK NOOP completed\r\n"
CAP = FILLERS * NOOPS * len(NOOP_OK)	# 18333, over the least (16384)
MTA = "127.0.0.5"			# the victim; AuthServiceClients
CLOSED = (r"closed: pre-login replies over %d bytes in this relay "
          r"\(MaxPreauthQueueBytes\) \(by mmpd\)" % CAP)
ADMIN = {"CRAMs": "yes", "StoreAdmin": "mmpadmin",
         "StoreAdminPass": "mmpadmin-pw"}
LIMITS = {"ConnLimits": "0.0.0.0|0.0.0.0:100"}
# About 4 KiB, far over what is left under the cap; dots to stuff.
SPOOF_FILE = (b"From: Postmaster <postmaster@example.test>\n"
              b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
              b"Subject: Your mailbox is resting\n\n" +
              b"".join(b"%s line %02d of the spoofed message, padded to "
                       b"be long enough to count\n" %
                       (b"." if i % 10 == 0 else b"", i) for i in range(60)))
SPOOF_CRLF = SPOOF_FILE.replace(b"\n", b"\r\n")


def silent_close(conn, timeout=3):
    """(closed within timeout, bytes received before)."""
    got = b""
    end = time.time() + timeout
    while time.time() < end:
        conn.settimeout(max(0.05, end - time.time()))
        try:
            d = conn.sock.recv(65536)
        except OSError:
            return False, got
        if not d:
            return True, got
        got += d
    return False, got


def over_cap(tap, m, victim, poke, what):
    """Fill the relay's queue to MaxPreauthQueueBytes, then poke(): the
    victim's reply, the next in that round, goes over."""
    relay = m.child_pid("relay")
    fillers = [m.imap(source="127.0.0.%d" % (10 + i))
               for i in range(FILLERS)]
    src, port = victim.sock.getsockname()[:2]
    off = m.log_size()
    if not T.stop(relay):
        tap.diag("relay %s did not stop" % relay)
    for f in fillers:
        f.send(b"f NOOP\r\n" * NOOPS)
    poke()
    os.kill(relay, signal.SIGCONT)
    closed, got = silent_close(victim)
    tap.ok(closed and got == b"", "%s: over MaxPreauthQueueBytes, closed "
           "without a word" % what, "closed %s, got %r" % (closed, got))
    tap.ok(m.wait_log(r"%s:%d: %s" % (re.escape(src), port, CLOSED), off),
           "%s: the log says why" % what)
    answered = []
    for f in fillers:
        n = 0
        while n < NOOPS and f.readline() == NOOP_OK:
            n += 1
        answered.append(n)
    tap.is_(answered, [NOOPS] * FILLERS, "%s: the %d before it fit, all "
            "answered" % (what, FILLERS))
    for f in fillers + [victim]:
        f.close()


def test_spoof(tap, m):
    """sam's RETR in a round that leaves the pre-login replies 21 bytes
    short of the cap: answered in full, and the room is still there for
    a pre-login client's NOOP; the next client's goes over."""
    relay = m.child_pid("relay")
    off = m.log_size()
    sam = m.pop3(source="127.0.0.40")
    tap.ok(sam.login("sam", "sam-pw").startswith(b"+OK") and
           m.wait_log(r"user \"sam\" gets a spoofed one-message mailbox",
                      off), "sam logs in to a spoofed mailbox")
    fillers = [m.imap(source="127.0.0.%d" % (10 + i))
               for i in range(FILLERS)]
    fits, over = m.imap(source="127.0.0.41"), m.imap(source="127.0.0.42")
    if not T.stop(relay):
        tap.diag("relay %s did not stop" % relay)
    for i, f in enumerate(fillers):
        f.send(b"f NOOP\r\n" * (NOOPS - (i == 0)))
    sam.send(b"RETR 1\r\n")
    fits.send(b"f NOOP\r\n")
    over.send(b"f NOOP\r\n")
    os.kill(relay, signal.SIGCONT)
    r = sam.readline()
    lines = sam.multiline() if r.startswith(b"+OK") else None
    tap.ok(r == b"+OK %d octets\r\n" % len(SPOOF_CRLF) and
           lines is not None and b"".join(lines) == SPOOF_CRLF,
           "the spoofed mailbox's RETR is answered in full",
           "%r, %r" % (r, lines))
    tap.is_(sam.cmd("QUIT"), b"+OK Logging out.\r\n",
            "and its session goes on: QUIT")
    tap.is_(fits.readline(), NOOP_OK, "its reply took none of the room "
            "left: a pre-login client's reply still fits")
    closed, got = silent_close(over)
    tap.ok(closed and got == b"" and
           m.wait_log(r"127\.0\.0\.42:\d+: %s" % CLOSED, off),
           "the next pre-login reply goes over: closed",
           "closed %s, got %r" % (closed, got))
    answered = []
    for i, f in enumerate(fillers):
        n = 0
        while n < NOOPS - (i == 0) and f.readline() == NOOP_OK:
            n += 1
        answered.append(n)
    tap.is_(answered, [NOOPS - 1] + [NOOPS] * (FILLERS - 1),
            "the fillers' replies all answered")
    for c in fillers + [sam, fits, over]:
        c.close()


def sends(victim, line):
    return lambda: victim.send(line + b"\r\n")


def test_xqueryauth(tap, m):
    """The answer comes from mmp-ldapd: stopped while the question waits,
    killed once the nine have sent; its channel's end of file, after
    them, fails the question."""
    victim = m.pop3(source=MTA)
    ldapd = m.child_pid("mmp-ldapd")
    T.stop(ldapd)
    off = m.log_size()
    victim.send(b"XQUERYAUTH 127.0.0.2\r\n")
    tap.ok(m.wait_log(r"%s:\d+: XQUERYAUTH 127\.0\.0\.2" %
                      re.escape(MTA), off), "XQUERYAUTH waits for mmp-ldapd")

    def kill_ldapd():
        os.kill(ldapd, signal.SIGKILL)
        T.wait_pid_gone(ldapd, 10)
    over_cap(tap, m, victim, kill_ldapd, "XQUERYAUTH's answer")
    T.poll(lambda: m.child_pid("mmp-ldapd"), lambda p: p not in
           (None, ldapd))


def login_ok(m):
    """alice logs in (mmp-ldapd may still be restarting: a few tries)."""
    for _ in range(50):
        with m.imap(source="127.0.0.30") as c:
            if not c.greeting.startswith(b"* OK"):
                return c.greeting
            tagged, _ = c.login("alice", "alice-pw")
            if b" OK" in tagged:
                return tagged
        time.sleep(0.2)
    return tagged


def test_after(tap, m, port):
    r = login_ok(m)
    tap.ok(b" OK" in r, "the relay greets and logs in a client after the "
           "five", repr(r))
    with m.pop3(source="127.0.0.32") as p:
        r = p.login("alice", "alice-pw")
    tap.ok(r.startswith(b"+OK"), "a POP3 login too", repr(r))
    stats = T.metrics(port)
    tap.is_(stats.get(("mmpd_refused_total", (("rule", "relaycap"),))), 0.0,
            "statistics: no client refused for MaxSessionsPerWorker")
    left = T.poll(lambda: sum(v for (n, _), v in T.metrics(port).items()
                              if n == "mmpd_sessions"), lambda n: n == 0)
    tap.is_(left, 0.0, "statistics: no session left open")


def main(tap):
    T.need_root()
    T.need_tlsd()
    env = T.Env("overqueue", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.user("sam", "sam-pw", mailhost="down.mmp.test")
    env.start_backends()
    spoof = env.path("spoof.msg")
    with open(spoof, "wb") as f:
        f.write(SPOOF_FILE)
    port = T.free_port()
    pop = dict(ADMIN, LogLevel=7, AuthService="yes", AuthServiceTTL=60,
               AuthServiceClients=MTA + "/32", PreAuth="yes",
               SpoofMessageFile=spoof, **LIMITS)
    m = env.mmpd(tls=True, aservice={
        "Workers": 1, "MaxPreauthQueueBytes": CAP,
        "StatsListen": "127.0.0.1:%d" % port},
        imap=dict(ADMIN, **LIMITS), pop=pop).start()
    with m.imap(source=MTA) as c:
        c.send(b"f NOOP\r\n")
        tap.is_(c.readline(), NOOP_OK, "a filler's reply is %d bytes" %
                len(NOOP_OK))
    test_spoof(tap, m)
    v = m.imap(source=MTA)
    over_cap(tap, m, v, sends(v, b"v STARTTLS"), "IMAP STARTTLS's OK")
    v = m.pop3(source=MTA)
    over_cap(tap, m, v, sends(v, b"STLS"), "POP3 STLS's +OK")
    v = m.imap(source=MTA)
    over_cap(tap, m, v, sends(v, b"v AUTHENTICATE CRAM-MD5"),
             "IMAP CRAM-MD5 challenge")
    v = m.pop3(source=MTA)
    over_cap(tap, m, v, sends(v, b"AUTH CRAM-MD5"),
             "POP3 CRAM-MD5 challenge")
    test_xqueryauth(tap, m)
    test_after(tap, m, port)
    m.stop()


T.run(main)
