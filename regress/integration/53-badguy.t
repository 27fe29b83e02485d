#!/usr/bin/env python3
# BadGuy: each failed login from an address answers the next one from it
# BGPenalty seconds later (on top of AuthFailureDelay, whatever failed), up
# to BGMaxBadness, decaying over BGDecay (all at once or linearly); a
# success after failures is held once, then the address is clean; BGExcluded
# networks (inline or a file the parent reads) are never penalised; other
# addresses are not affected; BGMax bounds the table; the badness is shared
# by the relays (Workers 2) and a relay killed with SIGKILL takes its part
# with it. Clients come from 127.0.0.x source addresses.

import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

EARLY = 0.05		# the answer may come this much before the deadline
LATE = 1.0		# and at most this much after it (load, the store's 0.5 s)
USER, PW = "alice", "alice-pw"
BAD = "127.0.0.2"
OTHER = "127.0.0.3"
EXCL = "127.0.0.5"
EXCL_FILE = "127.0.0.6"
FAILED = b"NO [AUTHENTICATIONFAILED]"


class SrcImap(T.Imap):
    """The test's IMAP client, from a chosen 127.0.0.x source address."""

    def __init__(self, src, host, port, timeout=30):
        sock = socket.create_connection((host, port), timeout,
                                        source_address=(src, 0))
        sock.settimeout(timeout)
        self.sock = self.plain = sock
        self.buf = b""
        self.eof = False
        self.tagn = 0
        self.greeting = self.readline()


class SrcPop(T.Pop):
    def __init__(self, src, host, port, timeout=30):
        sock = socket.create_connection((host, port), timeout,
                                        source_address=(src, 0))
        sock.settimeout(timeout)
        self.sock = self.plain = sock
        self.buf = b""
        self.eof = False
        self.greeting = self.readline()


# Every kind of failure a client can cause, answered alike.
KINDS = [("unknown user", "nobody", "x"), ("wrong password", USER, "bad"),
         ("refused by mmpd", USER, "")]


def login(m, src, user, pw):
    """(tagged answer, seconds from the LOGIN line to the answer)."""
    with SrcImap(src, m.host, m.imap_ports[0]) as c:
        (t, _), dt = T.timed(c.login, user, pw)
        return t, dt


def within(tap, dt, want, name):
    tap.ok(want - EARLY <= dt <= want + LATE, "%s: answered after %.2f s "
           "(want %.1f s)" % (name, dt, want), "%.3f" % dt)


def badguy_lines(text, addr):
    return [int(n) for n in re.findall(r"badguy %s now has (\d+) badness"
                                       % re.escape(addr), text)]


def growth(tap, env):
    """Growth on top of AuthFailureDelay, the ceiling, the log line, other
    and excluded addresses, POP3 sharing the table, a success held once."""
    conf = {"AuthFailureDelay": 1, "BGPenalty": 1, "BGMaxBadness": 3,
            "BGDecay": 120, "BGExcluded": "%s|255.255.255.255" % EXCL}
    m = env.mmpd(name="growth", imap=conf, pop=dict(conf)).start()
    off = m.log_size()
    for i, want in enumerate((0, 1, 2, 3, 3)):
        kind, user, pw = KINDS[i % len(KINDS)]
        t, dt = login(m, BAD, user, pw)
        tap.ok(FAILED in t, "failure %d (%s) is a failure" % (i + 1, kind),
               repr(t))
        within(tap, dt, 1 + want, "failure %d from %s (%s), badness %d"
               % (i + 1, BAD, kind, want))
    m.wait_log(r"badguy %s now has 3 badness" % BAD, off)
    m.wait_log_still()
    tap.is_(badguy_lines(m.log_since(off), BAD), [1, 2, 3],
            "one notice per failure that changed the badness, the ceiling "
            "none")
    tap.ok(re.search(r"relay \d: session 0x[0-9a-f]+ %s:\d+: badguy %s "
                     r"now has 1 badness\n" % (BAD, BAD), m.log_since(off)),
           "the line is the product's, at the session's prefix",
           m.log_since(off)[-2000:])
    relays = set(re.findall(r"relay (\d): session \S+ %s:\d+: login"
                            % re.escape(BAD), m.log_since(off)))
    tap.diag("failures from %s landed on relays %s" % (BAD, sorted(relays)))

    t, dt = login(m, OTHER, USER, "bad")
    within(tap, dt, 1, "%s is not delayed while %s is bad" % (OTHER, BAD))
    for i in range(3):
        t, dt = login(m, EXCL, "nobody", "x")
        within(tap, dt, 1, "excluded %s, failure %d: never delayed"
               % (EXCL, i + 1))
    m.wait_log_still()
    tap.is_(badguy_lines(m.log_since(off), EXCL), [],
            "no badguy line for an excluded address")

    # POP3 sees what IMAP earned: one table for both.
    with SrcPop(OTHER, m.host, m.pop_ports[0]) as p:
        p.cmd("USER nobody")
        r, dt = T.timed(p.cmd, "PASS x")
    tap.ok(r.startswith(b"-ERR"), "POP3 failure", repr(r))
    within(tap, dt, 2, "POP3 from %s carries its IMAP badness" % OTHER)

    # A success from the bad address: held once for its badness...
    t, dt = login(m, BAD, USER, PW)
    tap.ok(b" OK" in t, "%s logs in with the right password" % BAD, repr(t))
    within(tap, dt, 3, "that success is held for the badness")
    # ... then the address is clean, on whichever relay comes next.
    for i in range(2):
        t, dt = login(m, BAD, USER, PW)
        within(tap, dt, 0, "success %d after it: not held" % (i + 2))
    t, dt = login(m, BAD, "nobody", "x")
    within(tap, dt, 1, "a failure after the success starts from nothing")
    m.wait_log(r"badguy %s now has 1 badness" % BAD, off)
    tap.is_(badguy_lines(m.log_since(off), BAD), [1, 2, 3, 1],
            "and says so")
    m.stop()


def decay(tap, env, linear):
    word = "linear" if linear else "not linear"
    conf = {"BGPenalty": 2, "BGMaxBadness": 60, "BGDecay": 3,
            "BGLinear": "yes" if linear else "no"}
    m = env.mmpd(name="decay-%s" % ("lin" if linear else "step"),
                 imap=conf).start()
    t, dt = login(m, BAD, "nobody", "x")
    within(tap, dt, 0, "%s: the first failure is not delayed" % word)
    t0 = time.monotonic() - dt
    time.sleep(max(0, t0 + 1.5 - time.monotonic()))
    t, dt = login(m, BAD, "nobody", "x")
    if linear:
        # 2 s shrinking over 3 s: 1 s left half way; not linear keeps 2.
        tap.ok(0.85 <= dt <= 1.6, "linear: half the badness left after "
               "half of BGDecay (%.2f s)" % dt, "%.3f" % dt)
    else:
        within(tap, dt, 2, "not linear: the whole badness until BGDecay")
    # The last failure was 1.5 s after t0: 3 s after it all is gone.
    time.sleep(max(0, t0 + 1.5 + 3.3 - time.monotonic()))
    t, dt = login(m, BAD, "nobody", "x")
    within(tap, dt, 0, "%s: gone once BGDecay has passed" % word)
    m.stop()


def excluded_file(tap, env):
    path = env.path("bgexcl.cfg")
    with open(path, "w") as f:
        f.write("# webmail\n\n%s|255.255.255.255, 10.0.0.0/8 # and more\n"
                "192.0.2.0|255.255.255.0\n" % EXCL_FILE)
    conf = {"BGPenalty": 2, "BGDecay": 60, "BGExcluded": path}
    m = env.mmpd(name="exclfile", imap=conf).start()
    for i in range(3):
        t, dt = login(m, EXCL_FILE, "nobody", "x")
        within(tap, dt, 0, "excluded by the file: failure %d not delayed"
               % (i + 1))
    t, dt = login(m, BAD, "nobody", "x")
    t, dt = login(m, BAD, "nobody", "x")
    within(tap, dt, 2, "an address the file does not name is delayed")

    # A line it cannot parse: mmpd -n and a reload say where.
    with open(path, "w") as f:
        f.write("# webmail\n%s|255.255.255.255\n10.1.2.3/8\n" % BAD)
    rc, out = m.check()
    tap.ok(rc != 0 and "%s:3:" % path in out and "host bits" in out,
           "mmpd -n refuses a bad line with file:line", out)
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"%s:3:" % re.escape(path), off),
           "a reload names it too and keeps the running configuration",
           m.log_since(off))
    t, dt = login(m, EXCL_FILE, "nobody", "x")
    within(tap, dt, 0, "the old exclusions still hold")
    # Fixed: the reload reads the file again and excludes BAD now.
    with open(path, "w") as f:
        f.write("%s|255.255.255.255\n" % BAD)
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"configuration \d+ loaded", off),
           "the fixed file is loaded", m.log_since(off))
    m.wait_log_still(0.5)
    t, dt = login(m, BAD, "nobody", "x")
    within(tap, dt, 0, "after the reload %s is excluded" % BAD)
    t, dt = login(m, EXCL_FILE, "nobody", "x")
    t, dt = login(m, EXCL_FILE, "nobody", "x")
    within(tap, dt, 2, "and %s no longer is" % EXCL_FILE)

    # Not a network and not an absolute file name.
    m2 = env.mmpd(name="exclbad", imap={"BGExcluded": "bgexcl.cfg"})
    m2.write_config()
    rc, out = m2.check()
    tap.ok(rc != 0 and "BGExcluded" in out and "absolute" in out,
           "a relative file name is refused", out)
    m2 = env.mmpd(name="exclbad2",
                  imap={"BGExcluded": "10.0.0.0/8 10.0.0.1|255.0.255.0"})
    m2.write_config()
    rc, out = m2.check()
    tap.ok(rc != 0 and re.search(r"ImapProxyAService.cfg:\d+: BGExcluded: "
                                 r"\"10.0.0.1\|255.0.255.0\"", out),
           "an inline list with a bad pair is refused with file:line", out)
    m.stop()


def bound(tap, env):
    """BGMax 4 with 2 relays: 2 addresses each. Many addresses: no growth,
    no crash; the oldest are forgotten (debug line) and start anew."""
    conf = {"BGPenalty": 3, "BGDecay": 120, "BGMax": 4, "LogLevel": 7}
    # One table for both services, sized by the larger BGMax: set both.
    m = env.mmpd(name="bound", imap=conf, pop=dict(conf)).start()
    pids = sorted(m.children())
    off = m.log_size()
    first = "127.0.1.1"
    srcs = ["127.0.1.%d" % i for i in range(1, 41)]
    slow = []
    for src in srcs:
        t, dt = login(m, src, "nobody", "x")
        if dt > LATE:
            slow.append((src, dt))
    tap.ok(not slow, "40 addresses, one failure each: none delayed",
           repr(slow))
    m.wait_log_still()
    text = m.log_since(off)
    forgot = re.findall(r"badguy (127\.0\.1\.\d+) forgotten to make room",
                        text)
    tap.ok(len(forgot) >= 40 - 4, "the table made room instead of growing "
           "(%d addresses forgotten)" % len(forgot), text[-2000:])
    tap.ok(first in forgot, "the oldest address was forgotten", repr(forgot))
    t, dt = login(m, first, "nobody", "x")
    within(tap, dt, 0, "so its next failure starts anew")
    t, dt = login(m, first, "nobody", "x")
    within(tap, dt, 3, "and the one after that counts again")
    tap.ok(m.alive() and sorted(m.children()) == pids,
           "no relay crashed or was restarted")
    m.stop()


def relay_counts(m, off, addr):
    """{relay index: badguy lines for addr} since off."""
    per = {}
    for r in re.findall(r"relay (\d): session \S+ %s:\d+: badguy %s now"
                        % (re.escape(addr), re.escape(addr)),
                        m.log_since(off)):
        per[int(r)] = per.get(int(r), 0) + 1
    return per


def kill_relay(tap, env):
    """Failures recorded by both relays add up (a guesser gains nothing on
    another relay); a relay killed with SIGKILL: the parent wipes its
    section, so the part it recorded is gone and the other relay's stays."""
    conf = {"BGPenalty": 1, "BGMaxBadness": 60, "BGDecay": 300}
    m = env.mmpd(name="kill", imap=conf).start()
    off = m.log_size()
    per = {}
    # Concurrent clients, so that both relays take some.
    for _ in range(6):
        T.in_threads(3, lambda i: login(m, BAD, "nobody", "x"), timeout=120)
        m.wait_log_still()
        per = relay_counts(m, off, BAD)
        if len(per) == 2:
            break
    total = sum(per.values())
    tap.ok(len(per) == 2, "%d failures landed on both relays (%r)"
           % (total, per))
    t, dt = login(m, BAD, USER, "bad")
    within(tap, dt, total, "the next failure pays for both relays' %d"
           % total)
    m.wait_log_still()
    per = relay_counts(m, off, BAD)
    victim = max(per, key=per.get)
    left = sum(per.values()) - per[victim]
    pid = m.child_pid("relay", victim)
    tap.ok(pid is not None, "relay %d found" % victim)
    off = m.log_size()
    os.kill(pid, signal.SIGKILL)
    T.wait_pid_gone(pid, 5)
    tap.ok(m.wait_log(r"relay %d \(pid %d\) killed by signal SIGKILL"
                      % (victim, pid), off, timeout=10),
           "the parent saw relay %d die" % victim, m.log_since(off))
    end = time.time() + 10
    while time.time() < end and m.child_pid("relay", victim) in (None, pid):
        time.sleep(0.1)
    m.wait_ready()
    t, dt = login(m, BAD, "nobody", "x")
    within(tap, dt, left, "after the kill only the other relay's %d s "
           "are left" % left)
    m.stop()


def main(tap):
    env = T.Env("badguy", tap).setup(stores=("store1",))
    env.user(USER, PW, "store1")
    env.start_backends()
    growth(tap, env)
    decay(tap, env, linear=False)
    decay(tap, env, linear=True)
    excluded_file(tap, env)
    bound(tap, env)
    kill_relay(tap, env)


if __name__ == "__main__":
    T.run(main)
