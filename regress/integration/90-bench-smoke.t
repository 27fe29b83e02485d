#!/usr/bin/env python3
# The benchmark, scaled down (bench/bench.py --smoke, what `make
# bench-smoke` runs): every scenario against mmpd and against a store
# directly, for a second each, so that `make bench` never rots; here also
# against the reference target "floor" (bench/floor.c). Checks
# that every scenario ran without an error and measured something; the
# figures themselves are the benchmark's business, never a test's. One
# count is checked: an idle session costs mmpd (and the floor) two
# descriptors, no pipe.
# The IMAPS logins (each certificate kind x TLS 1.2 and 1.3, full and
# resumed handshakes) must log in with the version asked for, and the
# resumed runs against mmpd must have resumed every handshake but the
# first (loadgen counts SSL_session_reused; with -R the others wait for
# the first to end), the full runs none. And mmpd's epoll_ctl
# calls per login, counted with strace, stay few.

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "bench", "bench.py")
COMPARE = os.path.join(ROOT, "bench", "compare.py")
LOADGEN = os.environ.get("LOADGEN", os.path.join(ROOT, "bench", "loadgen"))


def main(tap):
    T.need_root()
    if not os.access(LOADGEN, os.X_OK):
        tap.ok(False, "bench/loadgen is built (make bench-tools)")
        return
    env = T.Env("bench-smoke", tap)
    out = env.path("bench.json")
    r = subprocess.run([sys.executable, BENCH, "--smoke", "--targets",
                        "mmpd,floor,store", "--json", out],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    text = r.stdout.decode(errors="replace")
    tap.is_(r.returncode, 0, "bench.py --smoke exits 0") or tap.diag(text)
    try:
        with open(out) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        tap.ok(False, "bench.py wrote its JSON: %s" % e, text)
        return
    for name in ("mmpd", "floor", "store"):
        t = res["targets"].get(name, {})
        for proto in ("imap", "pop3"):
            lg = t.get("login_" + proto, {})
            tap.ok(lg.get("logins_per_s", 0) > 0 and not lg.get("errors"),
                   "%s: %s logins measured, no error" % (name, proto),
                   repr(lg))
            fe = t.get("fetch_" + proto, {})
            tap.ok(fe.get("mb_per_s", 0) > 0 and not fe.get("errors"),
                   "%s: %s message relay measured" % (name, proto),
                   repr(fe))
            # loadgen -r said what it offered; whether it was achieved
            # is the benchmark's business (a timing), not the smoke's.
            fr = t.get("fetch_rate_" + proto, {})
            tap.ok(fr.get("mb_per_s", 0) > 0 and
                   fr.get("cpu_us_per_mb") is not None and
                   fr.get("offered_mb_per_s", 0) > 0 and
                   not fr.get("errors"),
                   "%s: %s relay at a fixed offered rate measured" %
                   (name, proto), repr(fr))
        la = t.get("latency_imap", {})
        tap.ok(la.get("p50_us") and not la.get("errors"),
               "%s: login latency at C=1 measured" % name, repr(la))
        idle = t.get("idle_imap", {})
        tap.ok(idle.get("held") == res["config"]["idle_n"] and
               "pss_kib_per_session" in idle and
               "kobj_kib_per_session" in idle and not idle.get("errors"),
               "%s: %d idle sessions held and measured" %
               (name, res["config"]["idle_n"]), repr(idle))
    # The latency rounds pair each proxy's run with the store's.
    la = res["targets"].get("mmpd", {}).get("latency_imap", {})
    tap.ok(isinstance(la.get("added_p50_us"), (int, float)),
           "mmpd: the latency added over the direct store is measured",
           repr(la))
    # Not a figure but a count: an idle relayed session holds its two
    # sockets and no pipe (pump.c, and floor.c alike, take one only while
    # bytes move).
    for name in ("mmpd", "floor"):
        idle = res["targets"].get(name, {}).get("idle_imap", {})
        tap.ok(idle.get("fds_per_session") is not None and
               idle["fds_per_session"] <= 2.0, "%s: at most 2 descriptors "
               "per idle session" % name, repr(idle))
    sc = res["targets"].get("floor", {}).get("syscalls_imap", {})
    tap.ok(sc.get("syscalls_per_login") and sc.get("logins"),
           "floor: system calls per login counted", repr(sc))
    tap.ok(res["targets"].get("mmpd", {}).get("login_imap", {}).get(
        "cpu_us_per_login"), "mmpd's CPU per login is measured",
        repr(res["targets"].get("mmpd")))
    syscall_checks(tap, res)
    tls_checks(tap, res)
    compare_checks(tap, env, res, out)
    tap.like(text, r"figure\s+mmpd\s+floor\s+store\s+mmpd/peer\s+"
             r"mmpd/store\s+mmpd/floor", "the table is printed, with the "
             "floor and mmpd's ratio to it")


def compare_checks(tap, env, res, out):
    """bench/compare.py on this run's JSON: a run is not worse than
    itself; a cost up or a rate down by more than the allowance is, by
    less is not, and noise widens the allowance."""
    def run(old, new):
        r = subprocess.run([sys.executable, COMPARE, old, new],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        return r.returncode, r.stdout.decode(errors="replace")

    def variant(name, sc, key, factor, spread):
        v = json.loads(json.dumps(res))
        fig = v["targets"]["mmpd"][sc]
        fig[key] = base[sc][key] * factor
        fig.setdefault("spread", {})[key] = [fig[key] * (1 - spread),
                                             fig[key] * (1 + spread)]
        path = env.path(name + ".json")
        with open(path, "w") as f:
            json.dump(v, f)
        return path

    base = res["targets"]["mmpd"]
    rc, text = run(out, out)
    tap.is_(rc, 0, "compare.py: a run is not worse than itself") or \
        tap.diag(text)
    quiet = variant("quiet", "login_imap", "cpu_us_per_login", 1.0, 0.005)
    for name, sc, key, factor, spread, want, what in (
            ("cpu-up", "login_imap", "cpu_us_per_login", 1.08, 0.005, 1,
             "8% more CPU per login, 1% noise: worse"),
            ("cpu-little", "login_imap", "cpu_us_per_login", 1.04, 0.005, 0,
             "4% more CPU per login: within 5%"),
            ("cpu-noisy", "login_imap", "cpu_us_per_login", 1.08, 0.05, 0,
             "8% more CPU per login with 10% noise: within the noise"),
            ("rate-down", "login_pop3", "logins_per_s", 0.9, 0.005, 1,
             "10% fewer POP3 logins/s: worse")):
        old = quiet if sc == "login_imap" else variant(
            "quiet-" + sc, sc, key, 1.0, 0.005)
        rc, text = run(old, variant(name, sc, key, factor, spread))
        tap.is_(rc, want, "compare.py: " + what) or tap.diag(text)
    # Two invocations of the old build 12% apart: their distance is noise.
    apart = variant("apart", "login_imap", "cpu_us_per_login", 1.12, 0.005)
    up = variant("cpu-up15", "login_imap", "cpu_us_per_login", 1.15, 0.005)
    rc, text = run(quiet, up)
    tap.is_(rc, 1, "compare.py: 15% more CPU per login against one "
            "invocation: worse") or tap.diag(text)
    rc, text = run(quiet + "," + apart, up)
    tap.is_(rc, 0, "compare.py: the same against two invocations 12% "
            "apart: within their noise") or tap.diag(text)


# A count, not a figure: a login writes first and waits with epoll only for
# what cannot go at once, so mmpd adds and removes an event for the two
# sockets of a session and little more (4 per login when this was written;
# every reply, imsg or store step that went back to watch-then-write
# would add two).
EPOLL_CTL_MAX = 6


def syscall_checks(tap, res):
    for proto in ("imap", "pop3"):
        sc = res["targets"].get("mmpd", {}).get("syscalls_" + proto, {})
        tap.ok(sc.get("syscalls_per_login") and sc.get("logins"),
               "mmpd: system calls per %s login counted (strace -c -f; "
               "make deps installs strace)" % proto, repr(sc))
        tap.ok(sc.get("epoll_ctl_per_login") is not None and
               sc["epoll_ctl_per_login"] <= EPOLL_CTL_MAX,
               "mmpd: at most %d epoll_ctl per %s login" %
               (EPOLL_CTL_MAX, proto), repr(sc))


def tls_checks(tap, res):
    kinds = ("rsa2048", "p256")
    for name, t in sorted(res["targets"].items()):
        if name == "floor":
            continue	# plain only: it has no TLS ports
        for kind in kinds:
            for ver in ("1.2", "1.3"):
                for mode in ("full", "resumed"):
                    sc = "tls_%s_%s_%s" % (kind, ver, mode)
                    r = t.get(sc, {})
                    tap.ok(r.get("logins_per_s", 0) > 0 and
                           not r.get("errors") and
                           r.get("version") == "TLSv" + ver,
                           "%s: IMAPS logins, %s" % (name, sc), repr(r))
    t = res["targets"].get("mmpd", {})
    for kind in kinds:
        for ver in ("1.2", "1.3"):
            full = t.get("tls_%s_%s_full" % (kind, ver), {})
            tap.ok(full.get("handshakes", 0) > 0 and
                   full.get("resumed") == 0,
                   "mmpd: %s TLS %s without -R: full handshakes only" %
                   (kind, ver), repr(full))
            # A TLS 1.3 client marks the session it resumed spent when
            # the new ticket comes: loadgen offers each connection a copy.
            r = t.get("tls_%s_%s_resumed" % (kind, ver), {})
            n = r.get("handshakes", 0)
            tap.ok(n > 1 and r.get("resumed") == n - 1,
                   "mmpd: %s TLS %s with -R: every handshake but the first "
                   "resumed (%s of %s)" % (kind, ver, r.get("resumed"), n),
                   repr(r))


if __name__ == "__main__":
    T.run(main)
