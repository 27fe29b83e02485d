#!/usr/bin/env python3
# Memory after a burst of clients that never log in: the relays and
# mmp-tlsd give back what the burst took once its clients are gone.
# libevent keeps a small slot per descriptor number for the life of its
# event base; lib/evmem.c keeps those off the pages the sessions used,
# and lib/heaptrim.c returns the free pages a few seconds after the last
# close. Without the first the relays kept a page per slot (about a
# third of the burst here); without the second mmp-tlsd kept all of it.
# Measured as private memory (Private_Clean + Private_Dirty): what each
# process alone holds. MaxPreauthSessions sheds the oldest clients while
# a burst comes, as a flood's would be: new sessions then take the holes
# among the older ones. Two bursts, each measured from where the one
# before left the memory; the second leaves each kind within 10 % (of
# what a burst takes) of where the first did: what a burst leaves does
# not pile up.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

PLAIN = 2500		# IMAP clients of a burst, CMDS CAPABILITY each
TLS = 600		# IMAPS clients of a burst, handshake then CMDS
PREAUTH = 2000		# MaxPreauthSessions: the oldest 1,100 are shed
CMDS = 50
SOURCES = 40		# 127.0.0.2 .. 127.0.0.41
HOLD_SEC = 2		# for the relays to read every command
# A freed burst is back within heaptrim's 5 s; waited for up to this.
SETTLE_SEC = 20
RETURNED = 0.90		# of what a burst took, given back
PILE = 0.10		# the second burst's rest over the first's, of a burst


def kinds(m):
    """{"relays": [pids], "mmp-tlsd": [pids]}"""
    return {"relays": m.child_pids("relay"),
            "mmp-tlsd": m.child_pids("mmp-tlsd")}


def mem(m):
    return {k: sum(T.private_kib(p) for p in pids)
            for k, pids in kinds(m).items()}


def burst(m, ctx, scale):
    """PLAIN + TLS clients (over scale) that send CMDS commands and read
    nothing."""
    socks = []
    payload = b"".join(b"a%d CAPABILITY\r\n" % i for i in range(CMDS))
    plain, tls = PLAIN // scale, TLS // scale
    for i in range(plain + tls):
        s = T.flood_client(m, i, None if i < plain else ctx, 0, SOURCES)
        s.sendall(payload)
        socks.append(s)
    return socks


def settle(m, before, held):
    """Waits until every kind gave back RETURNED of its burst, or
    SETTLE_SEC passed; the memory then."""
    deadline = time.monotonic() + SETTLE_SEC
    while True:
        now = mem(m)
        if all(held[k] - now[k] >= RETURNED * (held[k] - before[k])
               for k in now) or time.monotonic() > deadline:
            return now
        time.sleep(0.5)


def main(tap):
    T.raise_nofile()
    env = T.Env("burstmem", tap).setup()
    wide = {"ConnLimits": "0.0.0.0|0.0.0.0:20,127.0.0.0|255.0.0.0:100000",
            "LoginTimeout": 300}
    m = env.mmpd(imap=wide, pop=dict(wide), tls=True,
                 aservice={"MaxPreauthSessions": PREAUTH}).start()
    ctx = T.tls_context(env.get_pki())
    pids = kinds(m)
    tap.ok(len(pids["relays"]) >= 1 and len(pids["mmp-tlsd"]) >= 1,
           "relays %s and mmp-tlsd %s running" % (pids["relays"],
                                                  pids["mmp-tlsd"]))
    # The leak-check build: the bursts' sessions are checked for leaks,
    # not measured (ASan's quarantine holds freed memory), so fewer do.
    sanitized = any(T.sanitized(p) for p in pids["relays"])
    scale = 10 if sanitized else 1
    time.sleep(1)
    before = mem(m)
    rest, took = [], {}
    for n in (1, 2):
        socks = burst(m, ctx, scale)
        time.sleep(HOLD_SEC)
        held = mem(m)
        alive = kinds(m) == pids
        for s in socks:
            s.close()
        after = mem(m) if sanitized else settle(m, before, held)
        rest.append(after)
        tap.ok(alive, "burst %d: %d plain and %d TLS clients held, no "
               "child restarted" % (n, PLAIN // scale, TLS // scale))
        for k in ("relays", "mmp-tlsd"):
            name = "burst %d: %s at %d KiB, held %d, after %d" % (
                n, k, before[k], held[k], after[k])
            took[k] = held[k] - before[k]
            if sanitized:
                tap.skip(name, "ASan's quarantine keeps freed memory")
                continue
            tap.ok(took[k] >= 4096 and
                   held[k] - after[k] >= RETURNED * took[k],
                   name + ": %d%% of the %d KiB it took given back" % (
                       100 * RETURNED, took[k]),
                   "gave back %d KiB" % (held[k] - after[k]))
        before = after
    for k in ("relays", "mmp-tlsd"):
        name = "%s after the second burst: %d KiB, after the first %d" % (
            k, rest[1][k], rest[0][k])
        if sanitized:
            tap.skip(name, "ASan's quarantine keeps freed memory")
            continue
        tap.ok(rest[1][k] - rest[0][k] <= PILE * took[k],
               name + " (at most %d%% of the %d KiB a burst takes more)" % (
                   100 * PILE, took[k]))
    # The next normal client is served.
    c = m.imap()
    tap.like(c.greeting, r"^\* OK", "a new client is greeted")
    c.close()
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
