#!/usr/bin/env python3
# mmpctl against running instances (real slapd, real Dovecot): status and
# stats, reload under load (sessions in the middle of a FETCH loop, none
# dropped), a broken reload answered with file:line, stop; two instances
# side by side, a second start of one refused, the control socket root's
# only (its mode, and a non-root client refused by its credentials).

import os
import re
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

MMPCTL = os.path.join(os.path.dirname(os.path.dirname(T.MMPD_BIN)),
                      "mmpctl", "mmpctl")
USERS = ["u%d" % i for i in range(5)]
PER_USER = 2		# sessions per user, within Dovecot's per-user limit
LOAD_SEC = 6		# the FETCH loop runs this long around the reloads
NOBODY = 65534


def mmpctl(confdir, *args, user=None, timeout=60):
    """(exit status, output) of mmpctl -f confdir args."""
    cmd = [MMPCTL, "-f", confdir] + list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user,
               "--clear-groups"] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return r.returncode, r.stdout.decode("latin-1")


def field(text, name):
    m = re.search(r"^%s (\S+)" % re.escape(name), text, re.M)
    return m.group(1) if m else None


def setup(tap):
    env = T.Env("mmpctl", tap).setup()
    for i, u in enumerate(USERS):
        store = "store1" if i % 2 == 0 else "store2"
        env.user(u, u + "-pw", store)
        env.stores[store].seed(u, T.message("%s's message" % u, size=20000))
    env.start_backends()
    return env


def conf(env, name, **extra):
    return env.mmpd(name=name, aservice=extra,
                    imap={"ConnLimits": "0.0.0.0|0.0.0.0:200"},
                    pop={"ConnLimits": "0.0.0.0|0.0.0.0:200"})


class Fetcher(threading.Thread):
    """One logged-in session fetching its message until told to stop;
    counts the FETCHes answered OK and notes the first failure."""

    def __init__(self, m, user):
        super().__init__(daemon=True)
        self.c = m.imap(timeout=20)
        t, _ = self.c.login(user, user + "-pw")
        s, _ = self.c.cmd("SELECT INBOX")
        self.ready = t.startswith(b"t1 OK") and s.startswith(b"t2 OK")
        self.stop = threading.Event()
        self.fetches = 0
        self.failure = None

    def run(self):
        while not self.stop.is_set():
            try:
                t, un = self.c.cmd("FETCH 1 (BODY.PEEK[])")
            except OSError as e:
                self.failure = repr(e)
                return
            if b" OK" not in t or not un or b"message" not in un[0]:
                self.failure = repr(t[:200])
                return
            self.fetches += 1


def test_status_stats(tap, m):
    # mmptest waits for the listeners; mmp-ldapd may still be starting.
    end = time.time() + 10
    while True:
        rc, out = mmpctl(m.confdir, "status")
        if "being applied" not in out or time.time() > end:
            break
        time.sleep(0.2)
    tap.ok(rc == 0 and field(out, "pid") == str(m.pid),
           "status: exit 0, the parent's pid", out)
    kids = re.findall(r'^child "([^"]+)" kind (\S+) pid (\d+) state (\S+) '
                      r'restarts (\d+)', out, re.M)
    relays = [k for k in kids if k[1] == "relay"]
    tap.ok(len(relays) == 2 and any(k[1] == "mmp-ldapd" for k in kids) and
           all(k[3] == "running" and k[4] == "0" for k in kids) and
           {int(k[2]) for k in kids} <= set(m.children()),
           "status: mmp-ldapd and both relays running, their pids, no "
           "restart", out)
    tap.ok(field(out, "directory") == os.path.realpath(m.confdir),
           "status: the configuration directory", out)
    rc, out = mmpctl(m.confdir, "stats")
    tap.ok(rc == 0 and field(out, "children") == "3" and
           field(out, "reloads") == "0" and field(out, "restarts") == "0",
           "stats: exit 0, 3 children, no reload, no restart", out)


def wait_stats(m, name, want, timeout=5):
    end = time.time() + timeout
    out = ""
    while time.time() < end:
        _, out = mmpctl(m.confdir, "stats")
        if field(out, name) == str(want):
            return True, out
        time.sleep(0.2)
    return False, out


def test_reload_under_load(tap, m):
    fetchers = [Fetcher(m, u) for u in USERS for _ in range(PER_USER)]
    n = len(fetchers)
    tap.ok(all(f.ready for f in fetchers), "%d sessions logged in" % n)
    ok, out = wait_stats(m, "sessions", n)
    tap.ok(ok, "stats: %d sessions open" % n, out)
    ok, out = wait_stats(m, "logins_accepted", n)
    tap.ok(ok, "stats: %d logins accepted" % n, out)
    _, out = mmpctl(m.confdir, "status")
    per = [int(x) for x in re.findall(r"kind relay .* sessions (\d+)$",
                                      out, re.M)]
    tap.ok(sum(per) == n, "status: sessions per relay add up to %d" % n, out)
    for f in fetchers:
        f.start()
    time.sleep(1)
    answers = []
    m.conf_imap["Capability"] = "IMAP4rev1 LITERAL+ XRELOADED"
    m.write_config()
    answers.append(mmpctl(m.confdir, "reload"))
    time.sleep(1)
    answers.append(mmpctl(m.confdir, "reload"))
    m.conf_a["Workers"] = 3
    m.write_config()
    answers.append(mmpctl(m.confdir, "reload"))
    time.sleep(LOAD_SEC - 2)
    before = [f.fetches for f in fetchers]
    time.sleep(1)
    for f in fetchers:
        f.stop.set()
    for f in fetchers:
        f.join(30)
    tap.ok(all(rc == 0 and re.match(r"configuration \d+ loaded", out)
               for rc, out in answers),
           "reload under load: three reloads answered \"configuration N "
           "loaded\", exit 0", repr(answers))
    failed = [f.failure for f in fetchers if f.failure]
    total = sum(f.fetches for f in fetchers)
    tap.ok(not failed and all(f.fetches > b for f, b in
                              zip(fetchers, before)),
           "reload under load: all %d sessions kept fetching (%d FETCHes, "
           "none failed, every one still going after the reloads)" %
           (n, total), repr(failed))
    alive = 0
    for f in fetchers:
        t, _ = f.c.cmd("NOOP")
        alive += t.startswith(b"t") and b" OK" in t
    tap.ok(alive == n, "reload under load: %d of %d sessions answer NOOP "
           "afterwards" % (alive, n))
    ok, out = wait_stats(m, "reloads", 3)
    tap.ok(ok, "stats: 3 reloads", out)
    return fetchers


def test_broken_reload(tap, m, fetchers):
    m.conf_imap["Timeout"] = "1o"
    lines = m.write_config()
    line = lines["ImapProxyAService.cfg"]["Timeout"]
    rc, out = mmpctl(m.confdir, "reload")
    tap.ok(rc == 1 and ("ImapProxyAService.cfg:%d: Timeout" % line) in out
           and "stays" in out,
           "broken reload: exit 1, the answer names "
           "ImapProxyAService.cfg:%d" % line, out)
    t, _ = fetchers[0].c.cmd("FETCH 1 (BODY.PEEK[])")
    tap.ok(b" OK" in t, "broken reload: sessions go on", repr(t))
    t, subj, d = T.imap_route(m, "u1", "u1-pw")
    tap.ok(t.startswith(b"t1 OK") and subj == ["u1's message"],
           "broken reload: the running configuration serves new logins", d)
    ok, out = wait_stats(m, "reloads_refused", 1)
    tap.ok(ok, "stats: 1 reload refused", out)
    del m.conf_imap["Timeout"]
    m.write_config()


def sock_of(out):
    return field(out, "socket"), field(out, "pidfile")


def test_socket_walls(tap, m):
    _, out = mmpctl(m.confdir, "status")
    sock, pidfile = sock_of(out)
    st = os.stat(sock)
    dst = os.stat(os.path.dirname(sock))
    tap.ok(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
           and st.st_uid == 0 and stat.S_IMODE(dst.st_mode) == 0o700,
           "control socket %s: mode 0600, root's, directory 0700" % sock,
           "socket %o uid %d, directory %o" % (st.st_mode, st.st_uid,
                                               dst.st_mode))
    rc, out = mmpctl(m.confdir, "status", user=NOBODY)
    tap.ok(rc == 4 and "root" in out,
           "mmpctl as nobody: refused (exit 4, says root)", "%d %s" %
           (rc, out))
    # The second wall: the socket opened to everyone, the credentials
    # still refuse.
    os.chmod(os.path.dirname(sock), 0o755)
    os.chmod(sock, 0o666)
    try:
        r = subprocess.run(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
             "--clear-groups", "/usr/bin/python3", "-c",
             "import socket,sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "s.connect(sys.argv[1])\n"
             "s.settimeout(5)\n"
             "sys.stdout.write(s.recv(100).decode())\n", sock],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        said = r.stdout.decode("latin-1")
    finally:
        os.chmod(sock, 0o600)
        os.chmod(os.path.dirname(sock), 0o700)
    tap.ok(said == "error root only\n",
           "a non-root client on an open socket is refused by its "
           "credentials", said)
    tap.ok(m.wait_log(r"control socket: refused a client of uid %d" %
                      NOBODY, 0, 5), "the refusal is logged")
    return sock, pidfile


def start_b(tap, env, a):
    """Instance B beside A: its own directory, ports and log, the default
    pid file and socket, started by mmpctl."""
    b = conf(env, "second", LogDir=env.path("second-logs"), PidFile=None,
             ControlSocket=None)
    os.makedirs(env.path("second-logs"))
    b.write_config()
    env.cleanups.append(lambda: stop_b(b))
    rc, out = mmpctl(b.confdir, "start")
    b.started_out = out
    tap.ok(rc == 0 and re.search(r"started, pid \d+", out),
           "instance B: mmpctl start, exit 0", out)
    return b


def stop_b(b):
    """Cleanup: stop B if it still runs."""
    rc, out = mmpctl(b.confdir, "status")
    if rc == 0:
        mmpctl(b.confdir, "-t", "10", "stop")


def test_two_instances(tap, env, a):
    b = start_b(tap, env, a)
    rc, out_b = mmpctl(b.confdir, "status")
    _, out_a = mmpctl(a.confdir, "status")
    name = re.sub(r"[^A-Za-z0-9._-]", "_",
                  os.path.realpath(b.confdir).strip("/").replace("/", "-"))
    tap.ok(rc == 0 and field(out_b, "pid") != field(out_a, "pid") and
           field(out_b, "socket") == "/run/mmpd/%s.sock" % name and
           field(out_b, "pidfile") == "/run/mmpd/%s.pid" % name and
           sock_of(out_a) != sock_of(out_b),
           "two instances side by side: own pids, own pid files and "
           "sockets (B's derived from its directory)", out_a + out_b)
    for m, who in ((a, "A"), (b, "B")):
        t, subj, d = T.imap_route(m, "u2", "u2-pw")
        tap.ok(t.startswith(b"t1 OK") and subj == ["u2's message"],
               "instance %s serves a login" % who, d)
    tap.ok(os.path.exists(env.path("second-logs/AService.log")),
           "instance B logs to its own LogDir")
    pid_b = field(out_b, "pid")
    rc, out = mmpctl(b.confdir, "start")
    tap.ok(rc == 0 and "already running, pid %s" % pid_b in out,
           "mmpctl start of a running instance: says so, exit 0", out)
    r = subprocess.run([T.MMPD_BIN, "-f", b.confdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    said = r.stdout.decode("latin-1")
    tap.ok(r.returncode != 0 and
           ("another mmpd (pid %s) holds the pid file" % pid_b) in said,
           "a second mmpd on B's directory: refused, names the pid", said)
    # C: its own directory and pid file, but B's control socket.
    c = conf(env, "third", ControlSocket=field(out_b, "socket"),
             PidFile=None)
    c.write_config()
    r = subprocess.run([T.MMPD_BIN, "-f", c.confdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    said = r.stdout.decode("latin-1")
    tap.ok(r.returncode != 0 and "is in use by another mmpd" in said,
           "an instance naming B's control socket: refused", said)
    name_c = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.realpath(
        c.confdir).strip("/").replace("/", "-"))
    tap.ok(not os.path.exists("/run/mmpd/%s.pid" % name_c),
           "the refused instance leaves no pid file behind")
    rc, _ = mmpctl(b.confdir, "status")
    tap.ok(rc == 0, "B still answers after both refusals")
    return b, pid_b


def test_stop_b(tap, b, pid_b):
    _, out = mmpctl(b.confdir, "status")
    sock, pidfile = sock_of(out)
    rc, out = mmpctl(b.confdir, "stop")
    tap.ok(rc == 0 and "stopped" in out and not T.pid_alive(int(pid_b)),
           "mmpctl stop: waits until B has gone, exit 0", out)
    tap.ok(not os.path.exists(sock) and not os.path.exists(pidfile),
           "B's socket and pid file are removed")
    rc, out = mmpctl(b.confdir, "status")
    tap.ok(rc == 3 and "not running" in out,
           "status of a stopped instance: exit 3 (LSB)", out)
    rc, out = mmpctl(b.confdir, "stop")
    tap.ok(rc == 0 and "not running" in out,
           "stop of a stopped instance: exit 0", out)
    rc, out = mmpctl(b.confdir, "restart")
    tap.ok(rc == 0 and "started" in out,
           "restart of a stopped instance starts it", out)
    rc, out = mmpctl(b.confdir, "restart")
    tap.ok(rc == 0 and "stopped" in out and "started" in out,
           "restart of a running instance: stopped, then started", out)
    rc, out = mmpctl(b.confdir, "stop")
    tap.ok(rc == 0, "B stopped again", out)


def test_stop_a(tap, m, fetchers):
    # The count is the relays' last report (once a second at most): the
    # probes of the tests before may still be in it on a loaded machine.
    _, seen = wait_stats(m, "sessions", len(fetchers), timeout=10)
    rc, out = mmpctl(m.confdir, "stop")
    tap.ok(rc == 0 and out.startswith("stopping: %d sessions drain" %
                                      len(fetchers)),
           "stop A: the answer counts %d sessions to drain" % len(fetchers),
           "%s\nstats before: %s" % (out, seen))
    try:
        code = m.proc.wait(15)
    except Exception:
        code = None
    tap.ok(code == 0, "stop A: mmpd exited 0", repr(code))
    for f in fetchers:
        f.c.close()


def main(tap):
    if not os.path.exists(MMPCTL):
        raise T.SkipAll("%s not built" % MMPCTL)
    env = setup(tap)
    a = conf(env, "first", DrainTimeout=3,
             PidFile=env.path("first.pid"),
             ControlSocket=env.path("ctl/first.sock"))
    a.start()
    test_status_stats(tap, a)
    fetchers = test_reload_under_load(tap, a)
    test_broken_reload(tap, a, fetchers)
    test_socket_walls(tap, a)
    b, pid_b = test_two_instances(tap, env, a)
    test_stop_b(tap, b, pid_b)
    test_stop_a(tap, a, fetchers)


T.run(main)
