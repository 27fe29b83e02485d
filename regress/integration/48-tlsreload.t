#!/usr/bin/env python3
# TLS across reloads (issue part 7): an IMAPS session established before a
# reload that swaps SSLCertFile/SSLKeyFile works on, new connections get
# the new certificate; a reload whose key is garbage inside its PEM armor,
# or does not match the certificate, has its TLS part refused (the log
# names the file, why, and which certificates stay in use; the parent's
# word on the reload says so too) and the previous certificate serves on;
# a good reload after it works again. Then TLSWorkers 2 -> 1: the retired
# mmp-tlsd lets its sessions end, takes no new ones, and exits 0. Before
# that, Workers 2 -> 1 -> 2: the draining relay 1 keeps its IMAPS sessions
# beside the new relay 1, and TLSWorkers 2 -> 1 -> 2: the draining mmp-tlsd 1
# keeps its sessions beside the new one.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

SESSIONS = 6	# over two relays, round robin: some land on mmp-tlsd 1


def section(tap, name, fn, *a):
    try:
        return fn(tap, *a)
    except Exception as e:
        import traceback
        tap.ok(False, "%s ran to its end" % name, "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc()))


def org(c):
    """The O= of the certificate the server showed this client."""
    cert = c.sock.getpeercert()
    return dict(x[0] for x in cert["subject"]).get("organizationName")


def new_org(m):
    c = m.imaps()
    try:
        return org(c)
    finally:
        c.logout()


def logged_in(m):
    c = m.imaps()
    typ, _ = c.login("alice", "alice-pw")
    c.select("INBOX")
    return c if typ == "OK" else None


def works(c):
    """NOOP and FETCH on an open session: (ok, detail)."""
    try:
        typ, _ = c.noop()
        t2, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        ok = typ == "OK" and t2 == "OK" and \
            b"Subject: alice over TLS" in (data[0][1] if data and
                                           data[0] else b"")
        return ok, repr((typ, t2, data))
    except Exception as e:
        return False, "%s: %s" % (type(e).__name__, e)


def reload_to(m, cert, key, want, off=None):
    """Reload with cert and key; waits for the parent's line on the
    outcome, want (a regex). The match, or None."""
    m.conf_imap["SSLCertFile"] = cert
    m.conf_imap["SSLKeyFile"] = key
    m.write_config()
    off = m.log_size() if off is None else off
    m.reload()
    return m.wait_log(want, off, timeout=15), off


def test_swap(tap, env, m, old):
    pk = env.pki
    cert2, key2 = pk.path("server2.pem"), pk.path("server2.key")
    tap.is_(org(old), "mmptest", "before: the session has the first "
            "certificate")
    hit, off = reload_to(m, cert2, key2,
                         r"configuration 2 in effect in every process")
    tap.ok(hit, "reload to another certificate: in effect everywhere",
           m.log_since(off))
    ok, d = works(old)
    tap.ok(ok, "the IMAPS session from before the reload: NOOP, FETCH", d)
    tap.is_(new_org(m), "mmptest second", "a new connection gets the new "
            "certificate")


def test_refused(tap, env, m, old, name, keyfile, why, inuse):
    """inuse: the generation whose certificates serve on."""
    pk = env.pki
    gen = m.conf_gen + 1
    hit, off = reload_to(
        m, pk.path("server.pem") if name == "mismatch" else
        pk.path("server2.pem"), keyfile,
        r"configuration %d in effect, but for its TLS part" % gen)
    log = m.log_since(off)
    tap.ok(hit and re.search(
        r"configuration %d: TLS part refused: SSLKeyFile %s: [^\n]*%s[^\n]*"
        r"the certificates and TLS settings of configuration %d stay in "
        r"use" % (gen, re.escape(keyfile), why, inuse), log),
        "%s: mmp-tlsd refuses the TLS part, names the file and why, and "
        "what stays in use" % name, log)
    tap.ok(re.search(r"configuration %d in effect, but for its TLS part: "
                     r"mmp-tlsd refused its certificates \(see above\) and "
                     r"serves on with those of configuration %d" %
                     (gen, inuse), log),
           "%s: the parent's line on the reload says the same" % name, log)
    tap.ok(not re.search(r"configuration %d in effect in every process" %
                         gen, log),
           "%s: and never that it is in effect everywhere" % name, log)
    tap.is_(new_org(m), "mmptest second", "%s: new connections get the "
            "previous certificate" % name)
    ok, d = works(old)
    tap.ok(ok, "%s: the session from before works on" % name, d)
    m.conf_gen = gen


def test_good_again(tap, env, m, old):
    pk = env.pki
    gen = m.conf_gen + 1
    hit, off = reload_to(m, pk.path("server.pem"), pk.path("server.key"),
                         r"configuration %d in effect in every process" %
                         gen)
    tap.ok(hit, "a good reload after the refused ones is in effect",
           m.log_since(off))
    tap.is_(new_org(m), "mmptest", "new connections get its certificate")
    ok, d = works(old)
    tap.ok(ok, "the session from the start works on", d)
    m.conf_gen = gen


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def relay_of(m, c, off):
    """The relay that took the session c ("relay 1"), from its connect
    line; None if not found."""
    port = c.sock.getsockname()[1]
    hit = m.wait_log(r"(relay \d+): session 0x[0-9a-f]+ 127\.0\.0\.1:%d: "
                     r"connected" % port, off, 5)
    return hit.group(1) if hit else None


def reload_workers(m, key, n, want):
    m.conf_a[key] = n
    m.write_config()
    off = m.log_size()
    m.reload()
    return m.wait_log(want, off, timeout=15), off


def down_and_up(tap, m, key, name, old, drains):
    """key 2 -> 1 -> 2: the child name (pid old) drains (its log line
    drains), and a new one of its index runs beside it. The log offset
    from before the first reload."""
    hit, off = reload_workers(m, key, 1, drains)
    tap.ok(hit, "reload to %s 1: %s drains" % (key, name), m.log_since(off))
    hit, o2 = reload_workers(m, key, 2, r"%s ready" % name)
    tap.ok(hit, "reload to %s 2: a new %s runs beside the draining one" %
           (key, name), m.log_since(o2))
    time.sleep(0.5)
    tap.ok(old is not None and T.pid_alive(old), "the draining %s lives on "
           "(pid %s)" % (name, old), m.log_since(off))
    return off


def side_by_side(tap, m, old, sess, off, name, closed):
    """The rest of a drain beside a new child of the same index: every
    session works on, new logins succeed, no log line since off matches
    closed (a channel closed or replaced), and once the sessions are
    closed the old child (pid old) exits."""
    bad = [d for ok, d in map(works, [c for c in sess if c]) if not ok]
    tap.ok(not bad, "every IMAPS session works on: NOOP, FETCH",
           "; ".join(bad) + m.log_since(off)[-2000:])
    fresh = [logged_in(m) for _ in range(4)]
    tap.ok(all(fresh), "new IMAPS logins succeed", m.log_since(off)[-2000:])
    tap.ok(not re.search(closed, m.log_since(off)), "no channel was closed "
           "or replaced", m.log_since(off))
    for c in fresh + sess:
        if c:
            c.logout()
    tap.ok(old is not None and T.wait_pid_gone(old, 10),
           "its sessions closed, the draining %s exits" % name)


def test_relay_back(tap, env, m):
    """Workers 2 -> 1 -> 2 while relay 1 drains IMAPS sessions: the new
    relay 1 gets channels of its own, the draining one keeps its own and
    its sessions."""
    off = m.log_size()
    sess, on1 = [], []
    for _ in range(16):
        c = logged_in(m)
        sess.append(c)
        if c is not None and relay_of(m, c, off) == "relay 1":
            on1.append(c)
            if len(on1) == 2:
                break
    tap.ok(all(sess) and on1, "IMAPS sessions logged in, %d of %d on relay "
           "1" % (len(on1), len(sess)), m.log_since(off)[-2000:])
    old = m.child_index("relay").get(1)
    o1 = down_and_up(tap, m, "Workers", "relay 1", old,
                     r"relay 1: no longer needed, draining")
    bad = [d for ok, d in map(works, on1) if not ok]
    tap.ok(on1 and not bad, "the draining relay's IMAPS sessions work on: "
           "NOOP, FETCH", "; ".join(bad) + m.log_since(o1)[-2000:])
    side_by_side(tap, m, old, sess, o1, "relay 1",
                 r"replaces the old|sessions end|channel closed")


def test_tlsd_back(tap, env, m):
    """TLSWorkers 2 -> 1 -> 2 while mmp-tlsd 1 drains: the relays keep
    the draining one's channel, and so its sessions, beside the new
    mmp-tlsd 1's."""
    old = m.child_index("mmp-tlsd").get(1)
    idle = open_fds(old)
    sess = [logged_in(m) for _ in range(SESSIONS)]
    busy = (open_fds(old) - idle) // 2
    tap.ok(all(sess) and busy >= 1, "%d IMAPS sessions logged in, %d in "
           "mmp-tlsd 1" % (len(sess), busy))
    o1 = down_and_up(tap, m, "TLSWorkers", "mmp-tlsd 1", old,
                     r"mmp-tlsd 1 retired by the parent: draining")
    side_by_side(tap, m, old, sess, o1, "mmp-tlsd 1",
                 r"sessions end|closed its channel")
    tap.ok(re.search(r"mmp-tlsd 1 drained: no TLS session left, exiting",
                     m.log_since(o1)), "drained", m.log_since(o1))


def test_workers_down(tap, env, m):
    pids = m.child_index("mmp-tlsd")
    tap.is_(sorted(pids), [0, 1], "TLSWorkers 2: mmp-tlsd 0 and 1 run")
    if 1 not in pids:
        return
    idle = open_fds(pids[1])
    sess = [logged_in(m) for _ in range(SESSIONS)]
    tap.ok(all(sess), "%d IMAPS sessions logged in" % SESSIONS)
    busy = (open_fds(pids[1]) - idle) // 2
    tap.ok(busy >= 1, "mmp-tlsd 1 holds some (%d)" % busy)
    m.conf_a["TLSWorkers"] = 1
    m.write_config()
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"mmp-tlsd 1: no longer needed, draining", off),
           "reload to TLSWorkers 1: the parent drains mmp-tlsd 1",
           m.log_since(off))
    tap.ok(m.wait_log(r"mmp-tlsd 1 retired by the parent: draining %d TLS "
                      r"sessions" % busy, off),
           "mmp-tlsd 1 says it drains its %d sessions" % busy,
           m.log_since(off))
    time.sleep(0.5)
    tap.ok(T.pid_alive(pids[1]), "it lives while they are open")
    bad = [d for ok, d in map(works, sess) if not ok]
    tap.ok(not bad, "every open session works on: NOOP, FETCH",
           "; ".join(bad))
    fresh = [logged_in(m) for _ in range(4)]
    tap.ok(all(fresh), "new IMAPS logins succeed (mmp-tlsd 0 takes them)",
           m.log_since(off)[-2000:])
    tap.ok(not re.search(r"mmp-tlsd is retiring", m.log_since(off)),
           "no handshake went to the retiring mmp-tlsd", m.log_since(off))
    for c in fresh + sess:
        if c:
            c.logout()
    hit = m.wait_log(r"mmp-tlsd 1 \(pid %d\) exited with status 0" %
                     pids[1], off)
    tap.ok(hit, "its last session ended: mmp-tlsd 1 exits 0, the log says "
           "so", m.log_since(off))
    tap.ok(re.search(r"mmp-tlsd 1 drained: no TLS session left, exiting",
                     m.log_since(off)), "and why", m.log_since(off))
    tap.ok(T.wait_pid_gone(pids[1], 5), "the process is gone")
    tap.ok(not re.search(r"mmp-tlsd 1: restarting|mmp-tlsd 1 .*(signal|"
                         r"status [1-9])", m.log_since(off)),
           "and is not restarted", m.log_since(off))
    ok, d = works(fresh[0]) if fresh[0] else (False, "none")
    tap.ok(not ok, "works() fails on a logged-out session: the checks "
           "above can fail", d)


def main(tap):
    T.need_root()
    T.need_binaries()
    T.need_tlsd()
    env = T.Env("tlsreload", tap).setup(stores=("store1",))
    pk = env.get_pki()
    pk._leaf("ca", "server2", "/O=mmptest second/CN=localhost",
             "DNS:localhost,IP:127.0.0.1", "serverAuth")
    with open(pk.path("server.key")) as f:
        lines = f.read().splitlines()
    with open(env.path("garbage.key"), "w") as f:
        f.write("\n".join([lines[0], "bm90IGEga2V5IGF0IGFsbCwgZ2FyYmFnZQ==",
                           lines[-1]]) + "\n")
    os.chmod(env.path("garbage.key"), 0o600)
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice over TLS"))
    env.start_backends()
    m = env.mmpd(tls=True, aservice={"TLSWorkers": 2, "LogLevel": 6})
    m.start()
    m.conf_gen = 2	# after test_swap
    old = logged_in(m)
    if not tap.ok(old is not None, "an IMAPS session logged in"):
        return
    section(tap, "swap", test_swap, env, m, old)
    section(tap, "garbage", test_refused, env, m, old, "garbage key",
            env.path("garbage.key"), "", 2)
    section(tap, "mismatch", test_refused, env, m, old, "mismatch",
            env.pki.path("server2.key"), "does not match", 2)
    section(tap, "good again", test_good_again, env, m, old)
    # Only the sessions it opens itself: mmp-tlsd 1 may hold this one.
    old.logout()
    section(tap, "relay back", test_relay_back, env, m)
    section(tap, "mmp-tlsd back", test_tlsd_back, env, m)
    section(tap, "workers down", test_workers_down, env, m)
    tap.ok(m.alive(), "mmpd runs on")


if __name__ == "__main__":
    T.run(main)
