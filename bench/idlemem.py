#!/usr/bin/env python3
# The relay workers' memory per idle session, in detail (bench/README.md,
# "What each change bought", 2): logins first, then loadgen holds N
# sessions twice; for each hold the relays' Pss and heap Rss when all are
# held, 7 s later, and after they closed, and with gdb the heap bytes in
# use (malloc_info into an open_memstream: no system call in the
# sandboxed worker). Against mmpd alone, like bench.py's idle scenario.
#
#     python3 bench/idlemem.py [N [imap|pop3]]

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 250
PROTO = sys.argv[2] if len(sys.argv) > 2 else "imap"
LATER = 7	# s: past the relay's malloc_trim delay
CFG = dict(B.SMOKE, users=400, fetch_c=1, fetch_bytes=4096)
GDB = ['set $p = (char **)malloc(16)', 'set $sz = (unsigned long *)malloc(16)',
       'set $f = (void *)open_memstream($p, $sz)',
       'call (int)malloc_info(0, $f)', 'call (int)fflush($f)',
       'printf "%s\\n", *$p', 'call (int)fclose($f)', 'call (void)free(*$p)',
       'call (void)free($p)', 'call (void)free($sz)']


def relays(m):
    out = []
    for p in B.descendants(m.pid):
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                if b"\0-P\0relay" in f.read():
                    out.append(p)
        except OSError:
            pass
    return out


def heap_in_use(pid):
    """Bytes malloc handed out and did not get back, or None."""
    if shutil.which("gdb") is None:
        return None
    args = ["gdb", "-p", str(pid), "-batch", "-nx"]
    for c in GDB:
        args += ["-ex", c]
    out = subprocess.run(args, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=120).stdout.decode(
                             errors="replace")
    # The last totals are the whole process's (after the per-arena ones).
    tot = dict((t, int(s)) for t, s in re.findall(
        r'<total type="(fast|rest|mmap)" count="\d+" size="(\d+)"/>', out))
    cur = re.findall(r'<system type="current" size="(\d+)"/>', out)
    if not tot or not cur:
        return None
    return int(cur[-1]) - tot.get("fast", 0) - tot.get("rest", 0) + \
        tot.get("mmap", 0)


def snap(m):
    rs = relays(m)
    s = {"pss": B.pss_kib(rs), "heap": sum(B.heap_rss(p) for p in rs),
         "fds": B.fds(rs), "inuse": 0}
    for p in rs:
        v = heap_in_use(p)
        s["inuse"] = None if v is None or s["inuse"] is None else \
            s["inuse"] + v
    return s


def main():
    env, m = B.setup(CFG)
    try:
        # A store slow under load is not what this measures.
        for c in (m.conf_imap, m.conf_pop):
            c["ConnectTimeout"] = 60
        m.write_config()
        m.reload()
        time.sleep(2)
        t = B.Target("mmpd", m.host, m.imap_ports[0], m.pop_ports[0],
                     lambda: [m.pid])
        for proto in ("imap", "pop3"):
            B.loadgen(t, proto, "login", CFG["users"], 50, 2)
        time.sleep(1)
        rows = [("before", snap(m))]
        for rnd in (1, 2):
            def held():
                a = snap(m)
                time.sleep(LATER)
                return {"now": a, "later": snap(m)}
            res, _, d = B.loadgen(t, PROTO, "idle", CFG["users"], 200,
                                  LATER + 20, count=N, hold_cb=held)
            if res.get("held") != N:
                print("hold %d: %s held, %s failed" % (rnd, res.get("held"),
                                                      res.get("failed")))
            time.sleep(LATER + 2)
            rows += [("held %d" % rnd, d["now"]),
                     ("held %d +%ds" % (rnd, LATER), d["later"]),
                     ("closed %d +%ds" % (rnd, LATER + 2), snap(m))]
    finally:
        m.stop()
        env.cleanup()
    base = rows[0][1]
    print("%-16s %10s %12s %10s %14s" % ("", "Pss KiB", "heap Rss KiB",
                                          "fds", "heap in use B"))
    for name, s in rows:
        print("%-16s %10d %12d %10d %14s" % (name, s["pss"], s["heap"],
                                             s["fds"], s["inuse"]))
    print("per session (%d), against before:" % N)
    for name, s in rows[1:]:
        inuse = "-" if s["inuse"] is None or base["inuse"] is None else \
            "%.0f" % ((s["inuse"] - base["inuse"]) / N)
        print("%-16s Pss %6.2f KiB  heap in use %6s B  fds %.2f" % (
            name, (s["pss"] - base["pss"]) / N, inuse,
            (s["fds"] - base["fds"]) / N))


if __name__ == "__main__":
    main()
