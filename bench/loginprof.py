#!/usr/bin/env python3
# Where a plain login's CPU goes, by process, in mmpd and in the peers
# (bench/README.md, "Where a login's CPU goes"): the bench's setup, then
# per target one loadgen run of IMAP (and POP3) logins with, for each of
# the target's processes, the CPU per login from /proc; with --strace the
# system calls per login of each process kind (strace -c, one tracer per
# kind: counts, which a busy machine does not change); with --perf a
# `perf record -e cpu-clock` over all of the target's processes (software
# clock: no hardware counters in this VM), the samples split into the
# kernel and user space, and by shared object. Not part of `make bench`.
#   python3 bench/loginprof.py [--targets mmpd,nginx] [--perf] [--strace]

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench as B  # noqa: E402
import tlsprof as P  # noqa: E402


def kind_of(pid):
    """A process's kind: its program with "-P relay" and the like, or
    nginx's "master process" / "worker process" title."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    if argv0.startswith("nginx: "):
        return "nginx " + argv0.split()[1]
    return B.proc_name(pid)


def by_kind(pids):
    out = {}
    for p in pids:
        k = kind_of(p)
        if k is not None:
            out.setdefault(k, []).append(p)
    return out


def perf_shares(data):
    """(kernel %, {dso: %}) of a perf.data's samples."""
    rows = P.perf_split(data, "dso")
    dsos, kernel = {}, 0.0
    for line in rows:
        w = line.split()
        if len(w) >= 2 and w[0].endswith("%"):
            pct = float(w[0][:-1])
            dsos[w[1]] = pct
            if w[1].startswith("[kernel"):
                kernel += pct
    return kernel, dsos


def one(target, proto, cfg, use_perf, use_strace, outdir):
    pids = target.pids()
    kinds = by_kind(pids)
    before = {k: B.cpu_ticks(v) for k, v in kinds.items()}
    traces, perf = [], None
    if use_strace:
        for k, v in kinds.items():
            path = os.path.join(outdir, "strace-%s-%s-%s" % (
                target.name, proto, k.replace(" ", "").replace("/", "")))
            traces.append((k, path, P.strace_start(v, path)))
        time.sleep(1)
    data = os.path.join(outdir, "perf-%s-%s.data" % (target.name, proto))
    if use_perf:
        perf = P.perf_start(pids, data)
        time.sleep(1)
    res, cpu, aux, _ = B.loadgen(target, proto, "login", cfg["users"],
                                 cfg["login_c"], cfg["secs"])
    P.tracers_stop(perf, traces)
    ok = res.get("ok", 0) or 1
    us = 1e6 / B.CLK_TCK / ok
    after = by_kind(target.pids())
    print("%s %s: %d logins (%.1f/s), CPU us per login %.0f: %s%s" % (
        target.name, proto, res.get("ok", 0), res.get("rate", 0), cpu / ok,
        ", ".join("%s %.0f" % (k, (B.cpu_ticks(v) - before.get(k, 0)) * us)
                  for k, v in sorted(after.items())),
        "".join("; beside: %s %.0f" % (k, v / ok)
                for k, v in sorted(aux.items()))))
    P.print_counts(traces, ok, 10)
    if perf is not None:
        kernel, dsos = perf_shares(data)
        print("    perf: kernel %.0f%% of the samples; by object: %s" % (
            kernel, ", ".join("%s %.0f%%" % kv for kv in
                              sorted(dsos.items(), key=lambda kv: -kv[1]))))
        for line in P.perf_split(data, "sym")[:15]:
            print("    " + line)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="mmpd,nginx")
    ap.add_argument("--protos", default="imap,pop3")
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--out", default="/tmp/loginprof")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cfg = dict(B.SMOKE)
    cfg.update({"users": 500, "login_c": 50, "secs": args.secs})
    names = args.targets.split(",")
    if set(names) & set(B.PEERS):
        B.peers.need_peers()
    env = B.setup(cfg)
    try:
        for t in B.targets(env, names):
            # every user once: mmpd's LdapCache as in steady state
            B.loadgen(t, "imap", "login", cfg["users"], 50, 3)
            for proto in args.protos.split(","):
                one(t, proto, cfg, args.perf, args.strace, args.out)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
