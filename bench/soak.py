#!/usr/bin/env python3
# The soak of issue 18 (part 5), recorded in bench/README.md, never in
# make check: mmpd as bench.py sets it up (a real slapd, two Dovecot
# stores), then
#
#   warm-up  a login storm (IMAP and POP3) for WARMUP seconds, N idle
#            sessions held and closed: every table a process keeps for
#            its life grows to its size; then "after warm-up" is taken;
#   soak     N idle sessions held while a login storm runs for MINUTES,
#            then closed: "after soak" is taken once the descriptors
#            are back (at most 120 s) and the relays' trim delay passed.
#
# Each snapshot, per process of mmpd's tree (the parent, each relay,
# mmp-ldapd, each mmp-tlsd, the statistics process): Pss, private memory
# (Private_Clean + Private_Dirty: Pss moves with other processes' use of
# the shared libraries), heap Rss and descriptors. Passed when after soak
# the tree's private memory is within 10 % of after warm-up, every
# process has the descriptors it had then (but the
# pipes a relay keeps for splice, PUMP_POOL_MAX of them at most), every
# session the soak held was still held at its end (none lost), and the
# log has no line of level warning or worse but those named in EXPECTED.
#
#     python3 bench/soak.py [-n 10000] [-m 10] [-w 60] [--json FILE]

import argparse
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

# Lines of level warning or worse that a soak may log, with why.
EXPECTED = []
# Trim delay of the relays (mmpd/rsession.c, TRIM_DELAY_SEC) and more.
SETTLE = 8
# A relay keeps up to PUMP_POOL_MAX (mmpd/pump.h) pipes for splice(2)
# between sessions: so many descriptors may come and go.
PIPE_POOL_FDS = 2 * 64
LEVELS = ("emerg", "alert", "crit", "error", "warning")


def fd_kinds(pid):
    """(pipes, other descriptors) of a process; its standard input,
    output and error count as other, whatever they are."""
    pipes = other = 0
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return 0, 0
    for n in names:
        try:
            what = os.readlink("/proc/%d/fd/%s" % (pid, n))
        except OSError:
            continue
        if what.startswith("pipe:") and int(n) > 2:
            pipes += 1
        else:
            other += 1
    return pipes, other


def snapshot(t):
    procs = []
    for p in t.pids():
        k = B.proc_name(p)
        if k is None:
            continue
        pipes, other = fd_kinds(p)
        procs.append({"pid": p, "kind": k, "pss": B.pss_kib([p]),
                      "private": B.T.private_kib(p),
                      "heap": B.heap_rss(p), "fds": pipes + other,
                      "pipes": pipes, "other_fds": other})
    procs.sort(key=lambda x: (x["kind"], x["pid"]))
    return {"time": time.time(), "procs": procs,
            "pss": sum(x["pss"] for x in procs),
            "private": sum(x["private"] for x in procs),
            "fds": sum(x["fds"] for x in procs)}


def settle(t, before, secs=120):
    end = time.time() + secs
    while time.time() < end and snapshot(t)["fds"] > before["fds"]:
        time.sleep(1)
    time.sleep(SETTLE)
    return snapshot(t)


def storm(t, users, secs, results):
    """IMAP and POP3 logins, one loadgen each, for secs."""
    def one(proto):
        res, us, aux, _ = B.loadgen(t, proto, "login", users, 25, secs)
        results[proto] = {"logins": res.get("ok"),
                          "errors": B.run_errors(res),
                          "cpu_s": round(us / 1e6, 1)}
    th = [threading.Thread(target=one, args=(p,)) for p in ("imap", "pop3")]
    for x in th:
        x.start()
    for x in th:
        x.join()


def hold(t, users, n, secs, during=None):
    """n idle IMAP sessions held for secs after all are logged in; during
    (if any) runs once they are, and its result is returned too."""
    res, _, _, extra = B.loadgen(t, "imap", "idle", users, 200, secs,
                                 count=n, hold_cb=during)
    return res, extra


def log_findings(text, levels):
    """Lines of level warning or worse, numbers folded: {shape: count};
    levels gets the count of lines of each level."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\S+ \[(\w+)\] (.*)", line)
        if m:
            levels[m.group(1)] = levels.get(m.group(1), 0) + 1
        if not m or m.group(1) not in LEVELS:
            continue
        shape = re.sub(r"\d+", "N", m.group(2))
        if any(re.search(e, shape) for e in EXPECTED):
            continue
        out[shape] = out.get(shape, 0) + 1
    return out


def table(rows):
    print("%-22s %9s %9s %9s %6s %6s" % ("", "Pss KiB", "priv. KiB",
                                          "heap KiB", "fds", "pipes"))
    for name, s in rows:
        print("%-22s %9d %9d %9d %6d %6d" % (
            name, s["pss"], s["private"], sum(p["heap"] for p in s["procs"]),
            s["fds"], sum(p["pipes"] for p in s["procs"])))
        for p in s["procs"]:
            print("  %-20s %9d %9d %9d %6d %6d" % (
                "%s %d" % (p["kind"][:14], p["pid"]), p["pss"], p["private"],
                p["heap"], p["fds"], p["pipes"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000, help="idle sessions")
    ap.add_argument("-m", type=float, default=10, help="storm minutes")
    ap.add_argument("-w", type=int, default=60, help="warm-up storm s")
    ap.add_argument("--json", help="write the results there")
    a = ap.parse_args()
    cfg = dict(B.FULL, idle_big=a.n)
    storm_s = int(a.m * 60)

    env = B.setup(cfg)
    t = B.targets(env, ["mmpd"])[0]
    m = t.mmpd
    r = {"n": a.n, "storm_s": storm_s, "warmup_s": a.w,
         "calibration": [B.calibrate()]}
    try:
        rows = [("started", snapshot(t))]
        # Warm-up.
        wu = {}
        storm(t, cfg["users"], a.w, wu)
        res, _ = hold(t, cfg["users"], a.n, 5)
        r["warmup"] = {"storm": wu, "held": res.get("held"),
                       "errors": B.run_errors(res)}
        B.quiesce(env)
        warm = settle(t, rows[0][1])
        rows.append(("after warm-up", warm))
        log_off = m.log_size()

        # The soak: held sessions while the storm runs.
        soak = {}

        def during():
            s0 = snapshot(t)
            storm(t, cfg["users"], storm_s, soak)
            return {"held_start": s0, "held_end": snapshot(t)}
        res, extra = hold(t, cfg["users"], a.n, storm_s + 30, during)
        r["soak"] = {"storm": soak, "held": res.get("held"),
                     "errors": B.run_errors(res)}
        if extra:
            rows.append(("held, storm starts", extra["held_start"]))
            rows.append(("held, storm ended", extra["held_end"]))
        B.quiesce(env)
        after = settle(t, warm)
        rows.append(("after soak", after))
        r["log_levels"] = {}
        r["log"] = log_findings(m.log_since(log_off), r["log_levels"])
        r["calibration"].append(B.calibrate())
    finally:
        m.stop()
        env.cleanup()

    r["rows"] = rows
    growth = (after["private"] - warm["private"]) / warm["private"] * 100
    pss_growth = (after["pss"] - warm["pss"]) / warm["pss"] * 100
    # Every descriptor but a relay's pooled pipes is back as it was.
    wfds = {(p["kind"], p["pid"]): p["other_fds"] for p in warm["procs"]}
    wpipes = {(p["kind"], p["pid"]): p["pipes"] for p in warm["procs"]}
    # A relay's own pipes, before its pool had any.
    spipes = {(p["kind"], p["pid"]): p["pipes"] for p in rows[0][1]["procs"]}
    fd_diff = {}
    for p in after["procs"]:
        k = (p["kind"], p["pid"])
        if wfds.get(k) != p["other_fds"] or p["pipes"] > (
                spipes.get(k, 0) + PIPE_POOL_FDS if "relay" in p["kind"]
                else wpipes.get(k)):
            fd_diff["%s %d" % k] = {"other_before": wfds.get(k),
                                    "other_after": p["other_fds"],
                                    "pipes_after": p["pipes"]}
    if {k for k in wfds} != {(p["kind"], p["pid"]) for p in
                             after["procs"]}:
        fd_diff["processes"] = "not the same processes as after warm-up"
    r["private_growth_pct"] = round(growth, 2)
    r["pss_growth_pct"] = round(pss_growth, 2)
    r["fd_changes"] = fd_diff
    r["passed"] = (abs(growth) <= 10 and not fd_diff and
                   r["soak"]["held"] == a.n and not r["log"] and
                   sum(r["log_levels"].values()) > 0 and
                   r["soak"]["errors"] == 0)
    table(rows)
    print("storm: %s" % json.dumps(r["soak"]["storm"]))
    print("held at the end of the soak: %s of %d" % (r["soak"]["held"], a.n))
    print("after soak against after warm-up: private %+.2f %%, Pss %+.2f %%"
          % (growth, pss_growth))
    print("descriptors changed: %s" % (fd_diff or "none"))
    print("log lines during the soak, by level: %s" % r["log_levels"])
    print("log lines of level warning or worse: %s" % (r["log"] or "none"))
    print("calibration (s): %s" % r["calibration"])
    print("PASSED" if r["passed"] else "FAILED")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0 if r["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
