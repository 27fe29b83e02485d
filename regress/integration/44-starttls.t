#!/usr/bin/env python3
# STARTTLS/STLS and RestrictPlainPasswords on plaintext listeners: what is
# advertised, how plaintext logins are refused (at once, no
# AuthFailureDelay), and that bytes pipelined after STARTTLS are never
# executed in the clear: nothing more is answered in the clear after the
# OK. While no mmp-tlsd is there (all were killed, none restarted yet),
# STARTTLS answers a temporary error and leaves the connection usable.

import base64
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

DELAY = 2	# AuthFailureDelay: refusals here must not wait for it
PRIV = (b"NO [PRIVACYREQUIRED] Plaintext authentication is disallowed "
        b"without TLS")
POP_PRIV = b"-ERR [AUTH] Plaintext authentication disallowed without TLS"


def caps_of(line):
    m = re.search(rb"CAPABILITY ([^\]\r\n]*)", line)
    return m.group(1).split() if m else []


def test_imap_restrict(tap, m):
    c = m.imap()
    caps = caps_of(c.greeting)
    tap.ok(b"STARTTLS" in caps and b"LOGINDISABLED" in caps and
           b"AUTH=PLAIN" not in caps,
           "IMAP greeting: STARTTLS and LOGINDISABLED, no AUTH=PLAIN",
           repr(caps))
    t, un = c.cmd("CAPABILITY")
    caps = caps_of(un[0]) if un else []
    tap.ok(t.startswith(b"t1 OK") and b"STARTTLS" in caps and
           b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps,
           "IMAP CAPABILITY: the same", repr((t, un)))
    t0 = time.monotonic()
    t, un = c.login("alice", "alice-pw")
    dt = time.monotonic() - t0
    tap.ok(t.rstrip(b"\r\n") == b"t2 " + PRIV,
           "IMAP LOGIN without TLS: NO [PRIVACYREQUIRED]", repr(t))
    tap.ok(dt < DELAY / 2, "IMAP LOGIN refusal is at once (%.2f s)" % dt)
    ir = base64.b64encode(b"\0alice\0alice-pw").decode()
    t, un = c.cmd("AUTHENTICATE PLAIN " + ir)
    tap.ok(t.rstrip(b"\r\n") == b"t3 " + PRIV,
           "IMAP AUTHENTICATE PLAIN without TLS: NO [PRIVACYREQUIRED]",
           repr(t))
    t, un = c.cmd("STARTTLS now")
    tap.like(t, r"^t4 BAD", "IMAP STARTTLS with an argument: BAD")
    c.close()
    alog = m.log()
    tap.ok("alice-pw" not in alog and 'login "alice"' not in alog,
           "the refused logins never reached the login path")


def test_imap_starttls(tap, m):
    c = m.imap()
    # Pipelined with STARTTLS: must not run in the clear after an OK.
    c.send("s1 STARTTLS\r\ns2 CAPABILITY\r\n")
    t, un = c.read_until_tagged("s1")
    tap.like(t, r"^s1 OK Begin TLS negotiation now\r\n$",
             "IMAP STARTTLS: OK Begin TLS negotiation now")
    tap.is_(c.pending(0.5), b"",
            "IMAP: the pipelined CAPABILITY is not answered in the clear")
    c.close()
    tap.ok(m.wait_log(r"dropped 15 bytes sent after STARTTLS before TLS",
                      0, 5) is not None,
           "log: the bytes pipelined after STARTTLS were dropped")


def kill_tlsds(m):
    """SIGKILL every mmp-tlsd; returns once the parent saw them die (its
    restart waits at least a second: the window without one)."""
    off = m.log_size()
    pids = m.child_pids("mmp-tlsd")
    for p in pids:
        os.kill(p, signal.SIGKILL)
    for p in pids:
        m.wait_log(r"mmp-tlsd \d+ \(pid %d\) killed" % p, off, 5)
    return len(pids)


def test_no_tlsd(tap, m):
    """No mmp-tlsd: STARTTLS/STLS answer a temporary error at once, and
    the connection goes on in the clear."""
    c, p = m.imap(), m.pop3()
    n = kill_tlsds(m)
    tap.ok(n >= 1, "killed %d mmp-tlsd" % n)
    # The relays notice the lost channels on their own: wait for that.
    deadline = time.monotonic() + 0.8
    while True:
        c.send("s1 STARTTLS\r\ns2 CAPABILITY\r\n")
        t, un = c.read_until_tagged("s1")
        if t.startswith(b"s1 NO") or time.monotonic() > deadline:
            break
        c = m.imap()
    tap.like(t, r"^s1 NO \[UNAVAILABLE\] TLS not available\r\n$",
             "IMAP STARTTLS without mmp-tlsd: NO [UNAVAILABLE]")
    t2, un2 = c.read_until_tagged("s2")
    tap.ok(t2.startswith(b"s2 OK") and any(b"STARTTLS" in u for u in un2),
           "IMAP after the refused STARTTLS: still in the clear, "
           "STARTTLS still offered", repr((t2, un2)))
    tap.ok(m.wait_log(r"STARTTLS: no mmp-tlsd available", 0, 5)
           is not None, "log: no mmp-tlsd available")
    p.send("STLS\r\nNOOP\r\n")
    tap.like(p.readline(), r"^-ERR \[SYS/TEMP\] TLS not available\r\n$",
             "POP3 STLS without mmp-tlsd: -ERR [SYS/TEMP]")
    tap.like(p.readline(), r"^\+OK", "POP3 after the refused STLS: the "
             "pipelined NOOP is answered in the clear")
    c.close()
    p.close()


def test_pop_restrict(tap, m):
    c = m.pop3()
    r = c.cmd("CAPA")
    lines = c.multiline() if r.startswith(b"+OK") else None
    lines = [x.rstrip(b"\r\n") for x in lines or []]
    tap.ok(b"STLS" in lines and b"USER" not in lines and
           not any(x.startswith(b"SASL") for x in lines),
           "POP3 CAPA: STLS, no USER, no SASL PLAIN", repr(lines))
    t0 = time.monotonic()
    r1 = c.cmd("USER alice")
    r2 = c.cmd("PASS alice-pw")
    r3 = c.cmd("AUTH PLAIN " + base64.b64encode(
        b"\0alice\0alice-pw").decode())
    dt = time.monotonic() - t0
    tap.ok(all(x.rstrip(b"\r\n") == POP_PRIV for x in (r1, r2, r3)),
           "POP3 USER, PASS, AUTH PLAIN without TLS: -ERR [AUTH] ...",
           repr((r1, r2, r3)))
    tap.ok(dt < DELAY / 2, "POP3 refusals are at once (%.2f s)" % dt)
    c.send("STLS\r\nNOOP\r\n")
    tap.like(c.readline(), r"^\+OK Begin TLS negotiation\r\n$",
             "POP3 STLS: +OK Begin TLS negotiation")
    tap.is_(c.pending(0.5), b"",
            "POP3: the pipelined NOOP is not answered in the clear")
    c.close()


def test_plain_allowed(tap, m):
    """SSLEnable no, RestrictPlainPasswords no: as before."""
    c = m.imap()
    caps = caps_of(c.greeting)
    tap.ok(b"STARTTLS" not in caps and b"LOGINDISABLED" not in caps and
           b"AUTH=PLAIN" in caps,
           "IMAP without SSLEnable: no STARTTLS, AUTH=PLAIN", repr(caps))
    t, un = c.cmd("STARTTLS")
    tap.like(t, r"^t1 BAD", "IMAP STARTTLS without SSLEnable: BAD")
    t, un = c.login("alice", "alice-pw")
    tap.like(t, r"^t2 OK", "IMAP LOGIN in the clear allowed")
    c.close()
    c = m.pop3()
    c.cmd("CAPA")
    lines = [x.rstrip(b"\r\n") for x in c.multiline() or []]
    tap.ok(b"STLS" not in lines and b"USER" in lines,
           "POP3 CAPA without SSLEnable: USER, no STLS", repr(lines))
    tap.like(c.cmd("STLS"), r"^-ERR", "POP3 STLS without SSLEnable: -ERR")
    c.close()


def main(tap):
    env = T.Env("starttls", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.start_backends()
    cert, key = env.get_pki().server()
    tls = {"SSLEnable": "yes", "RestrictPlainPasswords": "yes",
           "AuthFailureDelay": DELAY, "SSLCertFile": cert,
           "SSLKeyFile": key}
    m = env.mmpd(imap=tls, pop=tls).start()
    test_imap_restrict(tap, m)
    test_imap_starttls(tap, m)
    test_pop_restrict(tap, m)
    test_no_tlsd(tap, m)
    tap.ok(m.alive(), "mmpd still running")
    m.stop()
    m2 = env.mmpd(name="plain").start()
    test_plain_allowed(tap, m2)
    tap.ok(m2.alive(), "mmpd (plain) still running")


T.run(main)
