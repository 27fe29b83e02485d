#!/usr/bin/env python3
# Logs: one line per session event (connect, login accepted or refused with
# its reason, disconnect with bytes and duration) in the LogDir files, a
# time stamp on every line of every file and of stderr, SIGUSR1 reopening
# the files for rotation without losing a line (by hand and through the
# logrotate snippet in etc/), and syslog through a private SyslogSocket.

import calendar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
LINE = re.compile(r"^(%s) \[(emerg|alert|crit|error|warning|notice|info|"
                  r"debug)\] \S" % STAMP)
AUDIT = re.compile(r"^\d{8} \d{6} \(sid 0x[0-9a-f]+\) user ")
FILES = ("AService.log", "ImapProxy.log", "PopProxy.log")
DEAD_STORE = "127.0.0.99"	# nothing listens there
ROTATION_LOGINS = 24


def setup(tap):
    env = T.Env("logs", tap).setup(stores=("store1",))
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice here"))
    env.user("bob", "bob-pw", "store1")
    env.stores["store1"].seed("bob", T.message("bob here"))
    env.user("gone", "gone-pw", mailhost=DEAD_STORE)
    env.start_backends()
    return env


def start_mmpd(env, logdir, name="mmpd", aservice=None):
    audit = os.path.join(logdir, "PopAudit.log")
    conf = {"LogDir": logdir}
    a = dict(conf)
    a.update(aservice or {})
    pop = dict(conf, PreAuth="yes", AuditLog=audit)
    return env.mmpd(name, aservice=a, imap=dict(conf), pop=pop).start(), \
        audit


def session_lines(text, sid):
    return [ln for ln in text.splitlines()
            if re.search(r"session %s[ :]" % re.escape(sid), ln)]


def sid_of(text, regex):
    m = re.search(r"session (0x[0-9a-f]+) \S+: " + regex, text)
    return m.group(1) if m else None


def wait_file(path, regex, timeout=10):
    end = time.time() + timeout
    while True:
        m = re.search(regex, T.read_text(path))
        if m or time.time() > end:
            return m
        time.sleep(0.05)


def has(tap, lines, regex, name):
    tap.ok(any(re.search(regex, ln) for ln in lines), name,
           "no line matches %r among:\n%s" % (regex, "\n".join(lines)))


def test_imap(tap, m, imaplog):
    """A login and logout: connect, accepted, closed, in ImapProxy.log."""
    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(re.match(rb"t\d+ OK", t) and subj == ["alice here"],
           "IMAP: alice logs in and reads", d)
    wait_file(imaplog, r'user "alice" logged in[^\n]*\n(.*\n)*.*closed: ')
    text = T.read_text(imaplog)
    sid = sid_of(text, r'user "alice" logged in')
    lines = session_lines(text, sid) if sid else []
    has(tap, lines, r"\[info\] relay \d+: session \S+ 127\.0\.0\.1:\d+: "
        r"connected on 127\.0\.0\.1:%d \(IMAP\)$" % m.imap_ports[0],
        "IMAP connect: listener and protocol")
    has(tap, lines, r'\[notice\] relay \d+: session \S+ 127\.0\.0\.1:\d+: '
        r'user "alice" logged in to store1\.mmp\.test \(127\.0\.0\.11:\d+; '
        r'password; domain -\)$', "IMAP login accepted: user, store, how, "
        "domain")
    # The relayed session's line names the client as the first one did.
    client = [mm.group(1) for mm in (re.search(
        r"session \S+ (127\.0\.0\.1:\d+): connected on", ln)
        for ln in lines) if mm]
    has(tap, lines, r"\[info\] relay \d+: session \S+ %s: closed: \S.* "
        r"\(by (store|client)\); [1-9]\d* bytes up, [1-9]\d* down, "
        r"\d+\.\d{3} s$" % re.escape(client[0] if client else "?"),
        "IMAP disconnect: the client's address and port, who, bytes each "
        "way, duration")
    tap.is_(len([ln for ln in lines if re.search(
        r"connected on|logged in|closed: ", ln)]), 3,
        "IMAP: one line per event (connect, login, close)")


def test_pop(tap, m, poplog, audit):
    r, subj = T.pop_route(m, "bob", "bob-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["bob here"],
           "POP3: bob logs in and reads", repr(r))
    wait_file(poplog, r'user "bob" logged in[^\n]*\n(.*\n)*.*closed: ')
    text = T.read_text(poplog)
    sid = sid_of(text, r'user "bob" logged in')
    lines = session_lines(text, sid) if sid else []
    has(tap, lines, r"connected on 127\.0\.0\.1:%d \(POP3\)$" %
        m.pop_ports[0], "POP3 connect line")
    has(tap, lines, r'\[notice\] .*: user "bob" logged in to '
        r'store1\.mmp\.test \(127\.0\.0\.11:\d+; password; domain -\)$',
        "POP3 login accepted line")
    has(tap, lines, r": closed: .* \(by \w+\); [1-9]\d* bytes up, "
        r"[1-9]\d* down, \d+\.\d{3} s$", "POP3 disconnect line")
    tap.ok(wait_file(audit, r"\(sid %s\) user bob pre-authenticated" %
                     re.escape(sid or "none")),
           "POP3: the audit line has the same session id")


def refused(tap, m, path, login, regex, name):
    off = len(T.read_text(path))
    login()
    got = wait_file(path, regex) and re.search(regex, T.read_text(path)[off:])
    tap.ok(got, name, T.read_text(path)[off:][-1500:])


def imap_login(m, user, pw):
    def go():
        with m.imap() as c:
            c.login(user, pw)
            c.cmd("LOGOUT")
    return go


def pop_login(m, user, pw):
    def go():
        with m.pop3() as p:
            p.cmd("USER " + user)
            p.cmd("PASS " + pw)
            p.cmd("QUIT")
    return go


def test_refused(tap, m, imaplog, poplog):
    refused(tap, m, imaplog, imap_login(m, "alice", "wrong-pw-1"),
            r'\[notice\] .*: login "alice" refused: store refused \(domain '
            r'-, store store1\.mmp\.test\): store 127\.0\.0\.11:\d+ '
            r'refused: ', "IMAP wrong password (no PreAuth): store refused")
    refused(tap, m, poplog, pop_login(m, "alice", "wrong-pw-2"),
            r'\[notice\] .*: login "alice" refused: bad password \(domain '
            r'-, store store1\.mmp\.test\): pre-authentication as '
            r'uid=alice,\S+ failed: ',
            "POP3 wrong password (PreAuth): bad password")
    refused(tap, m, imaplog, imap_login(m, "nobody", "nobody-pw"),
            r'\[notice\] .*: login "nobody" refused: unknown user \(domain '
            r'-, store -\): ', "unknown user")
    refused(tap, m, poplog, pop_login(m, "e\x01ve@b\\ad.test", "x-pw"),
            r'login "e\\x01ve@b\\\\ad\.test" refused: unknown user '
            r'\(domain b\\\\ad\.test, store -\)',
            "a name as typed, escaped, with its domain")
    refused(tap, m, imaplog, imap_login(m, "gone", "gone-pw"),
            r'\[warning\] .*: login "gone" refused: store down \(domain -, '
            r'store %s\): ' % re.escape(DEAD_STORE), "store down")
    # A session that never logs in: its bytes are the client's.
    off = len(T.read_text(imaplog))
    with m.imap() as c:
        c.cmd("NOOP")
    end = time.time() + 10
    want = (r"\[info\] .*: closed: client closed the connection \(by "
            r"client\); [1-9]\d* bytes up, [1-9]\d* down, \d+\.\d{3} s$")
    while not re.search(want, T.read_text(imaplog)[off:], re.M) and \
            time.time() < end:
        time.sleep(0.05)
    tap.ok(re.search(want, T.read_text(imaplog)[off:], re.M),
           "a session without login: closed by the client, its bytes",
           T.read_text(imaplog)[off:])
    text = "".join(T.read_text(os.path.join(os.path.dirname(imaplog), f))
                   for f in FILES) + m.log()
    tap.ok(not re.search(r"wrong-pw|alice-pw|bob-pw|gone-pw|x-pw", text),
           "no password in any log")


def check_stamps(tap, what, text, audit=False):
    lines = text.splitlines()
    bad = [ln for ln in lines if not (LINE.match(ln) or
                                      (audit and AUDIT.match(ln)))]
    tap.ok(lines and not bad, "%s: every line (%d) begins with a time "
           "stamp" % (what, len(lines)), "\n".join(bad[:10]))


def test_stamps(tap, m, logdir, audit, t0):
    for f in FILES:
        check_stamps(tap, f, T.read_text(os.path.join(logdir, f)))
    check_stamps(tap, "stderr (-d)", m.log())
    check_stamps(tap, "AuditLog", T.read_text(audit), audit=True)
    # The stamps are of this run, in UTC, to the millisecond.
    stamps = re.findall(r"^(%s)" % STAMP, T.read_text(
        os.path.join(logdir, "ImapProxy.log")), re.M)
    secs = [calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
            for s in stamps]
    tap.ok(secs and all(t0 - 2 <= s <= time.time() + 1 for s in secs),
           "ImapProxy.log stamps are UTC times of this run",
           "%r .. %r, run %r .. %r" % (stamps[:1], stamps[-1:], t0,
                                       time.time()))


def logins_in(logdir, suffix=""):
    text = "".join(T.read_text(os.path.join(logdir, f + suffix))
                   for f in FILES)
    return len(re.findall(r'user "alice" logged in', text))


def login_loop(m, n, done):
    for _ in range(n):
        try:
            T.imap_route(m, "alice", "alice-pw")
        except (OSError, EOFError):
            pass
        done.append(1)


def test_rotation(tap, m, logdir, audit):
    """Rename the files, SIGUSR1 in the middle of a run of logins: every
    login's line is in the old or the new file, the new ones are mmpd's."""
    m.wait_log_still()
    before = logins_in(logdir)
    done = []
    th = threading.Thread(target=login_loop,
                          args=(m, ROTATION_LOGINS, done))
    th.start()
    while len(done) < ROTATION_LOGINS // 2 and th.is_alive():
        time.sleep(0.02)
    for f in FILES + ("PopAudit.log",):
        os.rename(os.path.join(logdir, f), os.path.join(logdir, f + ".1"))
    os.kill(m.pid, signal.SIGUSR1)
    th.join(120)
    tap.ok(wait_file(os.path.join(logdir, "AService.log"),
                     r"^%s \[notice\] mmpd: log files reopened$" % STAMP),
           "SIGUSR1: AService.log is created again, its first line says "
           "why", T.read_text(os.path.join(logdir, "AService.log")))
    end = time.time() + 10
    while (logins_in(logdir, ".1") + logins_in(logdir) <
           before + ROTATION_LOGINS and time.time() < end):
        time.sleep(0.1)
    old, new = logins_in(logdir, ".1"), logins_in(logdir)
    tap.is_(old + new, before + ROTATION_LOGINS, "every login of the run "
            "is logged once, in the old or the new file (%d + %d)" %
            (old - before, new))
    tap.ok(old > before and new > 0, "the run spans the signal (%d before, "
           "%d after)" % (old - before, new))
    tap.ok(m.alive() and not re.search(r"exited|killed by signal",
                                       m.log()),
           "the parent took the signal, no process ended")
    # A broad pkill -USR1 reaches the children too: they ignore it.
    kids = m.children()
    for pid in kids:
        os.kill(pid, signal.SIGUSR1)
    time.sleep(0.5)
    tap.ok(kids and all(T.pid_alive(p) for p in kids) and
           not re.search(r"exited|killed by signal", m.log()),
           "SIGUSR1 to each of the %d children: none ends" % len(kids))
    # The audit file is reopened too.
    T.pop_route(m, "bob", "bob-pw")
    tap.ok(wait_file(audit, r"user bob pre-authenticated"),
           "AuditLog reopened: a new line in the new file")
    m.wait_log_still()
    size = os.path.getsize(os.path.join(logdir, "ImapProxy.log.1"))
    T.imap_route(m, "alice", "alice-pw")
    m.wait_log_still()
    tap.is_(os.path.getsize(os.path.join(logdir, "ImapProxy.log.1")), size,
            "nothing more goes to the renamed file")


def logrotate_conf(logdir, state_dir):
    """etc/mmpd.logrotate for this test: its LogDir, and pkill's parent
    the test (mmpd -d is its child). systemd is not running here; its
    branch is turned off so that a host's real mmpd is never signalled."""
    with open(os.path.join(TOP, "etc", "mmpd.logrotate")) as f:
        text = f.read()
    text = text.replace("/var/log/mmpd/*.log", logdir + "/*.log")
    text = text.replace("[ -d /run/systemd/system ]", "false")
    text = text.replace("-P 1 mmpd", "-P %d mmpd" % os.getpid())
    path = os.path.join(state_dir, "mmpd.logrotate")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path, text


def test_logrotate(tap, env, m, logdir):
    if shutil.which("logrotate") is None:
        tap.skip("logrotate -f with etc/mmpd.logrotate",
                 "logrotate is not installed (make deps)")
        return
    for f in os.listdir(logdir):
        if f.endswith(".1"):
            os.unlink(os.path.join(logdir, f))
    conf, text = logrotate_conf(logdir, env.dir)
    tap.ok("-P %d mmpd" % os.getpid() in text and logdir in text,
           "the snippet's path and pkill line were found and adapted")
    m.wait_log_still()
    n_before = logins_in(logdir)
    r = subprocess.run(["logrotate", "-f", "-s", env.path("lr.state"),
                        conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode("latin-1")
    tap.is_(r.returncode, 0, "logrotate -f runs the snippet")
    if r.returncode != 0:
        tap.diag(out)
    tap.ok(all(os.path.exists(os.path.join(logdir, f + ".1"))
               for f in FILES), "logrotate renamed the files",
           " ".join(sorted(os.listdir(logdir))))
    tap.ok(wait_file(os.path.join(logdir, "AService.log"),
                     r"mmpd: log files reopened"),
           "its postrotate signalled the parent: files reopened")
    T.imap_route(m, "alice", "alice-pw")
    tap.ok(wait_file(os.path.join(logdir, "ImapProxy.log"),
                     r'user "alice" logged in'),
           "a login after logrotate is in the new ImapProxy.log")
    tap.is_(logins_in(logdir, ".1"), n_before, "the rotated file kept "
            "its lines")
    tap.ok(m.alive(), "mmpd still runs")


class SyslogServer:
    """A datagram socket where a syslog daemon's would be, read all the
    time as a daemon does (a datagram socket queues few messages: mmpd
    drops what does not fit rather than wait)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.2)
        self.got = []
        self.lock = threading.Lock()
        self.stop = False
        self.th = threading.Thread(target=self._read, daemon=True)
        self.th.start()

    def _read(self):
        while not self.stop:
            try:
                d = self.sock.recv(8192).decode("latin-1")
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.got.append(d)

    def lines(self):
        with self.lock:
            return list(self.got)

    def clear(self):
        with self.lock:
            self.got = []

    def wait(self, regex, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            for d in self.lines():
                if re.search(regex, d):
                    return d
            time.sleep(0.05)
        return None

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()


def test_syslog(tap, env):
    path = env.path("syslog.sock")
    srv = SyslogServer(path)
    env.cleanups.append(srv.close)
    m = env.mmpd("sys", aservice={"LogSyslog": "yes", "SyslogFacility":
                                  "local3", "SyslogSocket": path}).start()
    T.imap_route(m, "alice", "alice-pw")
    d = srv.wait(r'user "alice" logged in')
    # local3 is 19, notice 5: 19 * 8 + 5.
    tap.ok(d is not None and re.match(
        r'^<157>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d mmpd\[%d\]: relay \d+: '
        r'session \S+ \S+: user "alice" logged in to ' % m.pid, d),
        "LogSyslog yes with -d: the login line to SyslogSocket, facility "
        "local3, the parent's pid", repr(d) + "\n" +
        "\n".join(srv.lines()[-5:]))
    tap.ok(any(re.match(r"^<158>.*connected on", g) for g in srv.lines()),
           "the connect line as local3.info")
    tap.ok(not any(re.search(STAMP, g) for g in srv.lines()),
           "syslog lines carry no stamp of mmpd's (syslog stamps them)")
    # Off by a reload: nothing more arrives.
    m.conf_a["LogSyslog"] = "no"
    m.write_config()
    off = m.log_size()
    m.reload()
    m.wait_log(r"configuration 2 loaded", off)
    time.sleep(0.3)
    srv.clear()
    T.imap_route(m, "alice", "alice-pw")
    m.wait_log_still()
    time.sleep(0.3)
    tap.ok(m.wait_log(r'user "alice" logged in', off) and not srv.lines(),
           "LogSyslog no after a reload: nothing to syslog",
           "\n".join(srv.lines()[:5]))
    m.stop()


def test_typed(tap, env):
    """A name the store gets in another form (ReplayFormat) is logged as
    the client typed it when the store refuses it."""
    m = env.mmpd("replay", imap={"ReplayFormat": "%U@elsewhere.test"})
    m.start()
    off = m.log_size()
    imap_login(m, "alice", "alice-pw")()
    tap.ok(m.wait_log(r'login "alice" refused: store refused \(domain -, '
                      r'store store1\.mmp\.test\): ', off),
           "store refused: the name as typed, not the replayed one",
           m.log_since(off)[-1500:])
    m.stop()


def main(tap):
    T.need_root()
    env = setup(tap)
    logdir = env.path("logs")
    os.makedirs(logdir)
    os.chmod(logdir, 0o755)
    t0 = time.time()
    m, audit = start_mmpd(env, logdir)
    imaplog = os.path.join(logdir, "ImapProxy.log")
    poplog = os.path.join(logdir, "PopProxy.log")
    test_imap(tap, m, imaplog)
    test_pop(tap, m, poplog, audit)
    test_refused(tap, m, imaplog, poplog)
    m.wait_log_still()
    test_stamps(tap, m, logdir, audit, t0)
    test_rotation(tap, m, logdir, audit)
    test_logrotate(tap, env, m, logdir)
    check_stamps(tap, "stderr after the rotations", m.log())
    m.stop()
    test_typed(tap, env)
    test_syslog(tap, env)


if __name__ == "__main__":
    T.run(main)
