#!/usr/bin/env python3
# Where mmpd's CPU per IMAPS login goes (bench/README.md, the TLS
# reading): the bench's setup, then for each certificate kind x TLS
# version x full/resumed one loadgen run, with the CPU of each of mmpd's
# processes (parent, relays, mmp-ldapd, mmp-tlsd) per login from /proc,
# and, with --perf, `perf record -e cpu-clock` on the mmp-tlsd processes
# (software clock: this machine's VM has no hardware counters), its
# samples split by shared object and symbol; with --strace, `strace -c`
# on mmp-tlsd and on the other processes: system calls per login (counts,
# which a busy machine does not change). --target nginx does the same
# for nginx's mail proxy on the same setup (its workers in mmp-tlsd's
# place): the side by side of where a handshake's CPU goes. Not part of
# `make bench`.

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench as B  # noqa: E402


# The processes that hold the TLS sessions: mmpd's mmp-tlsd, nginx's
# workers (each does its own TLS).
TLS_PROCS = ("mmp-tlsd", "nginx: worker process")


def ticks_by_name(pids):
    out = {}
    for p in pids:
        n = B.proc_name(p)
        if n is not None:
            out[n] = out.get(n, 0) + B.cpu_ticks([p])
    return out


def perf_split(data, what):
    r = subprocess.run(["perf", "report", "-i", data, "--stdio",
                        "--sort", what, "--percent-limit", "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return [line for line in r.stdout.decode(errors="replace").splitlines()
            if line.strip() and not line.startswith("#")]


def strace_start(pids, path):
    cmd = ["strace", "-c", "-f", "-o", path]
    for p in pids:
        cmd += ["-p", str(p)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def strace_counts(path):
    """{syscall: calls} of a strace -c summary."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) >= 5 and w[0][0].isdigit() and w[-1] != "total":
                    out[w[-1]] = int(w[3])
    except OSError:
        pass
    return out


def perf_start(pids, data):
    """perf record -e cpu-clock on pids into data (software clock: no
    hardware counters in this VM)."""
    return subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-o",
                             data, "-p", ",".join(str(p) for p in pids)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def tracers_stop(perf, traces):
    for p in ([perf] if perf is not None else []) + [t[2] for t in traces]:
        p.send_signal(2)
        p.wait(timeout=60)


def print_counts(traces, ok, top_n):
    """Each (label, strace -c file, _): its system calls per login."""
    for label, path, _ in traces:
        c = strace_counts(path)
        top = sorted(c.items(), key=lambda kv: -kv[1])[:top_n]
        print("    system calls per login, %s: %.1f (%s)" % (
            label, sum(c.values()) / ok,
            ", ".join("%s %.1f" % (k, v / ok) for k, v in top)))


def one(target, kind, ver, mode, cfg, use_perf, outdir, use_strace=False):
    """kind None: plain IMAP logins."""
    opts = ["-T", "-S", "%s.bench.test" % kind, "-V", ver]
    if mode == "resumed":
        opts.append("-R")
    tls = (target.tls_ports[kind], opts) if kind else None
    pids = target.pids()
    tlsd = [p for p in pids if B.proc_name(p) in TLS_PROCS]
    before = ticks_by_name(pids)
    perf = None
    data = os.path.join(outdir, "perf-%s-%s-%s-%s.data" % (
        target.name, kind, ver, mode))
    if use_perf and tlsd and kind:
        perf = perf_start(tlsd, data)
    traces = []
    if use_strace:
        others = [p for p in pids if p not in tlsd]
        for group, gp in (("TLS", tlsd), ("the others", others)):
            if gp:
                path = os.path.join(outdir, "strace-%s-%s-%s-%s-%s" % (
                    target.name, kind, ver, mode, group.replace(" ", "")))
                traces.append((group, path, strace_start(gp, path)))
        time.sleep(1)	# attached
    res = B.loadgen(target, "imap", "login", cfg["users"],
                          cfg["login_c"], cfg["secs"], tls=tls)[0]
    tracers_stop(perf, traces)
    after = ticks_by_name(target.pids())
    ok = res.get("ok", 0) or 1
    per = {n: (after.get(n, 0) - before.get(n, 0)) * 1e6 / B.CLK_TCK / ok
           for n in after}
    t = res.get("tls", {})
    print("%s %s %s: %d logins, %d of %d handshakes resumed; CPU us per "
          "login: %s" % (kind, ver, mode, res.get("ok", 0),
                         t.get("resumed", 0), t.get("handshakes", 0),
                         ", ".join("%s %.0f" % kv for kv in
                                   sorted(per.items()))))
    print_counts(traces, ok, 8)
    if perf is not None:
        for what in ("dso", "dso,sym"):
            for line in perf_split(data, what)[:25]:
                print("    " + line)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--secs", type=float, default=10)
    ap.add_argument("--conc", type=int, default=20,
                    help="connections in flight (the bench's is 50)")
    ap.add_argument("--out", default="/tmp/tlsprof",
                    help="where the perf data files are kept")
    ap.add_argument("--target", default="mmpd", choices=("mmpd", "nginx"),
                    help="whose processes: mmpd's or nginx's (same setup)")
    ap.add_argument("--only", default=None,
                    help="comma-separated runs, e.g. rsa2048-1.3-resumed")
    args = ap.parse_args()
    only = args.only.split(",") if args.only else None
    os.makedirs(args.out, exist_ok=True)
    cfg = dict(B.SMOKE)
    cfg.update({"users": 200, "login_c": args.conc, "secs": args.secs})
    B.T.install_signal_handlers()
    env = B.setup(cfg)
    target = B.targets(env, [args.target])[0]
    one(target, None, "-", "plain", cfg, False, args.out, args.strace)
    for kind in target.tls_ports:
        for ver in B.TLS_VERSIONS:
            for mode in B.TLS_MODES:
                if only is None or "%s-%s-%s" % (kind, ver, mode) in only:
                    one(target, kind, ver, mode, cfg, args.perf, args.out,
                        args.strace)


if __name__ == "__main__":
    main()
