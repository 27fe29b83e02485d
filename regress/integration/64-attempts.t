#!/usr/bin/env python3
# MaxConcurrentConnectionAttempts against real slapd and Dovecot, Workers
# 2: a store that never greets (a listening socket that accepts nothing,
# its backlog full: loopback's blackhole) holds at most the cap of
# connections in flight over both relays; a login over it fails at once
# as a store that is down (NO [UNAVAILABLE] with ServerDownAlert, -ERR
# [SYS/TEMP] for POP3), with a log line naming the store and the cap;
# other stores are not touched; the count comes back when the attempts
# time out, and when a relay holding some is killed.

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

CAP = 3
CONNECT_TIMEOUT = 4
DEAD_ADDR = "127.0.0.19"
LIMITS = {"ConnLimits": "0.0.0.0|0.0.0.0:100",
          "MaxConcurrentConnectionAttempts": CAP,
          "ConnectTimeout": CONNECT_TIMEOUT}
CAPPED = (r"store %s:%%d: not connecting: MaxConcurrentConnectionAttempts "
          r"%d reached" % (re.escape(DEAD_ADDR), CAP))


def blackhole(port):
    """A store that never answers: it listens and accepts nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((DEAD_ADDR, port))
    s.listen(1)
    return s


def relay_of(m, conn, offset):
    src, port = conn.sock.getsockname()[:2]
    found = m.wait_log(r"relay (\d+): session 0x[0-9a-f]+ %s:%d: "
                       r"connected on" % (re.escape(src), port), offset,
                       timeout=5)
    return int(found.group(1)) if found else None


def start_attempts(m, n, first):
    """n clients that send LOGIN dead and wait: their connections to the
    dead store stay in flight."""
    conns = []
    for i in range(n):
        c = m.imap(source="127.0.0.%d" % (first + i), timeout=30)
        c.send("a1 LOGIN dead dead-pw\r\n")
        conns.append(c)
    return conns


def timed_login(c, user, pw):
    t0 = time.time()
    tagged, _ = c.login(user, pw)
    return tagged, time.time() - t0


def test_cap(tap, m, port):
    capped = CAPPED % port
    for attempt in range(8):
        off = m.log_size()
        held = start_attempts(m, CAP, 2)
        where = [relay_of(m, c, off) for c in held]
        if len(set(where)) > 1 or attempt == 7:
            break
        for c in held:
            c.close()
        time.sleep(CONNECT_TIMEOUT + 1)
    time.sleep(1)
    tap.is_(set(where), {0, 1}, "%d logins to the dead store from both "
            "relays" % CAP)
    c = m.imap(source="127.0.0.9")
    tagged, secs = timed_login(c, "dead", "dead-pw")
    tap.ok(tagged.startswith(b"t1 NO [UNAVAILABLE] mmptest: IMAP store is "
                             b"down"), "one more: NO [UNAVAILABLE] with "
           "ServerDownAlert", repr(tagged))
    tap.ok(secs < 2, "at once (%.2f s), not after ConnectTimeout" % secs)
    tap.ok(m.wait_log(capped, off), "the log names the store and the cap")
    tap.ok(not re.search(r"killed|fatal", m.log_since(off)), "no relay hurt")
    with m.imap(source="127.0.0.10") as a:
        tagged, _ = a.login("alice", "alice-pw")
        tap.ok(b" OK" in tagged, "a live store is not touched by the cap")
    c.close()
    # POP3: its own cap (its own key), the same store address.
    p = [m.pop3(source="127.0.0.%d" % (40 + i), timeout=30)
         for i in range(CAP + 1)]
    for x in p[:CAP]:
        x.send("USER dead\r\n")
        x.readline()
        x.send("PASS dead-pw\r\n")
    time.sleep(1)
    t0 = time.time()
    r = p[CAP].login("dead", "dead-pw")
    tap.ok(r.startswith(b"-ERR [SYS/TEMP] mmptest: POP store is down") and
           time.time() - t0 < 2, "POP3 over the cap: -ERR [SYS/TEMP] at "
           "once", repr(r))
    # The attempts time out: the count comes back.
    answers = [x.readline() for x in held]
    tap.ok(all(a.startswith(b"a1 NO [UNAVAILABLE]") for a in answers),
           "the held logins fail after ConnectTimeout", repr(answers))
    off = m.log_size()
    again = start_attempts(m, CAP, 20)
    time.sleep(1)
    tap.ok(not re.search(capped, m.log_since(off)), "after the timeouts, "
           "%d attempts again without the cap" % CAP)
    for c in held + again + p:
        c.close()
    time.sleep(CONNECT_TIMEOUT + 1)


def test_kill(tap, m, port):
    capped = CAPPED % port
    for attempt in range(8):
        off = m.log_size()
        held = start_attempts(m, CAP, 60)
        where = [relay_of(m, c, off) for c in held]
        if len(set(where)) > 1 or attempt == 7:
            break
        for c in held:
            c.close()
        time.sleep(CONNECT_TIMEOUT + 1)
    victim = where[0]
    survivors = sum(1 for r in where if r != victim)
    pids = m.child_index("relay")
    off = m.log_size()
    os.kill(pids[victim], signal.SIGKILL)
    tap.ok(m.wait_log(r"relay %d \(pid %d\) killed by signal SIGKILL" %
                      (victim, pids[victim]), off), "relay %d killed with "
           "%d attempts in flight" % (victim, CAP - survivors))
    more = start_attempts(m, CAP - survivors, 70)
    time.sleep(1)
    tap.ok(not re.search(capped, m.log_since(off)), "%d new attempts: the "
           "dead relay's are not counted" % (CAP - survivors))
    c = m.imap(source="127.0.0.80")
    tagged, secs = timed_login(c, "dead", "dead-pw")
    tap.ok(tagged.startswith(b"t1 NO [UNAVAILABLE]") and secs < 2,
           "one more is over the cap again", repr(tagged))
    for x in held + more + [c]:
        x.close()


def main(tap):
    T.need_root()
    env = T.Env("attempts", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.slapd.add_user("dead", "dead-pw", DEAD_ADDR)
    env.start_backends()
    holes = [blackhole(env.store_imap_port), blackhole(env.store_pop_port)]
    # Fill each backlog: from here on connects to it hang in SYN_SENT.
    fill = []
    for h in holes:
        for _ in range(3):
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            f.setblocking(False)
            f.connect_ex(h.getsockname())
            fill.append(f)
    m = env.mmpd(imap=LIMITS, pop=dict(LIMITS)).start()
    test_cap(tap, m, env.store_imap_port)
    test_kill(tap, m, env.store_imap_port)
    T.check_children(tap)
    for s in holes + fill:
        s.close()


T.run(main)
