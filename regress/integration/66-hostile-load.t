#!/usr/bin/env python3
# Hostile clients on every listener (hostile.py), the part that takes time
# or loads the machine: 2,000 connections held before their login from
# many addresses within ConnLimits (a normal login still works, and once
# they are gone the relays' and mmp-tlsd's descriptors and the sessions
# of the statistics are back); resets (SO_LINGER 0) after a LOGIN was
# sent and before its answer, and after a ClientHello (no session left in
# the statistics or the log, descriptors back, the next login works);
# slowloris: a client that sends a byte a second, into a command, a TLS
# handshake or a PROXY header, is closed at LoginTimeout.

import os
import re
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import hostile as H  # noqa: E402
from hostile import drain  # noqa: E402

STORE_DELAY = 2		# the stores' answer to a wrong password
SLOW_TIMEOUT = 3	# LoginTimeout of the slowloris mmpd
# (protocol, kind, connections): 2,000 in all
IDLE = [("imap", "plain", 400), ("pop3", "plain", 400),
        ("imap", "proxy", 400), ("pop3", "proxy", 400),
        ("imap", "tls", 200), ("pop3", "tls", 200)]
PER_ADDR = 50		# within ConnLimits' 100 per address


def target(tgts, proto, kind):
    return [t for t in tgts if t.proto == proto and t.kind == kind][0]


def sessions(port):
    try:
        return sum(H.stats(port).values())
    except OSError as e:
        return "stats: %s" % e


def fd_counts(m):
    """[descriptors of the relays, of mmp-tlsd]"""
    return [H.fd_count(m.child_pids("relay")),
            H.fd_count(m.child_pids("mmp-tlsd"))]


def wait_back(m, port, fds, timeout=15):
    """Until no session is left and the relays' and mmp-tlsd's descriptor
    counts are fds again: (sessions, [relay fds, tlsd fds])."""
    end = time.time() + timeout
    while True:
        n = sessions(port)
        now = fd_counts(m)
        if (n == 0 and now == fds) or time.time() > end:
            return n, now
        time.sleep(0.2)


def open_idle(tgts):
    """The IDLE connections, each greeted: (open ones, failures)."""
    conns, fails, addr = [], [], 20
    for proto, kind, n in IDLE:
        t = target(tgts, proto, kind)
        for i in range(n):
            if i % PER_ADDR == 0:
                addr += 1
            try:
                conns.append(t.open(source=None if kind == "proxy" else
                                    "127.0.0.%d" % addr))
            except (OSError, RuntimeError) as e:
                fails.append("%s #%d: %s" % (t, i, e))
    return conns, fails


def fd_links(m):
    """What each relay's and mmp-tlsd's descriptors are, for a diff."""
    out = set()
    for p in m.child_pids("relay", "mmp-tlsd"):
        d = "/proc/%d/fd" % p
        try:
            for f in os.listdir(d):
                out.add((p, int(f), os.readlink(os.path.join(d, f))))
        except OSError:
            pass
    return out


def test_idle(tap, env, m, port, tgts):
    fds = fd_counts(m)
    links = fd_links(m)
    w = H.Watch(env, m)
    t0 = time.monotonic()
    conns, fails = open_idle(tgts)
    took = time.monotonic() - t0
    total = sum(n for _, _, n in IDLE)
    tap.ok(not fails and len(conns) == total, "%d connections held before "
           "their login (opened in %.1f s)" % (len(conns), took),
           "\n".join(fails[:20]))
    st = H.stats(port)
    held = st.get(("imap", "preauth"), 0) + st.get(("pop3", "preauth"), 0)
    tap.is_(held, total, "the statistics count them all before the login")
    during = H.fd_count(m.child_pids("relay"))
    tap.ok(during >= fds[0] + total, "the relays hold a descriptor each "
           "(%d, %d before)" % (during, fds[0]))
    for t in tgts:
        err = t.login()
        tap.ok(err is None, "%s: a normal login while they wait" % t, err)
    for c in conns:
        c.close()
    n, now = wait_back(m, port, fds)
    tap.is_(n, 0, "all closed: no session left in the statistics")
    spare = max([H.pipes(p) for p in m.child_pids("relay")] or [0])
    tap.ok(spare <= H.PUMP_POOL_MAX, "and no relay holds more spare splice "
           "pipes than its pool (%d)" % spare)
    later = fd_links(m)
    tap.ok(now == fds, "relays' and mmp-tlsd's descriptors back to %r" %
           fds, "now %r; gone %r, new %r" % (now, sorted(links - later),
                                            sorted(later - links)))
    err = w.same_children()
    tap.ok(err is None, "mmpd's children are the same processes", err)


def client_hello(t):
    """A ClientHello for t's certificate name, and the TLS object that
    made it."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = t.ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def plain_to_starttls(t, c):
    """On a plain or PROXY connection: greeting, STARTTLS, its OK."""
    c.readline()
    c.send(b"s0 STARTTLS\r\n" if t.imap else b"STLS\r\n")
    line = c.readline()
    if not re.match(rb"(s0 OK|\+OK)", line):
        raise RuntimeError("STARTTLS refused: %r" % line)


def reset_mid_login(t, password):
    c = t.open()
    if t.imap:
        c.send(b"r1 LOGIN victim " + password + b"\r\n")
    else:
        c.send(b"USER victim\r\nPASS " + password + b"\r\n")
        c.readline()		# USER's +OK; PASS is in flight
    H.rst(c)


def reset_mid_handshake(t):
    """RST once the server's first flight answered the ClientHello."""
    c = t.raw(handshake=False)
    if t.kind != "tls":
        plain_to_starttls(t, c)
    c.plain.sendall(client_hello(t))
    c.plain.settimeout(5)
    try:
        got = c.plain.recv(16384)
    except OSError as e:
        got = repr(e).encode()
    H.rst(c)
    return got


def test_resets(tap, env, m, port, tgts):
    fds = fd_counts(m)
    w = H.Watch(env, m)
    for t in tgts:
        for pw in (b"wrong-pw", b"victim-pw"):
            try:
                reset_mid_login(t, pw)
            except (OSError, RuntimeError) as e:
                tap.ok(False, "%s: reset after the login" % t, repr(e))
    shake = [t for t in tgts if t.kind != "starttls"]
    for t in shake:
        got = reset_mid_handshake(t)
        tap.ok(got[:1] == b"\x16", "%s: reset after the ServerHello came "
               "(%d bytes of it)" % (t, len(got)), repr(got[:60]))
    n, now = wait_back(m, port, fds, timeout=STORE_DELAY + 10)
    tap.is_(n, 0, "resets: no session left in the statistics")
    tap.is_(now, fds, "resets: relays' and mmp-tlsd's descriptors back")
    log = w.mmpd_log()
    sids = set(re.findall(r"session (0x[0-9a-f]+) ", log))
    closed = set(re.findall(r"session (0x[0-9a-f]+) \S+: closed: ", log))
    tap.ok(sids and sids <= closed, "resets: each of the %d sessions has "
           "its closed line" % len(sids),
           "without: %s" % sorted(sids - closed))
    tap.ok(len(re.findall(r"client (?:read|write) failed|client closed",
                          log)) >= len(tgts), "resets: logged as the "
           "client's doing")
    for t in tgts:
        err = t.login()
        tap.ok(err is None, "%s: a normal login after the resets" % t, err)
    err = w.same_children()
    tap.ok(err is None, "mmpd's children are the same processes", err)


# ---------------------------------------------------------------- slowloris

def drip(c, data, limit):
    """data a byte a second until the peer closes or limit seconds:
    (closed, seconds, what came back)."""
    t0 = time.monotonic()
    got, closed, i = b"", False, 0
    while not closed and time.monotonic() - t0 < limit:
        byte = data[i % len(data):i % len(data) + 1]
        try:
            if c.sock is c.plain:
                c.plain.sendall(byte)	# raw: into a handshake or header
            else:
                c.send(byte)
        except OSError:
            closed = True
            break
        i += 1
        d, closed = drain(c, 1.0)
        got += d
    return closed, time.monotonic() - t0, got


def slow_line(t):
    t0 = time.monotonic()
    c = t.open()
    closed, _, got = drip(c, b"a LOGIN alice alice-pw" if t.imap else
                          b"USER alice", SLOW_TIMEOUT + 10)
    c.close()
    return closed, time.monotonic() - t0, got, rb"^(\* BYE Autologout[^\r]*|" \
        rb"-ERR Idle for too long)\r\n$"


def slow_handshake(t):
    t0 = time.monotonic()
    c = t.raw(handshake=False)
    if t.kind != "tls":
        plain_to_starttls(t, c)
    closed, _, got = drip(c, client_hello(t), SLOW_TIMEOUT + 10)
    c.close()
    return closed, time.monotonic() - t0, got, rb"^$"


def slow_header(t):
    t0 = time.monotonic()
    c = T.Conn(t.m.host, t.port, source=H.LB)
    closed, _, got = drip(c, t.header(), SLOW_TIMEOUT + 10)
    c.close()
    return closed, time.monotonic() - t0, got, rb"^$"


def test_slowloris(tap, env):
    m = H.start(env, name="slow", imap={"LoginTimeout": SLOW_TIMEOUT},
                pop={"LoginTimeout": SLOW_TIMEOUT})
    tgts = H.targets(m)
    w = H.Watch(env, m)
    jobs = [("a command", slow_line, t) for t in tgts]
    jobs += [("the TLS handshake", slow_handshake, t) for t in tgts
             if t.kind in ("tls", "starttls")]
    jobs += [("the PROXY header", slow_header, t) for t in tgts
             if t.kind == "proxy"]
    res = T.in_threads(len(jobs), lambda i: jobs[i][1](jobs[i][2]),
                       timeout=SLOW_TIMEOUT + 30)
    for (what, _, t), (ok, r) in zip(jobs, res):
        if not ok:
            tap.ok(False, "%s: a byte a second into %s" % (t, what), r)
            continue
        closed, secs, got, want = r
        tap.ok(closed and SLOW_TIMEOUT - 0.5 <= secs <= SLOW_TIMEOUT + 3
               and re.search(want, got), "%s: a byte a second into %s: "
               "closed at LoginTimeout %d (after %.1f s)" %
               (t, what, SLOW_TIMEOUT, secs),
               "closed %r after %.1f s, got %r" % (closed, secs, got))
    for t in tgts:
        err = t.login()
        tap.ok(err is None, "%s: a normal login after slowloris" % t, err)
    err = w.logins({"alice": 4, "bob": 4})
    tap.ok(err is None, "slowloris: nobody else logged in", err)
    err = w.same_children()
    tap.ok(err is None, "slowloris: mmpd's children are the same "
           "processes", err)
    m.stop()


def main(tap):
    T.need_root()
    env = H.setup(tap, "hostile-load", store_delay=STORE_DELAY)
    port = T.free_port()
    m = H.start(env, aservice={"StatsListen": "127.0.0.1:%d" % port},
                imap={"LoginTimeout": 120}, pop={"LoginTimeout": 120})
    T.wait_listen("127.0.0.1", port)
    tgts = H.targets(m)
    # Warm-up: the descriptor counts to come back to are those after it.
    for t in tgts:
        err = t.login()
        tap.ok(err is None, "%s: a normal login (control)" % t, err)
    t0 = time.monotonic()
    test_idle(tap, env, m, port, tgts)
    tap.diag("idle connections: %.1f s" % (time.monotonic() - t0))
    t0 = time.monotonic()
    test_resets(tap, env, m, port, tgts)
    tap.diag("resets: %.1f s" % (time.monotonic() - t0))
    m.stop()
    t0 = time.monotonic()
    test_slowloris(tap, env)
    tap.diag("slowloris: %.1f s" % (time.monotonic() - t0))


T.run(main)
