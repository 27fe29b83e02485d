#!/usr/bin/env python3
# System calls per login: strace -c -f attached to every process of a
# target while loadgen logs in COUNT times, divided by the logins. Counts,
# not seconds: repeatable on a busy machine (issue 16 asks for them per
# login, before and after each change). Used by bench.py; alone:
#   python3 bench/syscalls.py [imap|pop3]   (mmpd, a small setup)

import os
import signal
import subprocess
import sys
import tempfile
import time


def strace_available():
    try:
        subprocess.run(["strace", "-V"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def parse_strace_c(text):
    """{syscall: calls} from strace -c's table."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(f) >= 5 and f[3].isdigit() and not f[-1].startswith("-"):
            if f[-1] != "total":
                out[f[-1]] = int(f[3])
    return out


def per_login(pids, run_logins):
    """strace -c -f on pids while run_logins() runs; returns (logins,
    {syscall: calls per login}, total per login) or None if strace is
    missing. run_logins returns the number of successful logins."""
    if not strace_available() or not pids:
        return None
    fd, path = tempfile.mkstemp(prefix="bench-strace.")
    os.close(fd)
    cmd = ["strace", "-c", "-f", "-o", path]
    for p in pids:
        cmd += ["-p", str(p)]
    st = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    time.sleep(1.0)		# attached to every thread
    try:
        ok = run_logins()
    finally:
        time.sleep(0.3)
        st.send_signal(signal.SIGINT)
        st.wait(timeout=30)
    with open(path) as f:
        counts = parse_strace_c(f.read())
    os.unlink(path)
    if not ok:
        return ok, {}, None
    per = {k: v / ok for k, v in counts.items()}
    return ok, per, sum(per.values())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import bench as B
    proto = sys.argv[1] if len(sys.argv) > 1 else "imap"
    cfg = dict(B.SMOKE)
    cfg.update({"users": 50, "fetch_c": 1})
    env = B.setup(cfg)
    t = B.targets(env, ["mmpd"])[0]
    # Every user once first: the LdapCache holds them all, as in steady
    # state.
    B.loadgen(t, proto, "login", 50, 10, 3)
    r = per_login(t.pids(), lambda: B.loadgen(
        t, proto, "login", 50, 10, 4)[0].get("ok", 0))
    env.cleanup()
    if r is None:
        sys.exit("syscalls: strace is missing (apt-get install strace)")
    ok, per, total = r
    for k, v in sorted(per.items(), key=lambda kv: -kv[1]):
        print("%-16s %6.2f" % (k, v))
    print("%-16s %6.2f  (%d logins)" % ("total", total or 0, ok))


if __name__ == "__main__":
    main()
