# The benchmark's driver: sets up on loopback a real slapd with many
# users, two Dovecot stores, mmpd and its peers on the same directory and
# stores (the nginx mail proxy with an auth_http service, a Dovecot proxy:
# bench/peers.py), runs bench/loadgen against each and against a store
# directly (the physical limit), and measures from /proc what each target
# spent: CPU (utime + stime of all its processes; the services a target
# needs beside it, slapd and nginx's auth service, shown beside, never
# added), memory (Pss, MemAvailable) and descriptors. Every figure is the
# median of repeated runs, with their spread and a CPU calibration loop
# timed at start and end for the machine's noise. Prints a table with
# ratios to the best peer, the store and the floor (bench/floor.c, the
# cheapest proxy for the same work), and writes JSON. --smoke runs
# every scenario scaled down for a second against mmpd and the store only,
# so it never rots.

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "regress", "integration"))
import mmptest as T  # noqa: E402
import syscalls  # noqa: E402
import peers  # noqa: E402

# The sanitizer build's (make asan) when LOADGEN says so.
LOADGEN = os.environ.get("LOADGEN", os.path.join(ROOT, "bench", "loadgen"))
# The reference target "floor" (bench/floor.c), beside loadgen.
FLOOR = os.path.join(os.path.dirname(LOADGEN), "floor")
PASSWORD = "bench-pw"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# idle_n sessions held (runs times), then idle_big once (10,000: minutes
# of logins at the stores' rate, and the memory a store needs for them).
# settle: seconds after the last held session closed before "left after
# close" is measured: mmpd's relays trim their heap at most once per 5 s
# (mmpd/rsession.c, TRIM_DELAY_SEC).
# fetch_rate: the rate (bytes/s, MB = 10^6 as loadgen's mbps) offered by
# the fetch_c sessions of the fetch_rate scenario, one every target keeps
# up with on 2 cores (the slowest, RETR straight from the store, went 75
# MB/s with all the CPU); keep_up: the share of it a run must achieve, or
# it is an error (none in the smoke: it measures, it times nothing).
FULL = {"users": 2000, "login_c": 50, "secs": 10, "runs": 3,
        "idle_n": 2000, "idle_big": 10000, "hold": 5, "fetch_c": 3,
        "fetch_bytes": 10 << 20, "lat_secs": 5,
        "syscall_secs": 4, "fetch_rate": 40 * 10 ** 6, "keep_up": 0.95,
        "settle": 6}
SMOKE = {"users": 20, "login_c": 4, "secs": 1, "runs": 1,
         "idle_n": 20, "idle_big": None, "hold": 1, "fetch_c": 2,
         "fetch_bytes": 256 << 10, "lat_secs": 1,
         "syscall_secs": 1, "fetch_rate": 4 * 10 ** 6, "keep_up": None,
         "settle": 0}
# The stores' Dovecot for idle_big sessions on one store (the direct
# run): a mail process each, and logins in flight.
STORE_TUNING = {"process_limit": 10600, "client_limit": 1100}
# loadgen's client addresses: no source port range runs out.
CLIENT_ADDRS = ",".join("127.0.1.%d" % i for i in range(1, 9))
# A fixed CPU-bound loop, timed at start and end: the machine's noise.
CALIB_N = 3000000


def proc_parents():
    """ppid -> [pid] of every process, one pass over /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid, kids=None):
    """pid and every process below it."""
    if kids is None:
        kids = proc_parents()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
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


def heap_rss(pid):
    """KiB of the process's [heap] mapping in RAM (0 if gone)."""
    kib, cur = 0, None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                w = line.split()
                if ":" not in w[0]:
                    cur = w[-1] if len(w) >= 6 else ""
                elif cur == "[heap]" and w[0] == "Rss:":
                    kib += int(w[1])
    except OSError:
        pass
    return kib


def proc_name(pid):
    """A process's program, with its -P role ("mmpd -P relay"), or None
    once it is gone."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    name = os.path.basename(argv[0].decode(errors="replace"))
    if len(argv) > 2 and argv[1] == b"-P":
        name += " -P " + argv[2].decode(errors="replace")
    return name


def meminfo_kib():
    """/proc/meminfo: {field: KiB}."""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            w = line.split()
            out[w[0].rstrip(":")] = int(w[1])
    return out


def mem_available_kib(mi=None):
    return (mi or meminfo_kib()).get("MemAvailable", 0)


def kernel_objects_kib(mi=None):
    """The kernel's own memory that sessions take, in KiB: slab (sockets,
    inodes, files, epoll items), kernel stacks and page tables (a store's
    per-session processes), and the pages charged to TCP socket buffers
    (/proc/net/sockstat, in pages). Steadier than MemAvailable, which
    also moves with the page cache and with every process's memory."""
    mi = mi or meminfo_kib()
    total = sum(mi.get(k, 0) for k in ("Slab", "KernelStack", "PageTables"))
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                total += int(w[w.index("mem") + 1]) * \
                    os.sysconf("SC_PAGE_SIZE") // 1024
    return total


def calibrate():
    """Seconds (wall, CPU) of a fixed pure-Python loop."""
    w, c = time.monotonic(), time.process_time()
    x = 0
    for i in range(CALIB_N):
        x = (x + i * i) & 0xffffffff
    return {"wall_s": round(time.monotonic() - w, 4),
            "cpu_s": round(time.process_time() - c, 4)}


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
                 tls_ports=None, aux=None, skip=()):
        self.skip = set(skip)	# scenarios it cannot run
        self.name = name
        self.host = host
        self.ports = {"imap": imap_port, "pop3": pop_port}
        self.root_pids = root_pids
        self.tls_ports = tls_ports or {}
        self.aux = aux or {}

    def pids(self):
        out = []
        for p in self.root_pids():
            out.extend(descendants(p))
        return out


def measure_cpu(target):
    """Ticks of the target's processes and of each aux service's."""
    kids = proc_parents()
    own = []
    for p in target.root_pids():
        own.extend(descendants(p, kids))
    aux = {}
    for name, fn in target.aux.items():
        pids = []
        for p in fn():
            pids.extend(descendants(p, kids))
        aux[name] = cpu_ticks(pids)
    return cpu_ticks(own), aux


def loadgen(target, proto, scenario, users, conc, secs, count=None,
            hold_cb=None, user_fmt="bench%d", tls=None, opts=()):
    """One loadgen run: (its JSON, CPU µs the target spent, {aux: CPU µs},
    extra). tls: (port, loadgen's TLS options) instead of the plain
    port; opts: more of loadgen's options."""
    port = tls[0] if tls else target.ports[proto]
    cmd = [LOADGEN, "-m", proto, "-h", target.host, "-p",
           str(port), "-U", user_fmt, "-W", PASSWORD,
           "-n", str(users), "-c", str(conc), "-s", scenario, "-d",
           str(secs), "-t", "30", "-B", CLIENT_ADDRS]
    if count is not None:
        cmd += ["-N", str(count)]
    if tls:
        cmd += tls[1]
    cmd += list(opts)
    t0, a0 = measure_cpu(target)
    extra = {}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if hold_cb is not None:
        for line in p.stderr:
            if line.startswith(b"HELD"):
                extra = hold_cb()
                break
    out, err = p.communicate(timeout=secs + 900)
    t1, a1 = measure_cpu(target)
    try:
        res = json.loads(out.decode())
    except ValueError:
        res = {"error": "loadgen printed no JSON", "stderr":
               err.decode(errors="replace")[-500:], "rc": p.returncode}
    res["rc"] = p.returncode
    us = 1e6 / CLK_TCK
    return res, (t1 - t0) * us, {k: (a1[k] - a0.get(k, 0)) * us
                                 for k in a1}, extra


def run_errors(res):
    return res.get("errors", 1) + res.get("failed", 0) + (res["rc"] != 0)


def repeat(fn, runs):
    """fn() -> {figure: number}, run runs times: medians(the results)."""
    return medians([fn() for _ in range(runs)])


def medians(rs):
    """The median of each figure of the runs rs, "spread": {figure: [min,
    max]} where there is more than one run, errors summed."""
    runs = len(rs)
    out = {"errors": sum(r.pop("errors", 0) for r in rs), "runs": runs}
    spread = {}
    for k in dict.fromkeys(k for r in rs for k in r):
        vals = [r[k] for r in rs if isinstance(r.get(k), (int, float))]
        if len(vals) != len(rs):
            out[k] = rs[len(rs) // 2].get(k)
            continue
        out[k] = statistics.median(vals)
        if runs > 1:
            spread[k] = [min(vals), max(vals)]
    if spread:
        out["spread"] = spread
    return out


def per(amount, n):
    return amount / n if n else None


def login_once(target, proto, cfg, conc, secs):
    res, cpu, aux, _ = loadgen(target, proto, "login", cfg["users"], conc,
                               secs)
    ok = res.get("ok", 0)
    r = {"logins_per_s": res.get("rate", 0),
         "cpu_us_per_login": per(cpu, ok),
         "p50_us": res.get("lat_us", {}).get("p50"),
         "p99_us": res.get("lat_us", {}).get("p99"),
         "errors": run_errors(res)}
    for k, v in aux.items():
        r["aux_%s_cpu_us_per_login" % k] = per(v, ok)
    return r


def scenario_login(target, proto, cfg):
    return repeat(lambda: login_once(target, proto, cfg, cfg["login_c"],
                                     cfg["secs"]), cfg["runs"])


def scenario_latency(tlist, proto, cfg, results):
    """One login at a time (C=1) against every target in turn, round after
    round, so that each round's figures share the machine's state: the
    store's own login time (a fork or two) moves between rounds by more
    than the half millisecond a proxy may add. A proxy's added latency is
    its p50 minus the direct store's p50 of the same round, the median
    over the rounds."""
    rounds = {t.name: [] for t in tlist}
    for _ in range(cfg["runs"]):
        for t in tlist:
            rounds[t.name].append(login_once(t, proto, cfg, 1,
                                             cfg["lat_secs"]))
    store = rounds.get("store")
    for name, rs in rounds.items():
        if store is not None and name != "store":
            for r, b in zip(rs, store):
                if r["p50_us"] is not None and b["p50_us"] is not None:
                    r["added_p50_us"] = r["p50_us"] - b["p50_us"]
        results["targets"].setdefault(name, {})["latency_" + proto] = \
            medians(rs)


def fetch_runs(target, proto, cfg, opts=()):
    """fetch_c sessions fetching the big message for secs, the medians of
    runs: MB/s and the target's CPU per MB (and loadgen's offered_mbps
    where opts has -r)."""
    def once():
        res, cpu, _, _ = loadgen(target, proto, "fetch", cfg["fetch_c"],
                                 cfg["fetch_c"], cfg["secs"],
                                 user_fmt="big%d", opts=opts)
        mb = res.get("bytes", 0) / 1e6
        r = {"mb_per_s": res.get("mbps", 0),
             "cpu_us_per_mb": per(cpu, mb), "errors": run_errors(res)}
        if "offered_mbps" in res:
            r["offered_mb_per_s"] = res["offered_mbps"]
        return r
    return repeat(once, cfg["runs"])


def scenario_fetch(target, proto, cfg):
    return fetch_runs(target, proto, cfg)


def scenario_fetch_rate(target, proto, cfg):
    """The relay at the rate cfg["fetch_rate"] offered by all sessions
    (loadgen -r): CPU per MB where the CPU is not what limits the MB/s,
    the same load for every target. Achieving less than keep_up of the
    offer is an error, the target named; as is achieving more than the
    offer and one fetch in secs (loadgen may start one fetch more), over
    keep_up: then the pacing is broken and the figure is not at that
    rate."""
    out = fetch_runs(target, proto, cfg, ("-r", str(cfg["fetch_rate"])))
    offered = out.get("offered_mb_per_s")
    most = (offered or 0) + cfg["fetch_bytes"] / 1e6 / cfg["secs"]
    if cfg["keep_up"] and (not offered or not
                           cfg["keep_up"] * offered <= out["mb_per_s"] <=
                           most / cfg["keep_up"]):
        out["errors"] += 1
        out["off_rate"] = "%s achieved %s MB/s, %s offered" % (
            target.name, fmt(out["mb_per_s"]), fmt(offered))
    return out


# The TLS scenarios: every certificate kind x version, full handshakes and
# resumed ones, against every target with tls_ports.
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

    def once():
        res, cpu, _, _ = loadgen(target, "imap", "login", cfg["users"],
                                 cfg["login_c"], cfg["secs"],
                                 tls=(target.tls_ports[kind], opts))
        ok = res.get("ok", 0)
        t = res.get("tls", {})
        return {"logins_per_s": res.get("rate", 0),
                "cpu_us_per_login": per(cpu, ok),
                "handshakes": t.get("handshakes", 0),
                "resumed": t.get("resumed", 0),
                "hs_failed": t.get("hs_failed", 0),
                "resumed_share": per(t.get("resumed", 0),
                                     t.get("handshakes", 0)),
                "version": t.get("version"), "cipher": t.get("cipher"),
                "group": t.get("group"),
                "hs_p50_us": t.get("hs_us", {}).get("p50"),
                "hs_p99_us": t.get("hs_us", {}).get("p99"),
                "errors": run_errors(res)}
    out = repeat(once, cfg["runs"])
    base = plain.get("cpu_us_per_login")
    out["plain_cpu_us_per_login"] = base
    out["cpu_us_per_handshake"] = (
        out["cpu_us_per_login"] - base
        if out.get("cpu_us_per_login") is not None and base is not None
        else None)
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


def tls_store(env, certs):
    """The direct store serves both certificate kinds on one IMAPS port,
    chosen by SNI; {kind: port}. Before the stores start."""
    kinds = list(certs)
    s1 = env.stores["store1"]
    s1.tls = (certs[kinds[0]], T.free_port([s1.addr]),
              T.free_port([s1.addr]))
    s1.sni_certs = {"%s.bench.test" % k: certs[k] for k in kinds}
    return {k: s1.tls[1] for k in kinds}


def tls_mmpd(svc, certs):
    """mmpd's IMAP service serves both kinds on one IMAPS port, chosen by
    SNI (SSLCertFile/SSLKeyFile paired in order): (settings, {kind:
    port})."""
    kinds = list(certs)
    port = T.free_port()
    conf = dict(svc)
    conf.update({"SSLEnable": "yes", "SSLPorts": str(port),
                 "SSLCertFile": " ".join(certs[k][0] for k in kinds),
                 "SSLKeyFile": " ".join(certs[k][1] for k in kinds)})
    return conf, port, {k: port for k in kinds}


def scenario_syscalls(target, proto, cfg):
    """System calls per login in the target's own processes (strace -c -f
    while loadgen logs in at C=10; counts, not seconds). None where strace
    is missing."""
    got = syscalls.per_login(target.pids(), lambda: loadgen(
        target, proto, "login", cfg["users"], 10, cfg["syscall_secs"])[0].get(
            "ok", 0))
    if got is None:
        return {"errors": 0, "skipped": "strace is missing"}
    ok, per_call, total = got
    top = sorted(per_call.items(), key=lambda kv: -kv[1])[:8]
    return {"errors": 0 if ok else 1, "logins": ok,
            "syscalls_per_login": total,
            "epoll_ctl_per_login": per_call.get("epoll_ctl", 0.0),
            "epoll_wait_per_login": per_call.get("epoll_wait", 0.0),
            "top": dict(top)}


def snapshot(target):
    p = target.pids()
    mi = meminfo_kib()
    return {"pss": pss_kib(p), "avail": mem_available_kib(mi), "fds": fds(p),
            "kobj": kernel_objects_kib(mi)}


def settle(target, before, secs, after_secs):
    """After the sessions closed: wait (at most secs) until the target's
    descriptors are back to where they were, then after_secs, then
    measure."""
    end = time.time() + secs
    while snapshot(target)["fds"] > before["fds"] and time.time() < end:
        time.sleep(0.5)
    time.sleep(after_secs)
    return snapshot(target)


def scenario_idle(target, proto, cfg, n, env):
    """n logged-in sessions held: what each costs while held, and what
    is left once they closed."""
    def once():
        quiesce(env)
        before = snapshot(target)
        # Reading /proc for thousands of store processes takes seconds:
        # the sessions are held until it is done.
        res, _, _, during = loadgen(
            target, proto, "idle", cfg["users"],
            min(cfg["login_c"] * 4, 200), cfg["hold"] + n // 1000,
            count=n, hold_cb=lambda: snapshot(target))
        after = settle(target, before, 10 + n // 100, cfg["settle"])
        held = res.get("held", 0)
        r = {"held": held, "errors": run_errors(res)}
        if held and during:
            r["pss_kib_per_session"] = (during["pss"] - before["pss"]) / held
            r["kernel_kib_per_session"] = (before["avail"] -
                                           during["avail"]) / held
            r["kobj_kib_per_session"] = (during["kobj"] -
                                         before["kobj"]) / held
            r["fds_per_session"] = (during["fds"] - before["fds"]) / held
            r["pss_held_kib"] = during["pss"]
        r["pss_before_kib"] = before["pss"]
        r["pss_after_kib"] = after["pss"]
        r["pss_after_growth_kib"] = after["pss"] - before["pss"]
        r["fds_after_growth"] = after["fds"] - before["fds"]
        return r
    if n == cfg["idle_n"]:
        return repeat(once, cfg["runs"])
    # The first hold of n leaves what a process keeps for its life (a
    # table per descriptor number, grown to the highest used; nginx
    # allocates its own at start); a second hold of the same n shows
    # whether anything is left per hold.
    first = once()
    second = once()
    first["errors"] = first.get("errors", 0) + second.get("errors", 0)
    first["pss_after2_growth_kib"] = second["pss_after_growth_kib"]
    first["held2"] = second["held"]
    return medians([first])


def setup(cfg):
    env = T.Env("bench").setup(
        store_tuning=STORE_TUNING if cfg["idle_big"] else None)
    users = cfg["users"]
    stores = [env.stores["store1"], env.stores["store2"]]
    # mailHost is the store's address for every target: the Dovecot
    # proxy cannot read mmpd's hosts file, and no target pays for a name.
    for i in range(users):
        store = stores[i % 2]
        env.slapd.add_user("bench%d" % i, PASSWORD, store.addr)
        store.users["bench%d" % i] = PASSWORD
        store.home("bench%d" % i)
    big = T.message("big", size=cfg["fetch_bytes"], crlf=True)
    for i in range(cfg["fetch_c"]):
        env.slapd.add_user("big%d" % i, PASSWORD, stores[0].addr)
        stores[0].users["big%d" % i] = PASSWORD
        stores[0].seed("big%d" % i, big)
    for s in stores:
        s._write_passwd()
    env.bench_certs = bench_certs(env.dir)
    env.bench_store_tls = tls_store(env, env.bench_certs)
    env.start_backends()
    return env


def slapd_pids(env):
    return lambda: [env.slapd.proc.pid] if env.slapd.proc else []


def store1_all_users(env):
    """The direct store and the floor's: all users of store1 exist on it
    (odd ones too, for the measurement: they are on store2 only in
    LDAP)."""
    s1, s2 = env.stores["store1"], env.stores["store2"]
    for u, pw in s2.users.items():
        if u not in s1.users:
            s1.users[u] = pw
            s1.home(u)
    s1._write_passwd()
    return s1


def floor_target(env, s1):
    """bench/floor in front of store1: the cheapest proxy for the same
    TCP and splice work (no lookup, no log, no sandbox, one process), a
    lower bound for any proxy."""
    host = "127.0.0.1"
    imap, pop = T.free_port((host,)), T.free_port((host,))
    log = open(env.path("floor.log"), "ab")
    p = subprocess.Popen([FLOOR, "-a", host, "-i", str(imap), "-p",
                          str(pop), "-s", s1.addr, "-I", str(s1.imap_port),
                          "-P", str(s1.pop_port)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=log)
    log.close()

    def stop():
        T.kill_pid(p.pid)
        p.wait()
    env.cleanups.append(stop)
    ready = p.stdout.readline()
    p.stdout.close()
    if ready.strip() != b"READY":
        raise RuntimeError("floor did not start (exit %s); its log %s" %
                           (p.poll(), env.path("floor.log")))
    # One process: 10,000 sessions are 20,000 descriptors, this machine's
    # hard limit (it held 9,994 in the run of 2026-12-06).
    return Target("floor", host, imap, pop,
                  lambda: [p.pid] if p.poll() is None else [],
                  skip=("idle_big",))


def targets(env, names):
    """The targets asked for, started, in the order of the table."""
    out = []
    certs = env.bench_certs
    slapd = {"slapd": slapd_pids(env)}
    if "mmpd" in names:
        # A store forking its 10,000th mail process on a loaded machine
        # takes seconds to answer a login: the peers wait 30 s (Dovecot's
        # proxy_timeout, nginx's timeout), loadgen too. 10,000 logins
        # take minutes: the first sessions stay (mmpd's default Timeout,
        # IMAP's 30 minutes, not the tests' 120 s).
        # loadgen holds up to idle_big sessions from 127.0.0.1: its
        # loopback network may (ConnLimits' default, 20, stays for
        # everyone else).
        # Its logins connect to a store login_c at a time (a slow store
        # holds them for seconds): MaxConcurrentConnectionAttempts' default
        # of 32 would fail some as store-down.
        svc = {"LogLevel": 5, "ConnectTimeout": 30, "Timeout": 1800,
               "ConnLimits": "0.0.0.0|0.0.0.0:20,"
                             "127.0.0.0|255.0.0.0:1000000",
               "MaxConcurrentConnectionAttempts": 10000}
        imap, port, tls_ports = tls_mmpd(svc, certs)
        m = env.mmpd(imap=imap, pop=dict(svc),
                     aservice={"LogLevel": 5})
        m.imaps_ports = [port]
        m.start()
        out.append(Target("mmpd", m.host, m.imap_ports[0], m.pop_ports[0],
                          lambda: [m.pid], tls_ports=tls_ports,
                          aux=dict(slapd)))
        out[-1].mmpd = m	# its log, for bench/soak.py
    if "nginx" in names:
        ng = peers.Nginx(env, certs).start()
        out.append(Target("nginx", ng.host, ng.imap_port, ng.pop_port,
                          ng.pids, tls_ports=ng.tls_ports,
                          aux={"auth": ng.auth_pids, "slapd":
                               slapd_pids(env)}))
    if "dovecot-proxy" in names:
        dp = peers.DovecotProxy(env, certs).start()
        out.append(Target("dovecot-proxy", dp.host, dp.imap_port,
                          dp.pop_port, dp.pids, tls_ports=dp.tls_ports,
                          aux=dict(slapd)))
    if "floor" in names:
        s1 = store1_all_users(env)
        out.append(floor_target(env, s1))
    if "store" in names:
        s1 = store1_all_users(env)
        out.append(Target("store", s1.addr, s1.imap_port, s1.pop_port,
                          lambda: [s1.pid] if s1.pid else [],
                          tls_ports=env.bench_store_tls))
    return out


SCENARIOS = ("login", "latency", "fetch", "fetch_rate", "idle", "idle_big",
             "tls", "syscalls")


def quiesce(env, secs=300):
    """Waits until the stores are back to their idle process count: after
    thousands of held sessions a store takes a while to end their
    processes, and must not spend that in the next measurement."""
    want = env.__dict__.setdefault("bench_idle_procs", {})
    end = time.time() + secs
    while time.time() < end:
        kids = proc_parents()
        busy = False
        for s in env.stores.values():
            n = len(descendants(s.pid, kids)) if s.pid else 0
            if s.name not in want:
                want[s.name] = n	# the first call: the idle count
            # login processes outlive their logins (up to 4 a service)
            busy = busy or n > want[s.name] + 8
        if not busy:
            return
        time.sleep(1)


def run(cfg, names, scens=SCENARIOS, save=None):
    """Every scenario of scens against every target of names; save(results)
    after each target, so that an hour's run that fails late keeps what
    it measured."""
    results = {"machine": {"cpus": os.cpu_count(),
                           "mem_available_kib": mem_available_kib(),
                           "calibration_start": calibrate()},
               "config": cfg, "targets": {}}
    env = setup(cfg)
    quiesce(env)
    tlist = targets(env, names)
    for t in tlist:
        r = results["targets"].setdefault(t.name, {})
        for proto in ("imap", "pop3") if "login" in scens else ():
            r["login_" + proto] = scenario_login(t, proto, cfg)
        for proto in ("imap", "pop3") if "fetch" in scens else ():
            r["fetch_" + proto] = scenario_fetch(t, proto, cfg)
        for proto in ("imap", "pop3") if "fetch_rate" in scens else ():
            r["fetch_rate_" + proto] = scenario_fetch_rate(t, proto, cfg)
        if "idle" in scens:
            r["idle_imap"] = scenario_idle(t, "imap", cfg, cfg["idle_n"],
                                           env)
        if cfg["idle_big"] and "idle_big" in scens and \
                "idle_big" not in t.skip:
            r["idle_imap_big"] = scenario_idle(t, "imap", cfg,
                                               cfg["idle_big"], env)
        for proto in ("imap", "pop3") if "syscalls" in scens else ():
            r["syscalls_" + proto] = scenario_syscalls(t, proto, cfg)
        if "tls" in scens and t.tls_ports:
            # A handshake's CPU is a TLS login's minus a plain one's.
            if "login_imap" not in r:
                r["login_imap"] = scenario_login(t, "imap", cfg)
            scenarios_tls(t, cfg, r)
        results["tls_ports"] = results.get("tls_ports", {})
        if t.tls_ports:
            results["tls_ports"][t.name] = t.tls_ports
        if save:
            save(results)
    if "latency" in scens:
        quiesce(env)
        scenario_latency(tlist, "imap", cfg, results)
    results["machine"]["calibration_end"] = calibrate()
    net_kernel(results)
    return results


def net_kernel(results):
    """A proxy's kernel memory per idle session: its run's MemAvailable
    drop, and its kernel objects' growth, minus the direct store's (the
    store's sessions are behind every proxy too)."""
    store = results["targets"].get("store")
    if store is None:
        return
    for name, r in results["targets"].items():
        for sc in ("idle_imap", "idle_imap_big"):
            mine, base = r.get(sc, {}), store.get(sc, {})
            for k in ("kernel", "kobj"):
                key = k + "_kib_per_session"
                if name != "store" and key in mine and key in base:
                    mine[k + "_net_kib_per_session"] = mine[key] - base[key]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.2f" % v if abs(v) < 10 else "%.1f" % v if abs(v) < 1e4 \
            else "%.0f" % v
    return str(v)


# (label, scenario, figure, better): better is "low" for a cost, "high"
# for a rate; None: no ratio (a count, an aux service's cost).
ROWS = [("logins/s IMAP", "login_imap", "logins_per_s", "high"),
        ("CPU us/login IMAP", "login_imap", "cpu_us_per_login", "low"),
        (" beside: auth us/login", "login_imap", "aux_auth_cpu_us_per_login",
         None),
        (" beside: slapd us/login", "login_imap",
         "aux_slapd_cpu_us_per_login", None),
        ("logins/s POP3", "login_pop3", "logins_per_s", "high"),
        ("CPU us/login POP3", "login_pop3", "cpu_us_per_login", "low"),
        (" beside: auth us/login", "login_pop3", "aux_auth_cpu_us_per_login",
         None),
        (" beside: slapd us/login", "login_pop3",
         "aux_slapd_cpu_us_per_login", None),
        ("login p50 us, C=50", "login_imap", "p50_us", "low"),
        ("login p50 us, C=1", "latency_imap", "p50_us", "low"),
        ("login p99 us, C=1", "latency_imap", "p99_us", "low"),
        ("added p50 us over store, C=1", "latency_imap", "added_p50_us",
         "low"),
        ("FETCH MB/s", "fetch_imap", "mb_per_s", "high"),
        ("FETCH CPU us/MB", "fetch_imap", "cpu_us_per_mb", "low"),
        ("RETR MB/s", "fetch_pop3", "mb_per_s", "high"),
        ("RETR CPU us/MB", "fetch_pop3", "cpu_us_per_mb", "low"),
        ("syscalls/login IMAP", "syscalls_imap", "syscalls_per_login",
         "low"),
        (" of which epoll_ctl", "syscalls_imap", "epoll_ctl_per_login",
         "low"),
        (" of which epoll_wait", "syscalls_imap", "epoll_wait_per_login",
         "low"),
        ("syscalls/login POP3", "syscalls_pop3", "syscalls_per_login",
         "low")]
# The fetch_rate scenario's, after the fetch rows, labelled with the rate
# offered; what was achieved shows that the target kept up (no ratio).
RATE_ROWS = [("FETCH @%s CPU us/MB", "fetch_rate_imap", "cpu_us_per_mb",
              "low"),
             ("FETCH @%s MB/s achieved", "fetch_rate_imap", "mb_per_s", None),
             ("RETR @%s CPU us/MB", "fetch_rate_pop3", "cpu_us_per_mb",
              "low"),
             ("RETR @%s MB/s achieved", "fetch_rate_pop3", "mb_per_s", None)]
IDLE_ROWS = [("held", "held", None),
             ("Pss KiB/session", "pss_kib_per_session", "low"),
             ("Pss MiB while held", "pss_held_mib", "low"),
             ("kernel KiB/session", "kernel_kib_per_session", None),
             ("kernel KiB/s. - store's", "kernel_net_kib_per_session",
              "low"),
             ("kernel objects KiB/session", "kobj_kib_per_session", None),
             ("k. objects KiB/s. - store's", "kobj_net_kib_per_session",
              "low"),
             ("fds/session", "fds_per_session", "low"),
             ("Pss KiB left after close", "pss_after_growth_kib", None),
             ("Pss KiB left by a second hold", "pss_after2_growth_kib",
              None)]
PEERS = ("nginx", "dovecot-proxy")


def tls_rows(results):
    """Table rows of the TLS scenarios any target ran."""
    ran = set()
    for r in results["targets"].values():
        ran.update(k for k in r if k.startswith("tls_"))
    out = []
    for kind in CERT_KINDS:
        for ver in TLS_VERSIONS:
            full = tls_name(kind, ver, "full")
            res = tls_name(kind, ver, "resumed")
            if full not in ran:
                continue
            p = "%s TLS %s " % (kind, ver)
            out += [(p + "logins/s", full, "logins_per_s", "high"),
                    (p + "us/login", full, "cpu_us_per_login", "low"),
                    (p + "us/handshake", full, "cpu_us_per_handshake",
                     "low"),
                    (p + "res. logins/s", res, "logins_per_s", "high"),
                    (p + "res. us/handshake", res, "cpu_us_per_handshake",
                     "low"),
                    (p + "res. share", res, "resumed_share", None),
                    (p + "res./full", res, "ratio_to_full", "low")]
    return out


def rows(results):
    out = list(ROWS)
    rate = results["config"].get("fetch_rate")
    if rate:
        at = max(i for i, r in enumerate(out) if r[1].startswith("fetch_"))
        out[at + 1:at + 1] = [(label % ("%gMB/s" % (rate / 1e6)), sc, key,
                               better) for label, sc, key, better in RATE_ROWS]
    for sc, n in (("idle_imap", results["config"]["idle_n"]),
                  ("idle_imap_big", results["config"]["idle_big"])):
        if n:
            out += [("idle %d: %s" % (n, label), sc, key, better)
                    for label, key, better in IDLE_ROWS]
    return out + tls_rows(results)


def value(results, name, sc, key):
    r = results["targets"][name].get(sc, {})
    if key == "pss_held_mib":
        v = r.get("pss_held_kib")
        return v / 1024 if v is not None else None
    return r.get(key)


def spread_pct(results, sc, key):
    """The largest (max - min) / median of a figure's runs, in %."""
    worst = None
    for r in results["targets"].values():
        lo_hi = r.get(sc, {}).get("spread", {}).get(key)
        med = r.get(sc, {}).get(key)
        if lo_hi and med:
            s = 100.0 * (lo_hi[1] - lo_hi[0]) / abs(med)
            worst = s if worst is None else max(worst, s)
    return worst


def ratios(results):
    """{label: {"best_peer": name, "vs_peer": x, "vs_store": y,
    "vs_floor": z}}"""
    out = {}
    names = results["targets"]
    for label, sc, key, better in rows(results):
        if better is None or "mmpd" not in names:
            continue
        mine = value(results, "mmpd", sc, key)
        peer = [(value(results, p, sc, key), p) for p in PEERS
                if p in names and value(results, p, sc, key) is not None]
        r = {}
        # A ratio of a difference that came out negative means nothing.
        if peer and mine is not None and mine >= 0:
            v, p = (min if better == "low" else max)(peer)
            r["best_peer"] = p
            r["vs_peer"] = mine / v if v > 0 else None
        st = value(results, "store", sc, key) if "store" in names else None
        if st and st > 0 and mine is not None and mine >= 0:
            r["vs_store"] = mine / st
        fl = value(results, "floor", sc, key) if "floor" in names else None
        if fl and fl > 0 and mine is not None and mine >= 0:
            r["vs_floor"] = mine / fl
        out[label] = r
    return out


def table(results, markdown=False):
    names = list(results["targets"])
    rat = results.get("ratios", {})
    if markdown:
        head = "%s |"
        cell = " %s |"
    else:
        head = "%-31s"
        cell = "%14s"
    lines = [(head % "figure") + "".join(cell % n for n in names) +
             "".join(cell % h for h in ("mmpd/peer", "mmpd/store",
                                        "mmpd/floor", "spread%"))]
    if markdown:
        lines[0] = "| " + lines[0]
        lines.append("|---|" + "---|" * (len(names) + 4))
    for label, sc, key, better in rows(results):
        r = rat.get(label, {})
        peer = r.get("vs_peer")
        line = (head % label.strip()) + "".join(
            cell % fmt(value(results, n, sc, key)) for n in names) + \
            "".join(cell % c for c in (
                "-" if peer is None else "%.2f %s" % (
                    peer, r["best_peer"][:2]),
                fmt(r.get("vs_store")), fmt(r.get("vs_floor")),
                fmt(spread_pct(results, sc, key))))
        lines.append("| " + line if markdown else line)
    m = results["machine"]
    big = results["config"]["idle_big"]
    end = m.get("calibration_end")	# none: a run that did not finish
    lines.append("calibration loop (s CPU): start %.3f, end %s; "
                 "medians of %d runs%s; spread%%: (max - min) / median, "
                 "the worst target's" %
                 (m["calibration_start"]["cpu_s"],
                  "%.3f" % end["cpu_s"] if end else "- (unfinished run)",
                  results["config"]["runs"],
                  " (idle %d: one run)" % big if big else ""))
    return "\n".join(lines)


def errors(results):
    """Scenario runs that had errors, as 'target scenario' strings."""
    bad = []
    for n, r in results["targets"].items():
        for sc, v in r.items():
            if v.get("errors"):
                bad.append("%s %s: %s" % (n, sc, v))
    return bad


def save_json(results, path):
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--targets", default=None,
                    help="comma-separated: mmpd,nginx,dovecot-proxy,floor,"
                    "store (default: all; --smoke: mmpd,store)")
    ap.add_argument("--from", dest="saved", default=None,
                    help="print the table of a saved run's JSON, run nothing")
    ap.add_argument("--markdown", action="store_true",
                    help="the table in Markdown (bench/README.md)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated, of: " + ",".join(SCENARIOS))
    ap.add_argument("--tls-only", action="store_true",
                    help="the plain IMAP login (the TLS figures subtract "
                    "it) and the TLS scenarios: --scenarios tls")
    args = ap.parse_args()
    if args.tls_only:
        args.scenarios = "tls"
    T.install_signal_handlers()	# a Ctrl-C still stops what was started
    if args.saved:
        with open(args.saved) as f:
            results = json.load(f)
        results["ratios"] = ratios(results)
        print(table(results, args.markdown))
        return
    if not os.access(LOADGEN, os.X_OK):
        sys.exit("bench: %s is missing: make bench-tools" % LOADGEN)
    names = (args.targets or ("mmpd,store" if args.smoke else
                              "mmpd,nginx,dovecot-proxy,floor,store")
             ).split(",")
    for n in names:
        if n not in ("mmpd", "nginx", "dovecot-proxy", "floor", "store"):
            sys.exit("bench: no target %r" % n)
    if "floor" in names and not os.access(FLOOR, os.X_OK):
        sys.exit("bench: %s is missing: make bench-tools" % FLOOR)
    scens = args.scenarios.split(",")
    if not set(scens) <= set(SCENARIOS):
        sys.exit("bench: scenarios are %s" % ",".join(SCENARIOS))
    try:
        if set(names) & set(PEERS):
            peers.need_peers()
        results = run(SMOKE if args.smoke else FULL, names, scens,
                      save=lambda r: save_json(r, args.json))
    except RuntimeError as e:
        sys.exit("bench: %s\nbench: the logs' temp dir goes at exit; "
                 "MMPTEST_KEEP=1 keeps it" % e)
    results["ratios"] = ratios(results)
    print(table(results, args.markdown))
    save_json(results, args.json)
    bad = errors(results)
    for b in bad:
        print("bench: errors in " + b, file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
