#!/usr/bin/env python3
# What clients that never read cost mmpd's relays before their login
# (issue 17): N connections from 127.0.0.x source addresses (ConnLimits
# opened wide for them), each sending CMDS CAPABILITY commands (IMAP) and
# reading nothing. Prints the relays' RSS and Pss (KiB, summed) before,
# while the connections are held, and SETTLE seconds after they closed.
# Usage: python3 bench/preauth_flood.py [N] [CMDS] [RCVBUF] [--defaults]
#        [--rounds K] [--tls] [--json FILE]
# (--rounds: K floods one after the other into the same mmpd, each
# measured: what a round leaves that the next does not reuse grows)
# (--tls: on the IMAPS port, each client completes its handshake first;
# mmp-tlsd's memory is measured too, as "tlsd")
# (RCVBUF: the clients' SO_RCVBUF, bytes; 0 the system's default)
# (--defaults: MaxPreauthSessions as shipped, which sheds the oldest; the
# statistics page counts the sessions shed: LogLevel 4 leaves their
# notices out of the log)
# (root; MMPD=path/to/mmpd picks the build, as for the tests).

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "regress", "integration"))
import mmptest as T  # noqa: E402

SOURCES = 40		# 127.0.0.2 .. 127.0.0.41
HOLD_SEC = 5		# after the last command was sent
SETTLE_SEC = 12		# relays trim freed memory within 5 s


def shed(port):
    """Pre-login sessions shed for MaxPreauthSessions, from the
    statistics page (mmpd_refused_total{rule="preauthcap"})."""
    v = T.metrics(port).get(("mmpd_refused_total", (("rule", "preauthcap"),)))
    return None if v is None else int(v)


def mem(pids):
    rss = pss = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    k, v = line.split(":", 1)
                    if k == "Rss":
                        rss += int(v.split()[0])
                    elif k == "Pss":
                        pss += int(v.split()[0])
        except OSError:
            pass
    return {"rss_kib": rss, "pss_kib": pss}


def flood(m, n, cmds, rcvbuf, ctx=None):
    socks = []
    payload = b"".join(b"a%d CAPABILITY\r\n" % i for i in range(cmds))
    for i in range(n):
        s = T.flood_client(m, i, ctx, rcvbuf, SOURCES)
        s.setblocking(False)
        socks.append(s)
    sent = 0
    for s in socks:
        try:
            sent += s.send(payload)
        except OSError:
            pass
    return socks, sent


def main():
    argv, opts = sys.argv[1:], {}
    tls = "--tls" in argv
    for o in ("--json", "--rounds"):
        if o in argv:
            i = argv.index(o)
            opts[o] = argv[i + 1]
            del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    n = int(args[0]) if args else 8000
    out = opts.get("--json")
    rounds = int(opts.get("--rounds", 1))
    cmds = int(args[1]) if len(args) > 1 else 50
    rcvbuf = int(args[2]) if len(args) > 2 else 0
    T.raise_nofile()
    env = T.Env("flood")
    try:
        env.setup()
        big = {"ConnLimits": "0.0.0.0|0.0.0.0:20,127.0.0.0|255.0.0.0:"
                             "1000000", "LoginTimeout": 300, "LogLevel": 4}
        # --defaults: MaxPreauthSessions as shipped (it sheds the flood).
        a = {"LogLevel": 4}
        stats = None
        if "--defaults" not in sys.argv:
            a["MaxPreauthSessions"] = 1000000
        else:
            stats = T.free_port()
            a["StatsListen"] = "127.0.0.1:%d" % stats
        m = env.mmpd(imap=big, pop=dict(big), aservice=a, tls=tls).start()
        ctx = T.tls_context(env.get_pki()) if tls else None
        pids = m.child_pids("relay")
        time.sleep(1)
        res = {"connections": n, "commands": cmds, "rcvbuf": rcvbuf,
               "tls": tls, "mmpd": T.MMPD_BIN, "before": mem(pids)}
        if tls:
            res["tlsd_before"] = mem(m.child_pids("mmp-tlsd"))
        res["rounds"] = []
        for _ in range(rounds):
            socks, sent = flood(m, n, cmds, rcvbuf, ctx)
            time.sleep(HOLD_SEC)
            r = {"during": mem(pids), "bytes_sent": sent,
                 "relays_alive": len(m.child_pids("relay"))}
            if tls:
                r["tlsd_during"] = mem(m.child_pids("mmp-tlsd"))
            for s in socks:
                s.close()
            time.sleep(SETTLE_SEC)
            r["after"] = mem(m.child_pids("relay"))
            if tls:
                r["tlsd_after"] = mem(m.child_pids("mmp-tlsd"))
            res["rounds"].append(r)
        # The first round's, as before --rounds.
        res.update((k, res["rounds"][0][k]) for k in
                   ("during", "after", "bytes_sent", "relays_alive"))
        log = m.log()
        res["closed_over_queue_cap"] = log.count("pre-login replies over")
        if stats is not None:
            res["shed"] = shed(stats)
        res["closed_not_reading"] = log.count("closing: client does not "
                                              "read its replies")
        print(json.dumps(res, indent=1))
        if out:
            with open(out, "w") as f:
                json.dump(res, f, indent=1)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
