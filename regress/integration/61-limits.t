#!/usr/bin/env python3
# ConnLimits against real slapd and Dovecot, Workers 2, clients from
# several 127.0.0.x source addresses: the most specific realm sets the
# number, the count is of the one address over both relays (a client
# that lands on both gains nothing), IMAP and POP3 count apart, a refused
# client gets the protocol's error line and the log names the realm, and
# the count comes back however a session ends: closed before its login,
# logged out after one, a failed TLS handshake, the login timeout, and a
# relay killed with SIGKILL (the parent wipes its shared memory).

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

IMAP_LIMITS = ("0.0.0.0|0.0.0.0:3, 127.0.0.0|255.255.255.0:4,"
               "127.0.0.2|255.255.255.255:6")
POP_LIMITS = "0.0.0.0|0.0.0.0:2"
POP_LOGIN_TIMEOUT = 2
BYE = b"* BYE [UNAVAILABLE] Too many connections from your address"
ERR = b"-ERR [SYS/TEMP] Too many connections from your address"


def setup(tap):
    env = T.Env("limits", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.start_backends()
    m = env.mmpd(tls=True, imap={"ConnLimits": IMAP_LIMITS},
                 pop={"ConnLimits": POP_LIMITS,
                      "LoginTimeout": POP_LOGIN_TIMEOUT}).start()
    return env, m


def relay_of(m, conn, offset):
    """The relay index that accepted conn (its "connected on" line)."""
    src, port = conn.sock.getsockname()[:2]
    rx = r"relay (\d+): session 0x[0-9a-f]+ %s:%d: connected on" % (
        re.escape(src), port)
    found = m.wait_log(rx, offset, timeout=5)
    return int(found.group(1)) if found else None


def open_until_refused(m, src, proto="imap", most=40):
    """Connections from src until one is refused: (admitted, refusal)."""
    conns = []
    for _ in range(most):
        c = m.imap(source=src) if proto == "imap" else m.pop3(source=src)
        if not c.greeting.startswith(b"* OK" if proto == "imap"
                                     else b"+OK"):
            c.close()
            return conns, c.greeting
        conns.append(c)
    return conns, None


def admitted_after(m, src, want, timeout=5):
    """Open want connections from src, retrying refusals until mmpd has
    seen earlier closes (they are noticed a moment after the client's);
    returns the open ones."""
    conns, end = [], time.time() + timeout
    while len(conns) < want and time.time() < end:
        c = m.imap(source=src)
        if c.greeting.startswith(b"* OK"):
            conns.append(c)
        else:
            c.close()
            time.sleep(0.1)
    return conns


def close_all(conns):
    for c in conns:
        c.close()


def test_realms(tap, m):
    # A client that lands on both relays gets the realm's number in all:
    # rounds until both relays took some of the six (on a loaded machine
    # one relay may win every accept of eight rounds: fresh-run, once).
    rounds = 20
    for attempt in range(rounds):
        off = m.log_size()
        conns, refusal = open_until_refused(m, "127.0.0.2")
        relays = {relay_of(m, c, off) for c in conns}
        if len(relays) > 1 or attempt == rounds - 1:
            break
        close_all(conns)
        time.sleep(0.5)
    tap.is_(len(conns), 6, "127.0.0.2: its own realm's 6 admitted")
    tap.is_(relays, {0, 1}, "they landed on both relays")
    tap.ok(refusal is not None and refusal.startswith(BYE),
           "the 7th gets * BYE [UNAVAILABLE]", repr(refusal))
    tap.ok(m.wait_log(r"Connection limit reached for client IP 127\.0\.0\.2 "
                      r"\(ConnLimits realm 127\.0\.0\.2\|255\.255\.255\.255"
                      r":6\)", off),
           "log line names the client and the realm")
    # Another address of 127.0.0.0/24: that realm's number, its own count.
    off = m.log_size()
    other, refusal = open_until_refused(m, "127.0.0.3")
    tap.is_(len(other), 4, "127.0.0.3: the /24 realm's 4, apart from .2")
    tap.ok(m.wait_log(r"client IP 127\.0\.0\.3 \(ConnLimits realm "
                      r"127\.0\.0\.0\|255\.255\.255\.0:4\)", off),
           "refused by the /24 realm")
    # POP3 counts apart from IMAP: 127.0.0.2 holds 6 IMAP sessions.
    pops, refusal = open_until_refused(m, "127.0.0.2", "pop3")
    tap.is_(len(pops), 2, "POP3: the POP3 catch-all's 2 while 6 IMAP are "
            "open")
    tap.ok(refusal is not None and refusal.startswith(ERR),
           "the 3rd POP3 gets -ERR [SYS/TEMP]", repr(refusal))
    # Closed before their login: the count comes back.
    close_all(conns[:3])
    back = admitted_after(m, "127.0.0.2", 3)
    tap.is_(len(back), 3, "3 closed, 3 admitted again")
    c = m.imap(source="127.0.0.2")
    tap.ok(c.greeting.startswith(BYE), "and no more")
    c.close()
    close_all(conns[3:] + back + other + pops)


def test_logins(tap, m):
    # Logged-in sessions count; a LOGOUT gives the place back.
    conns = admitted_after(m, "127.0.0.4", 4)
    ok = 0
    for c in conns:
        tagged, _ = c.login("alice", "alice-pw")
        ok += b" OK" in tagged
    tap.is_(ok, 4, "4 logged in from 127.0.0.4")
    c = m.imap(source="127.0.0.4")
    tap.ok(c.greeting.startswith(BYE), "a 5th is refused while they relay")
    c.close()
    for c in conns[:2]:
        c.cmd("LOGOUT")
        c.close()
    back = admitted_after(m, "127.0.0.4", 2)
    tap.is_(len(back), 2, "2 logged out, 2 admitted")
    close_all(conns[2:] + back)


def test_tls_failure(tap, m):
    # A failed handshake on the IMAPS port: counted (IMAP), and uncounted.
    for _ in range(6):
        with socket.create_connection((m.host, m.imaps_ports[0]), 5,
                                      source_address=("127.0.0.5", 0)) as s:
            s.sendall(b"this is not a TLS client hello\r\n" * 4)
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
    conns = admitted_after(m, "127.0.0.5", 4)
    tap.is_(len(conns), 4, "6 failed TLS handshakes left nothing counted")
    close_all(conns)


def test_login_timeout(tap, m):
    pops, _ = open_until_refused(m, "127.0.0.6", "pop3")
    tap.is_(len(pops), 2, "2 POP3 sessions from 127.0.0.6")
    time.sleep(POP_LOGIN_TIMEOUT + 1)
    again, _ = open_until_refused(m, "127.0.0.6", "pop3")
    tap.is_(len(again), 2, "after the login timeout closed them, 2 again")
    close_all(pops + again)


def test_kill(tap, m):
    for attempt in range(8):
        off = m.log_size()
        conns = admitted_after(m, "127.0.0.7", 4)
        where = [relay_of(m, c, off) for c in conns]
        if len(set(where)) > 1 or attempt == 7:
            break
        close_all(conns)
        time.sleep(0.5)
    tap.is_(len(conns), 4, "4 from 127.0.0.7")
    pids = m.child_index("relay")
    victim = where[0]
    survivors = sum(1 for r in where if r != victim)
    off = m.log_size()
    os.kill(pids[victim], signal.SIGKILL)
    tap.ok(m.wait_log(r"relay %d \(pid %d\) killed by signal SIGKILL"
                      % (victim, pids[victim]), off),
           "relay %d killed" % victim)
    back = admitted_after(m, "127.0.0.7", 4 - survivors, timeout=10)
    tap.is_(len(back), 4 - survivors,
            "the killed relay's %d places are free again" %
            (4 - survivors))
    c = m.imap(source="127.0.0.7")
    tap.ok(c.greeting.startswith(BYE), "the survivors' still count")
    c.close()
    close_all(conns + back)


def test_default(tap, env):
    # The product default applies when the key is absent: 20 per address.
    m = env.mmpd(name="mmpd-default", imap={"ConnLimits": None},
                 pop={"ConnLimits": None}).start()
    conns, refusal = open_until_refused(m, "127.0.0.8", most=30)
    tap.is_(len(conns), 20, "without ConnLimits: 20 per address")
    close_all(conns)
    m.stop()


def main(tap):
    T.need_root()
    env, m = setup(tap)
    test_realms(tap, m)
    test_logins(tap, m)
    test_tls_failure(tap, m)
    test_login_timeout(tap, m)
    test_kill(tap, m)
    T.check_children(tap)
    m.stop()
    test_default(tap, env)


T.run(main)
