#!/usr/bin/env python3
# MaxPreauthSessions and MaxSessionsPerWorker against real slapd and
# Dovecot, clients from several 127.0.0.x addresses: over the pre-login
# cap (all workers together) the oldest pre-login session of the worker
# the new client reached is closed with "Server busy" to make room, and
# a worker with none to shed refuses the new client; logged-in sessions
# are never closed for a cap, and a worker full of them refuses the new
# client instead; a spoofed POP3 mailbox is logged in too, and holds no
# pre-login count, and a login the store accepted that BadGuy holds is
# never shed; a relay killed with SIGKILL leaves no pre-login count
# behind.

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

PREAUTH_CAP = 6
WORKER_CAP = 8
BUSY = b"* BYE [UNAVAILABLE] Server busy, try later"
LIMITS = {"ConnLimits": "0.0.0.0|0.0.0.0:100"}


def relay_of(m, conn, offset):
    src, port = conn.sock.getsockname()[:2]
    found = m.wait_log(r"relay (\d+): session 0x[0-9a-f]+ %s:%d: "
                       r"connected on" % (re.escape(src), port), offset,
                       timeout=5)
    return int(found.group(1)) if found else None


def shed(conn):
    """Did mmpd close conn with its Server busy line?"""
    conn.sock.settimeout(3)
    try:
        line = conn.readline()
    except OSError:
        return False
    return line.startswith(BUSY) and conn.readline() in (b"", None)


def alive(conn):
    try:
        tagged, _ = conn.cmd("NOOP")
        return b" OK" in tagged
    except (OSError, AttributeError):
        return False


def close_all(conns):
    for c in conns:
        c.close()


def only(relays, index):
    """Run the clients that follow on relay index alone: the workers
    share each listening socket, and the one the kernel wakes first takes
    the client (a slow sanitized worker may lose every race). The others
    are stopped (SIGSTOP), so the backlog waits for relay index."""
    for i, pid in relays.items():
        if i == index:
            os.kill(pid, signal.SIGCONT)
        elif not T.stop(pid):
            raise RuntimeError("relay %d (pid %d) did not stop" % (i, pid))


def test_preauth_shed(tap, m):
    off = m.log_size()
    relays = m.child_index("relay")
    tap.is_(sorted(relays), [0, 1], "two relay workers")
    try:
        only(relays, 1)
        first = [m.imap(source="127.0.0.%d" % (11 + i)) for i in
                 range(PREAUTH_CAP)]
        tap.ok(all(c.greeting.startswith(b"* OK") for c in first),
               "%d pre-login sessions from 6 addresses, on relay 1" %
               PREAUTH_CAP)
        where = [relay_of(m, c, off) for c in first]
        tap.is_(where, [1] * PREAUTH_CAP, "each on relay 1")
        # Relay 0 holds none of the six: it has none to shed, and refuses.
        only(relays, 0)
        new = m.imap(source="127.0.0.17")
        tap.ok(new.greeting.startswith(BUSY), "a worker with none to "
               "shed refuses the new client", repr(new.greeting))
        new.close()
        only(relays, 1)
        new = m.imap(source="127.0.0.17")
    finally:
        for pid in relays.values():
            os.kill(pid, signal.SIGCONT)
    tap.ok(new.greeting.startswith(b"* OK"), "relay 1 greets the next one")
    tap.is_(relay_of(m, new, off), 1, "on relay 1")
    gone = [i for i, c in enumerate(first) if shed(c)]
    tap.is_(gone, [0], "the oldest pre-login session of relay 1 (its own "
            "worker) was shed")
    tap.ok(m.wait_log(r"shed before its login to make room "
                      r"\(MaxPreauthSessions %d reached\)" % PREAUTH_CAP,
                      off), "the log says why")
    tap.ok(alive(new), "the new one works")
    close_all(first + [new])


def test_logged_in_kept(tap, m, env):
    time.sleep(0.5)
    off = m.log_size()
    held, refused, where = [], None, []
    for i in range(2 * WORKER_CAP + 2):
        c = m.imap(source="127.0.0.%d" % (21 + i))
        if not c.greeting.startswith(b"* OK"):
            refused = c
            break
        tagged, _ = c.login("alice", "alice-pw")
        if b" OK" not in tagged:
            tap.diag("login failed: %r" % tagged)
        held.append(c)
        where.append(relay_of(m, c, off))
    tap.ok(refused is not None and refused.greeting.startswith(BUSY),
           "a worker full of logged-in sessions refuses with Server busy",
           refused and repr(refused.greeting))
    found = m.wait_log(r"relay (\d+): session 0x[0-9a-f]+ [0-9.:]+: "
                       r"refused: MaxSessionsPerWorker %d reached by "
                       r"logged-in sessions" % WORKER_CAP, off)
    tap.ok(found, "the log names MaxSessionsPerWorker")
    full = int(found.group(1)) if found else None
    tap.is_(where.count(full), WORKER_CAP, "relay %s held %d logged in" %
            (full, WORKER_CAP))
    tap.ok(all(alive(c) for c in held), "no logged-in session was closed "
           "(%d held)" % len(held))
    close_all(held + ([refused] if refused else []))


def refused(port, rule):
    """mmpd_refused_total{rule} from the statistics page, None if absent
    (the statistics process may still be starting: a few tries)."""
    for _ in range(50):
        try:
            v = T.metrics(port).get(("mmpd_refused_total",
                                     (("rule", rule),)))
            return None if v is None else int(v)
        except OSError:
            time.sleep(0.1)
    return None


def test_worker_shed(tap, env):
    # One worker: which session is where is known.
    port = T.free_port()
    m = env.mmpd(name="mmpd-one", aservice={"Workers": 1,
                 "MaxSessionsPerWorker": 3,
                 "StatsListen": "127.0.0.1:%d" % port}, imap=LIMITS,
                 pop=dict(LIMITS)).start()
    off = m.log_size()
    logged = [m.imap(source="127.0.0.31"), m.imap(source="127.0.0.32")]
    for c in logged:
        c.login("alice", "alice-pw")
    p = m.imap(source="127.0.0.33")
    q = m.imap(source="127.0.0.34")
    tap.ok(q.greeting.startswith(b"* OK") and shed(p),
           "worker full: the pre-login session makes room for a new one")
    tap.ok(m.wait_log(r"shed before its login to make room "
                      r"\(MaxSessionsPerWorker 3 reached\)", off),
           "logged as MaxSessionsPerWorker")
    q.login("alice", "alice-pw")
    r = m.imap(source="127.0.0.35")
    tap.ok(r.greeting.startswith(BUSY), "3 logged in: the next is refused")
    tap.ok(all(alive(c) for c in logged + [q]), "the 3 logged in stay")
    tap.is_(refused(port, "relaycap"), 2, "statistics: relaycap counts the "
            "shed session and the refused one")
    close_all(logged + [p, q, r])
    m.stop()


def test_kill(tap, env):
    # Its own instance: no worker cap in the way while one relay is down.
    m = env.mmpd(name="mmpd-kill", aservice={
        "MaxPreauthSessions": PREAUTH_CAP}, imap=LIMITS,
        pop=dict(LIMITS)).start()
    for attempt in range(8):
        off = m.log_size()
        conns = [m.imap(source="127.0.0.%d" % (41 + i)) for i in
                 range(PREAUTH_CAP)]
        where = [relay_of(m, c, off) for c in conns]
        if len(set(where)) > 1 or attempt == 7:
            break
        close_all(conns)
        time.sleep(0.5)
    victim = where[0]
    survivors = [c for c, r in zip(conns, where) if r != victim]
    pids = m.child_index("relay")
    off = m.log_size()
    os.kill(pids[victim], signal.SIGKILL)
    tap.ok(m.wait_log(r"relay %d \(pid %d\) killed by signal SIGKILL" %
                      (victim, pids[victim]), off), "relay %d killed" %
           victim)
    more = [m.imap(source="127.0.0.%d" % (51 + i)) for i in
            range(PREAUTH_CAP - len(survivors))]
    time.sleep(0.5)
    tap.ok(not re.search(r"shed before its login", m.log_since(off)),
           "%d new ones and %d survivors: nothing shed (the dead relay's "
           "count is gone)" % (len(more), len(survivors)))
    one = m.imap(source="127.0.0.60")
    tap.ok(m.wait_log(r"shed before its login to make room "
                      r"\(MaxPreauthSessions", off),
           "one more: the cap holds again")
    close_all(conns + more + [one])
    m.stop()


def test_spoof_kept(tap, m):
    """A spoofed POP3 mailbox (SpoofEmptyMailbox: sam's store is down) is
    past its login: it holds no MaxPreauthSessions count, and the cap
    sheds the pre-login session next to it, never the mailbox."""
    off = m.log_size()
    p = m.pop3(source="127.0.0.61")
    tap.ok(p.login("sam", "sam-pw").startswith(b"+OK") and
           m.wait_log(r"user \"sam\" gets a spoofed empty mailbox", off),
           "sam logs in to a spoofed mailbox")
    q = m.imap(source="127.0.0.62")
    tap.ok(q.greeting.startswith(b"* OK") and
           not re.search(r"shed before its login", m.log_since(off)),
           "MaxPreauthSessions 1: a client is greeted beside it, nothing "
           "shed")
    r = m.imap(source="127.0.0.63")
    tap.ok(r.greeting.startswith(b"* OK") and shed(q),
           "the next one: the pre-login one is shed")
    tap.is_(p.cmd("STAT"), b"+OK 0 0\r\n", "the spoofed mailbox is kept")
    close_all([p, q, r])


def imap_sessions(port, state):
    return T.metrics(port).get(("mmpd_sessions", (("protocol", "imap"),
                                                  ("state", state))))


def test_held_kept(tap, m, env, port):
    """A login the store accepted and BadGuy holds (BGPenalty 5 after a
    failure from its address) is past its login too: while it is held,
    MaxPreauthSessions 1 refuses a new client rather than shed it."""
    store = env.stores["store1"]
    logins = store.log().count("Login: user=<alice>")
    off = m.log_size()
    with m.imap(source="127.0.0.64") as c:
        t, _ = c.login("alice", "wrong")
    tap.ok(b"NO" in t and m.wait_log(r"badguy 127\.0\.0\.64 now has 5 "
                                     r"badness", off), "a failure from "
           "127.0.0.64: 5 s of badness", repr(t))
    h = m.imap(source="127.0.0.64")
    h.send(b"h LOGIN alice alice-pw\r\n")
    # The store said yes; once the relay has its answer, the session is
    # not in a login any more (it counts as pre-login): held.
    T.poll(lambda: store.log().count("Login: user=<alice>"),
           lambda n: n > logins)
    tap.is_(T.poll(lambda: imap_sessions(port, "login"),
                   lambda n: n == 0), 0.0, "the store accepted alice; "
            "BadGuy holds the answer")
    y = m.imap(source="127.0.0.65")
    tap.ok(y.greeting.startswith(BUSY) and m.wait_log(
        r"refused: MaxPreauthSessions 1 reached", off), "MaxPreauthSessions "
        "1: a new client is refused", repr(y.greeting))
    t, _ = h.read_until_tagged("h")
    tap.ok(t.startswith(b"h OK"), "the held login is not shed: OK once "
           "held", repr(t))
    close_all([h, y])


def test_past_login(tap, env):
    """Sessions past their login that are still sessions, not relayed:
    one worker, MaxPreauthSessions 1."""
    port = T.free_port()
    m = env.mmpd(name="mmpd-past", aservice={
        "Workers": 1, "MaxPreauthSessions": 1,
        "StatsListen": "127.0.0.1:%d" % port},
        imap=dict(LIMITS, BGPenalty=5),
        pop=dict(LIMITS, PreAuth="yes", SpoofEmptyMailbox="yes")).start()
    test_spoof_kept(tap, m)
    test_held_kept(tap, m, env, port)
    m.stop()


def main(tap):
    T.need_root()
    env = T.Env("caps", tap).setup()
    env.user("alice", "alice-pw", "store1")
    # sam's store is down: his POP3 login gets a spoofed mailbox.
    env.user("sam", "sam-pw", mailhost="down.mmp.test")
    env.start_backends()
    port = T.free_port()
    m = env.mmpd(aservice={"MaxPreauthSessions": PREAUTH_CAP,
                           "MaxSessionsPerWorker": WORKER_CAP,
                           "StatsListen": "127.0.0.1:%d" % port},
                 imap=LIMITS, pop=dict(LIMITS)).start()
    test_preauth_shed(tap, m)
    tap.is_(refused(port, "preauthcap"), 2, "statistics: preauthcap "
            "counts the shed session and the one refused")
    test_logged_in_kept(tap, m, env)
    m.stop()
    test_kill(tap, env)
    test_worker_shed(tap, env)
    test_past_login(tap, env)
    T.check_children(tap)


T.run(main)
