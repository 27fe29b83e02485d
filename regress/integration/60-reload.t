#!/usr/bin/env python3
# SIGHUP with open sessions: a valid new configuration (a port added, the
# Capability changed) takes effect for new connections while sessions go
# on; a broken one is refused with file:line and the last good one keeps
# serving. SIGTERM: no new connections, sessions drain, mmpd exits 0.

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

NEWCAP = "XMMPTESTRELOADED"
DRAIN = 4


def setup(tap):
    env = T.Env("reload", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice on store1"))
    env.user("bob", "bob-pw", "store2")
    env.stores["store2"].seed("bob", T.message("bob on store2"))
    env.start_backends()
    return env


def greeting_caps(m, port):
    with m.imap(port) as c:
        g = re.search(rb"\[CAPABILITY ([^\]]*)\]", c.greeting)
        return g.group(1).decode("latin-1").split() if g else []


def open_sessions(m):
    s1 = m.imap()
    t, _ = s1.login("alice", "alice-pw")
    s, _ = s1.cmd("SELECT INBOX")
    s2 = m.imap()
    s3 = m.pop3()
    r = s3.login("bob", "bob-pw")
    ok = t.startswith(b"t1 OK") and s.startswith(b"t2 OK") and \
        r.startswith(b"+OK") and s2.greeting.startswith(b"* OK")
    return (s1, s2, s3), ok


def sessions_work(s1, s2, s3):
    """Each open session still answers: the logged-in ones from their
    store. Returns (ok, diagnostics)."""
    t, subj = T.imap_subjects(s1)
    n, _ = s2.cmd("NOOP")
    st = s3.cmd("STAT")
    ok = t.startswith(b"t") and b" OK" in t and \
        subj == ["alice on store1"] and b" OK" in n and \
        re.match(rb"\+OK 1 \d+", st)
    return ok, repr((t, subj, n, st))


def wait_greets(m, port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with m.imap(port, timeout=2) as c:
                if c.greeting.startswith(b"* OK"):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_good_reload(tap, m, sessions):
    p2 = T.free_port()
    m.imap_ports.append(p2)
    m.conf_imap["Capability"] = "IMAP4rev1 LITERAL+ " + NEWCAP
    m.write_config()
    off = m.log_size()
    m.reload()
    tap.ok(wait_greets(m, p2), "reload: the added IMAP port %d greets" % p2,
           m.log_since(off))
    end = time.time() + 10
    caps1 = []
    while time.time() < end and NEWCAP not in caps1:
        caps1 = greeting_caps(m, m.imap_ports[0])
        time.sleep(0.2)
    tap.ok(NEWCAP in caps1, "reload: new connection on the old port shows "
           "the new Capability", repr(caps1))
    tap.ok(NEWCAP in greeting_caps(m, p2),
           "reload: new connection on the new port shows the new Capability")
    t, subj, d = T.imap_route(m, "alice", "alice-pw", port=p2)
    tap.ok(t.startswith(b"t1 OK") and subj == ["alice on store1"],
           "reload: login on the new port lands on the store", d)
    ok, d = sessions_work(*sessions)
    tap.ok(ok, "reload: open sessions (IMAP logged in, IMAP before login, "
           "POP3 logged in) keep working", d)
    return p2


def test_bad_reload(tap, m, sessions, p2):
    m.conf_imap["Timeout"] = "abc"
    lines = m.write_config()
    line = lines["ImapProxyAService.cfg"]["Timeout"]
    off = m.log_size()
    m.reload()
    hit = m.wait_log(r"ImapProxyAService\.cfg:%d:[^\n]*Timeout" % line, off)
    tap.ok(hit, "broken reload: log names ImapProxyAService.cfg:%d" % line,
           m.log_since(off))
    time.sleep(0.5)
    tap.ok(m.alive(), "broken reload: mmpd keeps running")
    tap.ok(NEWCAP in greeting_caps(m, p2),
           "broken reload: the last good configuration keeps serving")
    t, subj, d = T.imap_route(m, "alice", "alice-pw", port=p2)
    tap.ok(t.startswith(b"t1 OK") and subj == ["alice on store1"],
           "broken reload: new logins work", d)
    r, subj = T.pop_route(m, "bob", "bob-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["bob on store2"],
           "broken reload: new POP3 logins work", repr((r, subj)))
    ok, d = sessions_work(*sessions)
    tap.ok(ok, "broken reload: open sessions keep working", d)


def connect_refused_or_silent(host, port):
    """True when a new connection is refused or closed without greeting."""
    try:
        with socket.create_connection((host, port), 2) as s:
            s.settimeout(2)
            return not s.recv(64).startswith(b"* OK")
    except OSError:
        return True


def test_sigterm(tap, m, sessions):
    s1, s2, s3 = sessions
    t0 = time.monotonic()
    m.proc.send_signal(15)
    time.sleep(0.5)
    tap.ok(connect_refused_or_silent(m.host, m.imap_ports[0]),
           "SIGTERM: new connections are no longer served")
    t, subj = T.imap_subjects(s1)
    tap.ok(b" OK" in t and subj == ["alice on store1"],
           "SIGTERM: a logged-in session goes on while draining",
           repr((t, subj)))
    try:
        rc = m.proc.wait(DRAIN + 10)
    except Exception:
        rc = None
    dt = time.monotonic() - t0
    tap.ok(rc == 0 and dt < DRAIN + 10,
           "SIGTERM: mmpd exits 0 after DrainTimeout %d s (%.1f s)" %
           (DRAIN, dt), "exit status %r" % rc)
    kids = [p for p in m.known_children if T.pid_alive(p)]
    tap.ok(not kids, "SIGTERM: no child process left", repr(kids))
    closed = s1.wait_closed(3)
    tap.ok(closed, "SIGTERM: sessions closed after the drain")


def main(tap):
    env = setup(tap)
    m = env.mmpd(aservice={"DrainTimeout": DRAIN}).start()
    sessions, ok = open_sessions(m)
    tap.ok(ok, "three sessions open before the reload")
    p2 = test_good_reload(tap, m, sessions)
    test_bad_reload(tap, m, sessions, p2)
    test_sigterm(tap, m, sessions)
    for s in sessions:
        s.close()


T.run(main)
