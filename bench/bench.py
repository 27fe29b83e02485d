#!/usr/bin/env python3
# The benchmark's driver: sets up on loopback a real slapd with many
# users, two Dovecot stores and mmpd (regress/integration/mmptest.py),
# runs bench/loadgen against mmpd and against a store directly (the
# physical limit), and measures from /proc what each target spent: CPU
# (utime + stime of all its processes), memory (Pss, MemAvailable) and
# descriptors. Prints a table and writes JSON. --smoke runs every scenario
# scaled down for a second, against the same targets, so it never rots.

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "regress", "integration"))
import mmptest as T  # noqa: E402

# The sanitizer build's (make asan) when LOADGEN says so.
LOADGEN = os.environ.get("LOADGEN", os.path.join(ROOT, "bench", "loadgen"))
PASSWORD = "bench-pw"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# idle_n: the test stores' Dovecot takes 256 sessions per service; 2,000
# and 10,000 need the Dovecot tuning of a later step (bench/README.md).
FULL = {"users": 2000, "login_c": 50, "secs": 10, "runs": 3,
        "idle_n": 200, "hold": 5, "fetch_c": 3, "fetch_bytes": 10 << 20,
        "lat_secs": 5}
SMOKE = {"users": 20, "login_c": 4, "secs": 1, "runs": 1,
         "idle_n": 20, "hold": 1, "fetch_c": 2, "fetch_bytes": 256 << 10,
         "lat_secs": 1}


def proc_tree():
    """{ppid: [pids]} of every process, from one pass over /proc (a pass
    per process costs seconds on a machine running thousands)."""
    tree = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(d))
    return tree


def descendants(pid, tree=None):
    """pid and every process below it."""
    if tree is None:
        tree = proc_tree()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def cpu_ticks(pids):
    """utime + stime of the live processes, and cutime + cstime: what their
    children that exited spent (a store's per-session processes)."""
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, IndexError, ValueError):
            pass
    return total


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def fds(pids):
    n = 0
    for p in pids:
        try:
            n += len(os.listdir("/proc/%d/fd" % p))
        except OSError:
            pass
    return n


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


# The TLS scenarios' server certificates, one per kind; a client names the
# kind by SNI (KIND.bench.test) where a target serves both on one port.
CERT_KINDS = {"rsa2048": ["-newkey", "rsa:2048"],
              "p256": ["-newkey", "ec", "-pkeyopt",
                       "ec_paramgen_curve:P-256"]}


def bench_certs(directory):
    """Self-signed server certificates for every CERT_KINDS kind, SAN
    KIND.bench.test and 127.0.0.1: {kind: (cert, key)} (paths)."""
    out = {}
    for kind, newkey in CERT_KINDS.items():
        cert = os.path.join(directory, "bench-%s.pem" % kind)
        key = os.path.join(directory, "bench-%s.key" % kind)
        subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30"] +
                       newkey + ["-keyout", key, "-out", cert, "-subj",
                                 "/CN=%s.bench.test" % kind, "-addext",
                                 "subjectAltName=DNS:%s.bench.test,"
                                 "IP:127.0.0.1" % kind],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        os.chmod(key, 0o644)	# read by the peers' unprivileged workers
        out[kind] = (cert, key)
    return out


class Target:
    """Where loadgen connects and whose processes are measured.

    tls_ports: {cert kind: implicit-TLS IMAP port} (loadgen sends SNI
    KIND.bench.test); aux: {name: pids function} of the services a
    target needs beside its own processes (an auth service, slapd),
    measured and shown beside it, never added to its CPU."""

    def __init__(self, name, host, imap_port, pop_port, root_pids,
                 tls_ports=None, aux=None):
        self.name = name
        self.host = host
        self.ports = {"imap": imap_port, "pop3": pop_port}
        self.root_pids = root_pids
        self.tls_ports = tls_ports or {}
        self.aux = aux or {}

    def pids(self):
        out = []
        tree = proc_tree()
        for p in self.root_pids():
            out.extend(descendants(p, tree))
        return out


def loadgen(target, proto, scenario, users, conc, secs, count=None,
            hold_cb=None, user_fmt="bench%d", tls=None):
    """One loadgen run: (its JSON, CPU µs the target spent, extra).
    tls: (port, loadgen's TLS options) instead of the plain port."""
    port = tls[0] if tls else target.ports[proto]
    cmd = [LOADGEN, "-m", proto, "-h", target.host, "-p",
           str(port), "-U", user_fmt, "-W", PASSWORD,
           "-n", str(users), "-c", str(conc), "-s", scenario, "-d",
           str(secs), "-t", "30"]
    if count is not None:
        cmd += ["-N", str(count)]
    if tls:
        cmd += tls[1]
    pids = target.pids()
    t0 = cpu_ticks(pids)
    extra = {}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if hold_cb is not None:
        for line in p.stderr:
            if line.startswith(b"HELD"):
                extra = hold_cb()
                break
    out, err = p.communicate(timeout=secs + 300)
    t1 = cpu_ticks(target.pids())
    try:
        res = json.loads(out.decode())
    except ValueError:
        res = {"error": "loadgen printed no JSON", "stderr":
               err.decode(errors="replace")[-500:], "rc": p.returncode}
    res["rc"] = p.returncode
    return res, (t1 - t0) * 1e6 / CLK_TCK, extra


def median_run(fn, runs):
    results = [fn() for _ in range(runs)]
    results.sort(key=lambda r: r[0].get("rate", 0) or r[0].get("mbps", 0))
    return results[len(results) // 2], results


def scenario_login(target, proto, cfg):
    (res, cpu, _), allr = median_run(
        lambda: loadgen(target, proto, "login", cfg["users"],
                        cfg["login_c"], cfg["secs"]), cfg["runs"])
    ok = res.get("ok", 0)
    return {"logins_per_s": res.get("rate", 0),
            "cpu_us_per_login": cpu / ok if ok else None,
            "p50_us": res.get("lat_us", {}).get("p50"),
            "errors": sum(r[0].get("errors", 1) + r[0].get("failed", 0)
                          for r in allr),
            "runs": [r[0].get("rate", 0) for r in allr]}


def scenario_latency(target, proto, cfg):
    res, _, _ = loadgen(target, proto, "login", cfg["users"], 1,
                        cfg["lat_secs"])
    return {"p50_us": res.get("lat_us", {}).get("p50"),
            "p99_us": res.get("lat_us", {}).get("p99"),
            "errors": res.get("errors", 1) + res.get("failed", 0)}


def scenario_fetch(target, proto, cfg):
    (res, cpu, _), allr = median_run(
        lambda: loadgen(target, proto, "fetch", cfg["fetch_c"],
                        cfg["fetch_c"], cfg["secs"], user_fmt="big%d"),
        cfg["runs"])
    mb = res.get("bytes", 0) / 1e6
    return {"mb_per_s": res.get("mbps", 0),
            "cpu_us_per_mb": cpu / mb if mb else None,
            "errors": sum(r[0].get("errors", 1) + r[0].get("failed", 0)
                          for r in allr)}


def scenario_idle(target, proto, cfg):
    pids = target.pids()
    before = {"pss": pss_kib(pids), "avail": mem_available_kib(),
              "fds": fds(pids)}

    def held():
        p = target.pids()
        return {"pss": pss_kib(p), "avail": mem_available_kib(),
                "fds": fds(p)}

    res, _, during = loadgen(target, proto, "idle", cfg["users"],
                             min(cfg["login_c"] * 4, 200), cfg["hold"],
                             count=cfg["idle_n"], hold_cb=held)
    n = res.get("held", 0)
    out = {"held": n, "errors": res.get("errors", 1) + res.get("failed", 0)}
    if n and during:
        out["pss_kib_per_session"] = (during["pss"] - before["pss"]) / n
        out["kernel_kib_per_session"] = (before["avail"] -
                                         during["avail"]) / n
        out["fds_per_session"] = (during["fds"] - before["fds"]) / n
    return out


# The TLS scenarios: every certificate kind x version, full handshakes and
# resumed ones.
TLS_VERSIONS = ("1.2", "1.3")
TLS_MODES = ("full", "resumed")


def tls_name(kind, ver, mode):
    return "tls_%s_%s_%s" % (kind, ver, mode)


def scenario_tls(target, kind, ver, mode, cfg, plain):
    """IMAPS logins at the plain login scenario's concurrency. The CPU of
    a handshake is that of a TLS login minus that of a plain IMAP login
    of the same invocation (plain: its login_imap figures)."""
    opts = ["-T", "-S", "%s.bench.test" % kind, "-V", ver]
    if mode == "resumed":
        opts.append("-R")
    (res, cpu, _), allr = median_run(
        lambda: loadgen(target, "imap", "login", cfg["users"],
                        cfg["login_c"], cfg["secs"],
                        tls=(target.tls_ports[kind], opts)), cfg["runs"])
    ok = res.get("ok", 0)
    t = res.get("tls", {})
    out = {"logins_per_s": res.get("rate", 0),
           "cpu_us_per_login": cpu / ok if ok else None,
           "cpu_us_per_handshake": None,
           "handshakes": t.get("handshakes", 0),
           "resumed": t.get("resumed", 0),
           "hs_failed": t.get("hs_failed", 0),
           "resumed_share": (t["resumed"] / t["handshakes"]
                             if t.get("handshakes") else None),
           "version": t.get("version"), "cipher": t.get("cipher"),
           "group": t.get("group"),
           "hs_p50_us": t.get("hs_us", {}).get("p50"),
           "hs_p99_us": t.get("hs_us", {}).get("p99"),
           "errors": sum(r[0].get("errors", 1) + r[0].get("failed", 0)
                         for r in allr),
           "runs": [r[0].get("rate", 0) for r in allr]}
    out["plain_cpu_us_per_login"] = plain.get("cpu_us_per_login")
    if out["cpu_us_per_login"] is not None and \
            plain.get("cpu_us_per_login") is not None:
        out["cpu_us_per_handshake"] = (out["cpu_us_per_login"] -
                                       plain["cpu_us_per_login"])
    return out


def scenarios_tls(target, cfg, r):
    """Every TLS scenario of a target that has tls_ports, into r; the
    resumed ones get their handshake CPU's ratio to a full one's."""
    for kind in target.tls_ports:
        for ver in TLS_VERSIONS:
            for mode in TLS_MODES:
                r[tls_name(kind, ver, mode)] = scenario_tls(
                    target, kind, ver, mode, cfg, r.get("login_imap", {}))
            full = r[tls_name(kind, ver, "full")]["cpu_us_per_handshake"]
            res = r[tls_name(kind, ver, "resumed")]
            res["ratio_to_full"] = (res["cpu_us_per_handshake"] / full
                                    if full and res["cpu_us_per_handshake"]
                                    is not None else None)


def tls_certs(env, m, certs):
    """mmpd and the direct store serve both certificate kinds on one
    IMAPS port each, chosen by SNI; returns the port pairs (mmpd, store).
    Before the stores and mmpd start."""
    kinds = list(certs)
    port = T.free_port()
    m.imaps_ports = [port]
    m.conf_imap.update({"SSLEnable": "yes", "SSLPorts": str(port),
                        "SSLCertFile": " ".join(certs[k][0] for k in kinds),
                        "SSLKeyFile": " ".join(certs[k][1] for k in kinds)})
    s1 = env.stores["store1"]
    s1.tls = (certs[kinds[0]], T.free_port([s1.addr]),
              T.free_port([s1.addr]))
    s1.sni_certs = {"%s.bench.test" % k: certs[k] for k in kinds}
    return ({k: port for k in kinds}, {k: s1.tls[1] for k in kinds})


def setup(cfg):
    env = T.Env("bench").setup()
    users = cfg["users"]
    stores = [env.stores["store1"], env.stores["store2"]]
    for i in range(users):
        store = stores[i % 2]
        env.slapd.add_user("bench%d" % i, PASSWORD, "%s.mmp.test" %
                           store.name)
        store.users["bench%d" % i] = PASSWORD
        store.home("bench%d" % i)
    big = T.message("big", size=cfg["fetch_bytes"], crlf=True)
    for i in range(cfg["fetch_c"]):
        env.slapd.add_user("big%d" % i, PASSWORD, "store1.mmp.test")
        stores[0].users["big%d" % i] = PASSWORD
        stores[0].seed("big%d" % i, big)
    for s in stores:
        s._write_passwd()
    m = env.mmpd(imap={"LogLevel": 5}, pop={"LogLevel": 5},
                 aservice={"LogLevel": 5})
    env.bench_tls = tls_certs(env, m, bench_certs(env.path()))
    env.start_backends()
    m.start()
    return env, m


def targets(env, m):
    s1 = env.stores["store1"]
    # The direct store: all users of store1 exist on it (odd ones too,
    # for the measurement: they are on store2 only in LDAP).
    s2 = env.stores["store2"]
    for u, pw in s2.users.items():
        s1.users.setdefault(u, pw)
        s1.home(u)
    s1._write_passwd()
    return [Target("mmpd", m.host, m.imap_ports[0], m.pop_ports[0],
                   lambda: [m.pid], tls_ports=env.bench_tls[0]),
            Target("store", s1.addr, s1.imap_port, s1.pop_port,
                   lambda: [s1.pid] if s1.pid else [],
                   tls_ports=env.bench_tls[1])]


def run(cfg, tls_only=False):
    """tls_only: the plain IMAP login (the TLS figures subtract it) and
    the TLS scenarios only."""
    env, m = setup(cfg)
    results = {"machine": {"cpus": os.cpu_count(),
                           "mem_available_kib": mem_available_kib()},
               "config": cfg, "targets": {}}
    for t in targets(env, m):
        r = {}
        for proto in ("imap",) if tls_only else ("imap", "pop3"):
            r["login_" + proto] = scenario_login(t, proto, cfg)
        if not tls_only:
            r["latency_imap"] = scenario_latency(t, "imap", cfg)
            r["fetch_imap"] = scenario_fetch(t, "imap", cfg)
            r["fetch_pop3"] = scenario_fetch(t, "pop3", cfg)
            r["idle_imap"] = scenario_idle(t, "imap", cfg)
        scenarios_tls(t, cfg, r)
        results["targets"][t.name] = r
    m.stop()
    return results


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        # Shares and ratios (the resumed/full target is 0.3) need two.
        return ("%.2f%s" if abs(v) < 10 else "%.1f%s") % (v, unit)
    return "%s%s" % (v, unit)


def table(results):
    rows = [("logins/s IMAP", "login_imap", "logins_per_s"),
            ("CPU us/login IMAP", "login_imap", "cpu_us_per_login"),
            ("logins/s POP3", "login_pop3", "logins_per_s"),
            ("CPU us/login POP3", "login_pop3", "cpu_us_per_login"),
            ("login p50 us, C=1", "latency_imap", "p50_us"),
            ("FETCH MB/s", "fetch_imap", "mb_per_s"),
            ("FETCH CPU us/MB", "fetch_imap", "cpu_us_per_mb"),
            ("RETR MB/s", "fetch_pop3", "mb_per_s"),
            ("RETR CPU us/MB", "fetch_pop3", "cpu_us_per_mb"),
            ("idle: Pss KiB/session", "idle_imap", "pss_kib_per_session"),
            ("idle: kernel KiB/session", "idle_imap",
             "kernel_kib_per_session"),
            ("idle: fds/session", "idle_imap", "fds_per_session")]
    names = list(results["targets"])
    lines = ["%-26s" % "figure" + "".join("%14s" % n for n in names)]
    for label, sc, key in rows + tls_rows(results):
        if not any(sc in results["targets"][n] for n in names):
            continue	# not run (--tls-only)
        lines.append("%-26s" % label + "".join(
            "%14s" % fmt(results["targets"][n].get(sc, {}).get(key))
            for n in names))
    return "\n".join(lines)


def tls_rows(results):
    """Table rows of the TLS scenarios any target ran."""
    ran = set()
    for r in results["targets"].values():
        ran.update(k for k in r if k.startswith("tls_"))
    rows = []
    for kind in CERT_KINDS:
        for ver in TLS_VERSIONS:
            full = tls_name(kind, ver, "full")
            res = tls_name(kind, ver, "resumed")
            if full not in ran:
                continue
            p = "%s %s " % (kind, ver)
            rows += [(p + "logins/s", full, "logins_per_s"),
                     (p + "us/login", full, "cpu_us_per_login"),
                     (p + "us/handshake", full, "cpu_us_per_handshake"),
                     (p + "res logins/s", res, "logins_per_s"),
                     (p + "res us/hs", res, "cpu_us_per_handshake"),
                     (p + "res share", res, "resumed_share"),
                     (p + "res/full", res, "ratio_to_full")]
    return rows


def errors(results):
    """Scenario runs that had errors, as 'target scenario' strings."""
    bad = []
    for n, r in results["targets"].items():
        for sc, v in r.items():
            if v.get("errors"):
                bad.append("%s %s: %s" % (n, sc, v))
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--tls-only", action="store_true",
                    help="plain IMAP logins and the TLS scenarios only")
    args = ap.parse_args()
    if not os.access(LOADGEN, os.X_OK):
        sys.exit("bench: %s is missing: make bench-tools" % LOADGEN)
    results = run(SMOKE if args.smoke else FULL, args.tls_only)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    bad = errors(results)
    for b in bad:
        print("bench: errors in " + b, file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
