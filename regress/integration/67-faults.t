#!/usr/bin/env python3
# Faults (issue 18, part 4), against real slapd and Dovecot:
# * kill -9 of each kind of child (the statistics process, mmp-ldapd, an
#   mmp-tlsd, a relay) while plain IMAP and POP3 sessions, IMAPS sessions
#   and sessions before their login are open: the sessions the design
#   says survive go on (FETCH, STAT, a login), the others end at once;
#   the parent logs why the child died and starts a new one (new pid);
#   new logins work. A login whose lookup is at mmp-ldapd when it dies is
#   answered NO and may log in again on the same connection.
# * the parent stopped (SIGSTOP) for seconds: relayed sessions flow and
#   logins work meanwhile; after SIGCONT nothing is lost from the log.
# * slapd stopped, then started again on its port; a store stopped
#   (its BYE / -ERR passed on, then the close) or killed (the close at
#   once) under open sessions, down or hung at a login (NO [UNAVAILABLE]
#   / -ERR [SYS/TEMP]).
# * a relay out of descriptors (RLIMIT_NOFILE 48): accept rests instead
#   of spinning (its CPU measured), a relayed session goes on without a
#   fresh pipe, a channel to a new mmp-ldapd lost on its way is asked for
#   again, and accepting resumes when connections close; mmp-tlsd out of
#   descriptors fails the handshakes it cannot take, no more.
# * LogDir on a full file system: logins go on, mmpd says once that it
#   cannot write, and the file says how many lines are missing when space
#   is back.

import os
import re
import resource
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

LDAP_TIMEOUT = 3
CONNECT_TIMEOUT = 3
IMAP_ALERT = "mmptest: faults IMAP store down"
POP_ALERT = "mmptest: faults POP store down"
USERS = 48		# on store1, each with one message
STORE2_USERS = 8
FRESH = 12		# never looked up before the test that uses them
HOG_BYTES = 12 << 20	# more than the kernel buffers on the way hold
PARENT_STOP_SEC = 4
NOFILE = 48		# RLIMIT_NOFILE of the instances run out of them
LAST_READ = [None]	# what greeted() last read, for diagnostics
CPU_WINDOW_SEC = 3
TICK = os.sysconf("SC_CLK_TCK")


class Users:
    """Hands out store1 users in turn: each session has its own."""

    def __init__(self):
        self.i = 0

    def next(self):
        u = "u%02d" % (self.i % USERS)
        self.i += 1
        return u, u + "-pw"


def setup(tap):
    env = T.Env("faults", tap).setup()
    env.get_pki()
    for i in range(USERS):
        u = "u%02d" % i
        env.user(u, u + "-pw", "store1")
        env.stores["store1"].seed(u, T.message("%s on store1" % u))
    for i in range(STORE2_USERS):
        u = "s2u%d" % i
        env.user(u, u + "-pw", "store2")
        env.stores["store2"].seed(u, T.message("%s on store2" % u))
    for i in range(FRESH):
        u = "fresh%d" % i
        env.user(u, u + "-pw", "store1")
        env.stores["store1"].seed(u, T.message("%s on store1" % u))
    env.user("hog", "hog-pw", "store1")
    env.stores["store1"].seed("hog", T.message("hog", size=HOG_BYTES))
    env.user("est", "est-pw", "store1")
    env.stores["store1"].seed("est", T.message("est on store1"))
    env.start_backends()
    return env


def service_conf(alert):
    return {"ConnLimits": "0.0.0.0|0.0.0.0:1000",
            "LdapTimeout": LDAP_TIMEOUT, "ConnectTimeout": CONNECT_TIMEOUT,
            "ServerDownAlert": alert}


# ---------------------------------------------------------------- /proc

def cpu_ticks(pid):
    """utime + stime of pid in clock ticks; None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pids, window):
    """CPU seconds each of pids used in the next window seconds."""
    before = {p: cpu_ticks(p) for p in pids}
    time.sleep(window)
    out = {}
    for p in pids:
        after = cpu_ticks(p)
        if before[p] is None or after is None:
            out[p] = None
        else:
            out[p] = (after - before[p]) / TICK
    return out


def tcp_inode(local_port, remote_port):
    """Inode of the socket 127.0.0.1:local_port connected to a client's
    remote_port, from /proc/net/tcp."""
    try:
        with open("/proc/net/tcp") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        p = line.split()
        if int(p[1].split(":")[1], 16) == local_port and \
           int(p[2].split(":")[1], 16) == remote_port:
            return int(p[9])
    return None


def holder(pids, inode):
    """Which of pids holds the socket inode."""
    want = "socket:[%d]" % inode
    for pid in pids:
        d = "/proc/%d/fd" % pid
        try:
            for fd in os.listdir(d):
                try:
                    if os.readlink(os.path.join(d, fd)) == want:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


def kids(m):
    """{name the log gives it: pid} of m's children."""
    out = {}
    for pid in m.children():
        kind, idx = T.child_kind(pid)
        if kind in ("relay", "mmp-tlsd"):
            out["%s %s" % (kind, idx)] = pid
        elif kind in ("stats", "mmp-ldapd"):
            out[kind] = pid
    return out


# ---------------------------------------------------------------- sessions

def ok_tagged(t):
    return re.match(rb"t\d+ OK", t or b"") is not None


class Sess:
    """One client session of a kind: imap, pop, imaps (logged in, a
    mailbox selected), pre-imap, pre-pop, pre-imaps (greeted, no login
    yet)."""

    def __init__(self, m, kind, users, user=None):
        self.kind = kind
        if user is None:
            self.user, self.pw = users.next()
        else:
            self.user, self.pw = user, user + "-pw"
        self.relay = self.tlsd = None
        port = {"imap": m.imap_ports[0], "pre-imap": m.imap_ports[0],
                "pop": m.pop_ports[0], "pre-pop": m.pop_ports[0],
                "imaps": m.imaps_ports[0],
                "pre-imaps": m.imaps_ports[0]}[kind]
        self.port = port
        self.off = m.log_size()		# its connect line comes after
        if kind in ("imap", "pre-imap"):
            self.c = m.imap()
        elif kind in ("imaps", "pre-imaps"):
            self.c = m.imap_tls()
        else:
            self.c = m.pop3()
        self.cport = self.c.sock.getsockname()[1]
        self.ready = self._begin()

    def _begin(self):
        if self.kind in ("imap", "imaps"):
            t, _ = self.c.login(self.user, self.pw)
            s, _ = self.c.cmd("SELECT INBOX")
            return ok_tagged(t) and ok_tagged(s)
        if self.kind == "pop":
            return self.c.login(self.user, self.pw).startswith(b"+OK")
        if self.kind == "pre-pop":
            return self.c.cmd("NOOP").startswith(b"+OK")
        t, _ = self.c.cmd("CAPABILITY")
        return ok_tagged(t)

    def works(self):
        """The session goes on: FETCH / STAT, or the login it had not
        made yet. (ok, what was seen)"""
        try:
            if self.kind in ("imap", "imaps"):
                t, un = self.c.cmd("FETCH 1 (FLAGS)")
                return ok_tagged(t) and len(un) == 1, t
            if self.kind == "pop":
                r = self.c.cmd("STAT")
                return r.startswith(b"+OK 1 "), r
            if self.kind == "pre-pop":
                r = self.c.login(self.user, self.pw)
                return r.startswith(b"+OK"), r
            t, _ = self.c.login(self.user, self.pw)
            return ok_tagged(t), t
        except (OSError, EOFError) as e:
            return False, repr(e)

    def ended(self, timeout=5):
        """The connection is closed by mmpd within timeout (whatever it
        said before): (ended, what was read)."""
        got = b""
        self.c.settimeout(timeout)
        try:
            try:
                self.c.send(b"NOOP\r\n" if self.kind.endswith("pop")
                            else b"x NOOP\r\n")
            except OSError:
                return True, b"(send failed)"
            end = time.time() + timeout
            while time.time() < end:
                line = self.c.readline()
                if not line:
                    return True, got
                got += line
            return False, got
        except socket.timeout:
            return False, got + b"(no EOF within %d s)" % timeout
        except (OSError, ssl.SSLError):
            return True, got

    def close(self):
        self.c.close()


def locate(m, sessions):
    """Each session's relay (from its connect line) and, for TLS, the
    mmp-tlsd that holds its socket."""
    k = kids(m)
    tlsds = {pid: n for n, pid in k.items() if n.startswith("mmp-tlsd")}
    for s in sessions:
        found = m.wait_log(r"(relay \d+): session 0x[0-9a-f]+ 127\.0\.0\.1:"
                           r"%d: connected" % s.cport, s.off, 5)
        s.relay = found.group(1) if found else None
        if s.kind.endswith("imaps"):
            ino = tcp_inode(s.port, s.cport)
            pid = holder(list(tlsds), ino) if ino else None
            s.tlsd = tlsds.get(pid)


def open_sessions(m, users):
    """Two of each logged-in kind, one of each kind before its login; more
    plain IMAP sessions until both relays hold one."""
    kinds = ["imap", "pop", "imaps", "imap", "pop", "imaps", "pre-imap",
             "pre-pop", "pre-imaps"]
    sessions = [Sess(m, k, users) for k in kinds]
    locate(m, sessions)
    for _ in range(12):
        if len(set(s.relay for s in sessions if s.kind == "imap")) >= 2:
            break
        s = Sess(m, "imap", users)
        locate(m, [s])
        sessions.append(s)
    return sessions


# ---------------------------------------------------------------- kills

def wait_restart(tap, m, name, pid, off):
    """The parent logged the death of name (pid) and started a new one;
    the new pid, or None."""
    died = m.wait_log(r"%s \(pid %d\) killed by signal SIGKILL" %
                      (re.escape(name), pid), off, 5)
    tap.ok(died, "kill -9 %s: the parent logs how it died" % name,
           m.log_since(off)[-2000:])
    started = m.wait_log(r"%s started, pid (\d+)" % re.escape(name), off, 10)
    new = int(started.group(1)) if started else None
    ready = m.wait_log(r"%s ready" % re.escape(name), off, 10)
    tap.ok(new is not None and new != pid and T.pid_alive(new) and
           new in m.children() and ready,
           "kill -9 %s: the parent started a new one (pid %s, was %d), "
           "ready" % (name, new, pid), m.log_since(off)[-2000:])
    return new


def expect_ended(kind, victim, s):
    if kind == "relay":
        return s.relay == victim
    if kind == "mmp-tlsd":
        return s.tlsd == victim
    return False


def check_sessions(tap, name, kind, victim, sessions):
    """One test per kind of session and fate."""
    groups = {}
    for s in sessions:
        groups.setdefault((s.kind, expect_ended(kind, victim, s)),
                          []).append(s)
    for (skind, dies), group in sorted(groups.items()):
        seen = []
        good = 0
        for s in group:
            ok, what = s.ended() if dies else s.works()
            good += bool(ok)
            seen.append("%s (%s, %s): %r" % (s.user, s.relay, s.tlsd, what))
        tap.ok(good == len(group),
               "kill -9 %s: %d of %d %s sessions %s" %
               (name, good, len(group), skind,
                "ended at once" if dies else "went on"),
               "\n".join(seen))


def new_logins(tap, m, name, users):
    """IMAP, POP3 and IMAPS logins after the restart."""
    u, pw = users.next()
    t, subj, d = T.imap_route(m, u, pw)
    tap.ok(ok_tagged(t) and subj == ["%s on store1" % u],
           "after kill -9 %s: an IMAP login works" % name, d)
    u, pw = users.next()
    r, subj = T.pop_route(m, u, pw)
    tap.ok(r.startswith(b"+OK") and subj == ["%s on store1" % u],
           "after kill -9 %s: a POP3 login works" % name, repr((r, subj)))
    u, pw = users.next()
    with m.imap_tls() as c:
        t, _ = c.login(u, pw)
        sel, _ = c.cmd("SELECT INBOX")
        f, subj = T.imap_subjects(c)
    tap.ok(ok_tagged(t) and subj == ["%s on store1" % u],
           "after kill -9 %s: an IMAPS login works" % name,
           repr((t, sel, f, subj)))


def lookup_in_flight(tap, env, m, victim):
    """slapd stopped, a login waits for its lookup at mmp-ldapd: the kill
    answers it NO; after the restart the same connection logs in."""
    c = m.imap(timeout=20)
    T.stop(env.slapd.proc.pid)
    try:
        c.send(b"t1 LOGIN fresh0 fresh0-pw\r\n")
        time.sleep(1)		# the lookup is at mmp-ldapd, unanswered
        os.kill(victim, signal.SIGKILL)
        (t, _), dt = T.timed(c.read_until_tagged, "t1")
    finally:
        os.kill(env.slapd.proc.pid, signal.SIGCONT)
    tap.ok(t.startswith(b"t1 NO ") and dt < LDAP_TIMEOUT,
           "a login whose lookup was at the killed mmp-ldapd is answered "
           "NO (%.1f s, before LdapTimeout)" % dt, repr(t))
    return c


def kill_round(tap, env, m, kind, users):
    """kill -9 one child of kind with sessions open."""
    sessions = open_sessions(m, users)
    bad = [s.kind for s in sessions if not s.ready or s.relay is None or
           (s.kind.endswith("imaps") and s.tlsd is None)]
    tap.ok(not bad, "before kill -9 %s: %d sessions open and located" %
           (kind, len(sessions)), repr(bad))
    k = kids(m)
    if kind == "relay":
        victim = next(s.relay for s in sessions if s.kind == "imap")
    elif kind == "mmp-tlsd":
        victim = next(s.tlsd for s in sessions if s.kind == "imaps")
    else:
        victim = kind
    pid = k.get(victim)
    tap.diag("kill -9 %s (pid %s); sessions: %s" % (victim, pid, ", ".join(
        "%s@%s/%s" % (s.kind, s.relay, s.tlsd) for s in sessions)))
    off = m.log_size()
    inflight = None
    if kind == "mmp-ldapd":
        inflight = lookup_in_flight(tap, env, m, pid)
    else:
        os.kill(pid, signal.SIGKILL)
    wait_restart(tap, m, victim, pid, off)
    check_sessions(tap, victim, kind, victim, sessions)
    if inflight is not None:
        t, _ = inflight.login("fresh0", "fresh0-pw")
        tap.ok(ok_tagged(t), "the connection whose login mmp-ldapd's death "
               "refused logs in after the restart", repr(t))
        tap.ok(re.search(r'login "fresh0" refused: ldap down .*mmp-ldapd '
                         r'went away', m.log_since(off)),
               "the log says why that login was refused",
               m.log_since(off)[-2000:])
        inflight.close()
    new_logins(tap, m, victim, users)
    for s in sessions:
        s.close()


def kill_stats(tap, m, users, port):
    kill_round(tap, None, m, "stats", users)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=10) as r:
            body = r.read().decode()
    except OSError as e:
        body = repr(e)
    tap.like(body, r'mmpd_child_restarts_total\{kind="stats"\} 1',
             "the new statistics process serves the page and counts its "
             "own restart")


# ---------------------------------------------------------------- parent

def test_parent_stopped(tap, m, users):
    """SIGSTOP of the parent: the children need it for nothing a session
    or a login does."""
    sessions = [Sess(m, k, users) for k in ("imap", "pop", "imaps")]
    tap.ok(all(s.ready for s in sessions), "parent stop: sessions open")
    off = m.log_size()
    during = []
    T.stop(m.pid)
    t0 = time.monotonic()
    try:
        flows = [s.works() for s in sessions]
        u1, pw1 = users.next()
        t, subj, d = T.imap_route(m, u1, pw1)
        during.append((ok_tagged(t), d))
        u2, pw2 = users.next()
        r, subj2 = T.pop_route(m, u2, pw2)
        during.append((r.startswith(b"+OK"), repr((r, subj2))))
        u3, pw3 = users.next()
        with m.imap_tls() as c:
            t3, _ = c.login(u3, pw3)
        during.append((ok_tagged(t3), repr(t3)))
        left = PARENT_STOP_SEC - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
        stopped = T.proc_status(m.pid).get("State", "")
    finally:
        os.kill(m.pid, signal.SIGCONT)
    tap.ok(stopped.startswith("T"), "the parent was stopped all along "
           "(%s)" % stopped)
    tap.ok(all(ok for ok, _ in flows), "parent stopped: the relayed IMAP, "
           "POP3 and IMAPS sessions flow", repr(flows))
    tap.ok(all(ok for ok, _ in during), "parent stopped: IMAP, POP3 and "
           "IMAPS logins work", repr(during))
    for u in (u1, u2, u3):
        tap.ok(m.wait_log(r'user "%s" logged in' % u, off, 10),
               "after SIGCONT: the login of %s while the parent was stopped "
               "is in the log" % u)
    tap.ok("dropped" not in m.log_since(off),
           "no log line was dropped", m.log_since(off)[-2000:])
    flows = [s.works() for s in sessions]
    tap.ok(all(ok for ok, _ in flows), "after SIGCONT: the sessions go on",
           repr(flows))
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"configuration \d+ in effect in every process", off),
           "after SIGCONT: a reload reaches every child")
    for s in sessions:
        s.close()


# ---------------------------------------------------------------- slapd

def wrong_answers(m):
    with m.imap() as c:
        t, _ = c.login("u00", "wrong")
    with m.pop3() as p:
        r = p.login("u00", "wrong")
    return T.strip_tag(t), r


def test_slapd_restart(tap, env, m, users):
    imap_wrong, pop_wrong = wrong_answers(m)
    s = Sess(m, "imap", users)
    env.slapd.stop()
    with m.imap(timeout=20) as c:
        (t, _), dt = T.timed(c.login, "fresh1", "fresh1-pw")
    with m.pop3(timeout=20) as p:
        r = p.login("fresh2", "fresh2-pw")
    tap.ok(T.strip_tag(t) == imap_wrong and r == pop_wrong,
           "slapd stopped: IMAP and POP3 logins are refused like a wrong "
           "password (%.1f s)" % dt,
           repr((t, imap_wrong, r, pop_wrong)))
    ok, what = s.works()
    tap.ok(ok, "slapd stopped: a relayed session goes on", repr(what))
    env.slapd.start()
    t0 = time.monotonic()
    tries = []
    while time.monotonic() - t0 < 30:
        t, subj, d = T.imap_route(m, "fresh3", "fresh3-pw")
        tries.append(t)
        if ok_tagged(t):
            break
        time.sleep(1)
    tap.ok(ok_tagged(t) and subj == ["fresh3 on store1"],
           "slapd back on its port: a login works (%.1f s, %d tries)" %
           (time.monotonic() - t0, len(tries)), repr(tries[-3:]))
    r, subj = T.pop_route(m, "fresh4", "fresh4-pw")
    tap.ok(r.startswith(b"+OK"), "slapd back: a POP3 login works", repr(r))
    s.close()


# ---------------------------------------------------------------- stores

def store_pids(store):
    """The Dovecot master of store and every process below it."""
    pids = [store.pid]
    i = 0
    while i < len(pids):
        pids += T.children_of(pids[i])
        i += 1
    return pids


def signal_all(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def store_sessions(m):
    """IMAP, POP3 and IMAPS sessions of store2's users."""
    return [Sess(m, kind, None, "s2u%d" % i)
            for i, kind in enumerate(("imap", "pop", "imaps"))]


def down_answers(m, user):
    """IMAP, POP3, IMAPS login answers for user, and whether each
    connection still answers afterwards."""
    out = []
    for make, imap in ((m.imap, True), (m.pop3, False),
                       (m.imap_tls, True)):
        with make(timeout=CONNECT_TIMEOUT + 15) as c:
            (a, dt) = T.timed(c.login, user, user + "-pw")
            if imap:
                a = a[0]
                usable = ok_tagged(c.cmd("NOOP")[0])
            else:
                usable = c.cmd("NOOP").startswith(b"+OK")
            out.append((a, dt, usable))
    return out


def check_down(tap, what, answers):
    imap, pop, imaps = answers
    tap.ok(imap[0].startswith(b"t1 NO [UNAVAILABLE] ") and
           IMAP_ALERT.encode() in imap[0] and imap[2],
           "%s: IMAP login NO [UNAVAILABLE] with ServerDownAlert in %.1f s, "
           "connection usable" % (what, imap[1]), repr(imap))
    tap.ok(pop[0].startswith(b"-ERR [SYS/TEMP] ") and
           POP_ALERT.encode() in pop[0] and pop[2],
           "%s: POP3 login -ERR [SYS/TEMP] with ServerDownAlert in %.1f s, "
           "connection usable" % (what, pop[1]), repr(pop))
    tap.ok(imaps[0].startswith(b"t1 NO [UNAVAILABLE] ") and imaps[2],
           "%s: IMAPS login NO [UNAVAILABLE] in %.1f s" % (what, imaps[1]),
           repr(imaps))


def test_store_stopped(tap, env, m, users):
    store = env.stores["store2"]
    other = Sess(m, "imap", users)		# on store1
    sessions = store_sessions(m)
    tap.ok(all(s.ready for s in sessions) and other.ready,
           "store2 sessions open (IMAP, POP3, IMAPS)")
    # Stopped (SIGTERM): Dovecot's mail processes say BYE and close some
    # 10 s after their master went; mmpd passes that on and closes.
    store.stop()
    for s in sessions:
        ok, got = s.ended(timeout=20)
        bye = s.kind == "pop" or b"* BYE " in got
        tap.ok(ok and bye, "store stopped mid-session: the %s session ends "
               "(%r)" % (s.kind, got[-40:]), repr(got))
    store.start()
    sessions = store_sessions(m)
    tap.ok(all(s.ready for s in sessions), "store2 started again: sessions "
           "open")
    # Killed outright: the sessions end at once.
    pids = store_pids(store)
    signal_all(pids, signal.SIGKILL)
    for p in pids:
        T.wait_pid_gone(p, 5)
    store.pid = None
    # Its reaper may be slow: Dovecot takes a zombie for a running master.
    os.unlink(os.path.join(store.dir, "run", "master.pid"))
    for s in sessions:
        (ok, got), dt = T.timed(s.ended, 5)
        tap.ok(ok and dt < 2, "store killed mid-session: the %s session ends "
               "at once (%.1f s)" % (s.kind, dt), repr(got))
    ok, what = other.works()
    tap.ok(ok, "store2 stopped: a session on store1 goes on", repr(what))
    check_down(tap, "store2 down at login", down_answers(m, "s2u3"))
    store.start()
    t, subj, d = T.imap_route(m, "s2u4", "s2u4-pw")
    tap.ok(ok_tagged(t) and subj == ["s2u4 on store2"],
           "store2 started again: a login works", d)
    # Hung: every process of the store stopped; TCP still connects.
    pids = store_pids(store)
    for p in pids:
        T.stop(p)
    try:
        answers = down_answers(m, "s2u5")
    finally:
        signal_all(pids, signal.SIGCONT)
    check_down(tap, "store2 hung at login", answers)
    tap.ok(all(a[1] < CONNECT_TIMEOUT + 3 for a in answers),
           "store2 hung: each answer within ConnectTimeout %d s" %
           CONNECT_TIMEOUT, repr([a[1] for a in answers]))
    t, subj, d = T.imap_route(m, "s2u6", "s2u6-pw")
    tap.ok(ok_tagged(t), "store2 going again: a login works", d)
    other.close()


# ---------------------------------------------------------------- descriptors

class SlowImap(T.Imap):
    """An IMAP client with a small receive buffer from the start."""

    def __init__(self, host, port):
        T.Conn.__init__(self, host, port, 30, rcvbuf=4096)
        self.tagn = 0
        self.greeting = self.readline()


def drain_until_tagged(c, tag):
    """Reads c until the line tagged tag, keeping only a tail: (bytes
    read, that line)."""
    want = b"\r\n" + tag.encode() + b" "
    total, tail = 0, c.buf
    c.buf = b""
    c.sock.settimeout(30)
    while True:
        i = tail.find(want)
        if i != -1 and tail.endswith(b"\r\n") and \
           tail.index(b"\r\n", i + 2) == len(tail) - 2:
            return total + len(tail), tail[i + 2:]
        try:
            d = c.sock.recv(1 << 20)
        except OSError:
            d = b""
        if not d:
            return total + len(tail), b""
        tail += d
        if len(tail) > 4096:
            total += len(tail) - 4096
            tail = tail[-4096:]


def safe_cmd(c, text):
    """c.cmd(text); (b"", [why]) if the connection broke."""
    try:
        return c.cmd(text)
    except OSError as e:
        return b"", [repr(e).encode()]


def greeted(sock, timeout):
    sock.settimeout(timeout)
    try:
        got = sock.recv(512)
    except (socket.timeout, OSError) as e:
        got = repr(e).encode()
    LAST_READ[0] = got
    return got.startswith(b"* OK")


def exhaust(m):
    """Connections until one is not greeted: (held, waiting)."""
    held = []
    for _ in range(300):
        s = socket.create_connection((m.host, m.imap_ports[0]), 5)
        if not greeted(s, 3):
            return held, s
        held.append(s)
    return held, None


def start_limited(env, name, nofile, **kw):
    """An mmpd whose every process has RLIMIT_NOFILE nofile (soft and
    hard, so the parent cannot raise it): children inherit it. Root here
    may lack CAP_SYS_RESOURCE, which prlimit on a child would need."""
    m = env.mmpd(name, **kw)
    m.write_config()
    with open(m.logpath, "ab") as log:
        m.proc = subprocess.Popen(
            [T.MMPD_BIN, "-d", "-f", m.confdir], stdin=subprocess.DEVNULL,
            stdout=log, stderr=log, preexec_fn=lambda: resource.setrlimit(
                resource.RLIMIT_NOFILE, (nofile, nofile)))
    env.cleanups.append(m.stop)
    m.wait_ready()
    return m


def test_nofile(tap, env):
    """One relay, so that the session pipes are its own: a session whose
    store is sending a big message to a client that does not read holds
    the relay's only pooled pipe; then the relay runs out of
    descriptors."""
    conf = {"ConnLimits": "0.0.0.0|0.0.0.0:1000"}
    m = start_limited(env, "nofile", NOFILE, aservice={"Workers": 1},
                      imap=conf, pop=dict(conf))
    relay = kids(m)["relay 0"]
    est = m.imap(timeout=30)
    hog = SlowImap(m.host, m.imap_ports[0])
    t1, _ = est.login("est", "est-pw")
    t2, _ = hog.login("hog", "hog-pw")
    t3, _ = hog.cmd("SELECT INBOX")
    tap.ok(ok_tagged(t1) and ok_tagged(t2) and ok_tagged(t3),
           "nofile: two sessions logged in", repr((t1, t2, t3)))
    tag = hog.tag()
    hog.send("%s FETCH 1 BODY.PEEK[]\r\n" % tag)
    time.sleep(1)
    off = m.log_size()
    held, waiting = exhaust(m)
    tap.ok(waiting is not None, "RLIMIT_NOFILE %d: the relay stops "
           "greeting after %d more connections" % (NOFILE, len(held)))
    cpu = cpu_seconds([relay, m.pid], CPU_WINDOW_SEC)
    tap.diag("out of descriptors: relay %s s, parent %s s CPU in %d s" %
             (cpu[relay], cpu[m.pid], CPU_WINDOW_SEC))
    tap.ok(cpu[relay] is not None and cpu[relay] <= 0.1 * CPU_WINDOW_SEC,
           "out of descriptors, the relay does not spin: %.2f s CPU in %d s" %
           (cpu[relay] or 0, CPU_WINDOW_SEC))
    # No pipe can be made now: the session must go on without one.
    t, _ = safe_cmd(est, "NOOP")
    s, un = safe_cmd(est, "SELECT INBOX")
    tap.ok(ok_tagged(t) and ok_tagged(s) and any(b"EXISTS" in u
                                                 for u in un),
           "out of descriptors: a relayed session goes on (NOOP, SELECT)",
           repr((t, s, un)) + "\n" + m.log_since(off)[-1500:])
    time.sleep(1.5)
    n = len(re.findall(r"accept \(pausing accepts, retrying every 1 s\): "
                       r"Too many open files", m.log_since(off)))
    tap.is_(n, 1, "the relay says once that it cannot accept")
    # A new mmp-ldapd: its channel cannot reach the relay now. The old
    # channel's end frees a descriptor: the parent is held until the
    # waiting client has taken it.
    ldapd = kids(m)["mmp-ldapd"]
    T.stop(m.pid)
    try:
        os.kill(ldapd, signal.SIGKILL)
        took = greeted(waiting, 4)
        held.append(waiting)
        waiting = socket.create_connection((m.host, m.imap_ports[0]), 5)
        full = not greeted(waiting, 2)
    finally:
        os.kill(m.pid, signal.SIGCONT)
    tap.ok(took and full, "the slot mmp-ldapd's channel freed went to a "
           "waiting client; the relay is out of descriptors again",
           "greeted: %r, out again: %r" % (took, full))
    new = wait_restart(tap, m, "mmp-ldapd", ldapd, off)
    lost = m.wait_log(r"parent sent \S*LDAPD_CHANNEL\S*; its descriptor was "
                      r"lost here: out of descriptors", off, 5)
    tap.ok(lost, "out of descriptors: the relay says the channel to the new "
           "mmp-ldapd was lost on its way", m.log_since(off)[-1500:])
    t, _ = safe_cmd(est, "NOOP")
    tap.ok(T.pid_alive(relay) and ok_tagged(t),
           "out of descriptors: the relay lives on without the channel, "
           "its session too", repr(t))
    time.sleep(1.5)
    for s in held:
        s.close()
    tap.ok(waiting is not None and greeted(waiting, 5),
           "connections closed: the waiting client is greeted",
           repr(LAST_READ[0]))
    if waiting is not None:
        waiting.close()
    tap.ok(m.wait_log(r"accepting again after \d+ s \(\d+ tries refused\)",
                      off, 5), "the relay says when it accepts again")
    # The relay asks for the mmp-ldapd channel again, once a second.
    u = "fresh5"
    end = time.time() + 10
    while True:
        t, subj, d = T.imap_route(m, u, u + "-pw")
        if ok_tagged(t) or time.time() > end:
            break
        time.sleep(0.5)
    tap.ok(ok_tagged(t) and subj == ["%s on store1" % u] and
           kids(m).get("relay 0") == relay and
           kids(m).get("mmp-ldapd") == new,
           "descriptors back: a new login works, through the same relay "
           "and the new mmp-ldapd", d)
    size, last = drain_until_tagged(hog, tag)
    tap.ok(last.startswith(tag.encode() + b" OK") and size > HOG_BYTES,
           "the big FETCH that waited all along arrives whole (%d bytes)" %
           size, repr(last))
    t, _ = safe_cmd(est, "NOOP")
    tap.ok(ok_tagged(t), "the session that went on without a pipe still "
           "works", repr(t))
    est.close()
    hog.close()
    m.stop()


def try_imaps(m):
    """An IMAPS connection that gets its greeting, or None."""
    try:
        c = m.imap_tls(timeout=5)
    except (OSError, EOFError):
        return None
    if not c.greeting.startswith(b"* OK"):
        c.close()
        return None
    return c


def test_tlsd_nofile(tap, env, users):
    """mmp-tlsd out of descriptors: the handshakes it cannot take fail,
    its relay's other TLS sessions go on."""
    conf = {"ConnLimits": "0.0.0.0|0.0.0.0:1000"}
    # A TLS client before its login costs the relay one descriptor (its
    # end of the socket pair) and mmp-tlsd two: mmp-tlsd runs out first.
    m = start_limited(env, "tlsnofile", NOFILE, tls=True,
                      aservice={"Workers": 1, "TLSWorkers": 1}, imap=conf,
                      pop=dict(conf))
    k = kids(m)
    tlsd, relay = k["mmp-tlsd 0"], k["relay 0"]
    est = [Sess(m, "imaps", users) for _ in range(2)]
    tap.ok(all(s.ready for s in est), "tlsd nofile: two IMAPS sessions")
    off = m.log_size()
    held, failed = [], 0
    for _ in range(NOFILE):
        c = try_imaps(m)
        if c is None:
            failed += 1
            if failed >= 2:
                break
        else:
            held.append(c)
    tap.ok(failed >= 2, "RLIMIT_NOFILE %d: mmp-tlsd's handshakes fail "
           "after %d more" % (NOFILE, len(held)))
    tap.ok(m.wait_log(r"relay sent \S*TLS_START\S*; its descriptor was lost "
                      r"here: out of descriptors", off, 5),
           "mmp-tlsd says the socket was lost on its way",
           m.log_since(off)[-1500:])
    flows = [s.works() for s in est]
    tap.ok(all(ok for ok, _ in flows), "mmp-tlsd out of descriptors: its "
           "relay's TLS sessions go on", repr(flows) + "\n" +
           m.log_since(off)[-1500:])
    tap.ok(kids(m).get("mmp-tlsd 0") == tlsd and
           kids(m).get("relay 0") == relay and
           not re.search(r"channel closed", m.log_since(off)),
           "no process restarted, no channel lost", m.log_since(off)[-1500:])
    for c in held:
        c.close()
    time.sleep(0.5)
    u, pw = users.next()
    with m.imap_tls() as c:
        t, _ = c.login(u, pw)
    tap.ok(ok_tagged(t), "descriptors back: an IMAPS login works", repr(t))
    for s in est:
        s.close()
    m.stop()


# ---------------------------------------------------------------- LogDir

def fill(path):
    """Writes zeros to path until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_logdir_full(tap, env):
    d = env.path("logfs")
    os.mkdir(d)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=0755",
                        "mmptest-logfs", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        tap.ok(False, "a small tmpfs for LogDir", r.stdout)
        return
    # Registered before mmpd's stop: undone after it.
    env.cleanups.append(lambda: subprocess.run(["umount", "-l", d]))
    conf = {"LogDir": d}
    m = env.mmpd("logfull", aservice=conf, imap=dict(conf),
                 pop=dict(conf)).start()
    imaplog = os.path.join(d, "ImapProxy.log")
    filler = os.path.join(d, "filler")
    fill(filler)
    off = m.log_size()
    size = len(T.read_text(imaplog))
    # Enough lines to fill the last page of each file, which the file
    # system had already given it.
    results = []
    for i in range(24):
        u = "u%02d" % (i % USERS)
        t, subj, _ = T.imap_route(m, u, u + "-pw")
        results.append(ok_tagged(t) and subj == ["%s on store1" % u])
    r, _ = T.pop_route(m, "u01", "u01-pw")
    tap.ok(all(results) and r.startswith(b"+OK"),
           "LogDir full: IMAP and POP3 logins go on", repr((results, r)))
    tap.ok(len(T.read_text(imaplog)) <= size + 4096,
           "LogDir full: ImapProxy.log did not grow (%d -> %d bytes)" %
           (size, len(T.read_text(imaplog))))
    pids = [m.pid] + m.children()
    cpu = cpu_seconds(pids, 2)
    total = sum(v or 0 for v in cpu.values())
    tap.ok(total < 0.2, "LogDir full: mmpd does not spin (%.2f s CPU in 2 s)"
           % total, repr(cpu))
    err = m.log_since(off)
    said = re.findall(r"cannot write (\S+): No space left on device; its "
                      r"lines are lost until it can be written again", err)
    tap.ok("ImapProxy.log" in said and len(said) == len(set(said)),
           "LogDir full: said once per file on stderr, not per line (%s)" %
           ", ".join(said), err[-2000:])
    os.unlink(filler)
    off = m.log_size()
    t, _, d2 = T.imap_route(m, "fresh11", "fresh11-pw")
    tap.ok(ok_tagged(t), "space back: a login", d2)
    end = time.time() + 5
    while time.time() < end and "fresh11" not in T.read_text(imaplog):
        time.sleep(0.1)
    text = T.read_text(imaplog)[size:]
    lost = re.search(r"(\d+) lines are missing from ImapProxy\.log: not "
                     r"written from \S+ on \(No space left on device\)",
                     text)
    tap.ok(lost and int(lost.group(1)) >= 10 and
           text.index(lost.group(0)) < text.index('"fresh11"'),
           "space back: ImapProxy.log says how many lines are missing, then "
           "goes on", text[-2000:])
    tap.ok(m.wait_log(r"ImapProxy\.log can be written again; \d+ lines are "
                      r"missing from it", off, 5),
           "space back: stderr says the file is written again")
    m.stop()


def main(tap):
    env = setup(tap)
    users = Users()
    port = T.free_port()
    m = env.mmpd(tls=True, aservice={"Workers": 2, "TLSWorkers": 2,
                                     "StatsListen": "127.0.0.1:%d" % port},
                 imap=service_conf(IMAP_ALERT),
                 pop=service_conf(POP_ALERT)).start()
    T.wait_listen("127.0.0.1", port)
    # What every test finds mmpd's children by (T.child_kind).
    tap.is_(sorted(kids(m)), ["mmp-ldapd", "mmp-tlsd 0", "mmp-tlsd 1",
                              "relay 0", "relay 1", "stats"],
            "the children by kind and index, from their command lines")
    kill_stats(tap, m, users, port)
    for kind in ("mmp-ldapd", "mmp-tlsd", "relay"):
        kill_round(tap, env, m, kind, users)
    test_parent_stopped(tap, m, users)
    test_slapd_restart(tap, env, m, users)
    test_store_stopped(tap, env, m, users)
    test_nofile(tap, env)
    test_tlsd_nofile(tap, env, users)
    test_logdir_full(tap, env)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
