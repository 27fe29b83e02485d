#!/usr/bin/env python3
# hostile: the world of 65-hostile.t and 66-hostile-load.t. One mmpd with
# every kind of listener for IMAP and POP3 (plain, implicit TLS, STARTTLS
# on the plain port, a PROXY protocol port whose load balancer is
# 127.0.0.5) in front of real slapd and Dovecot, clients that open any of
# them the same way, and the checks every hostile case ends with: what
# the server answered, who logged in (mmpd's log and the stores'), which
# children run.

import collections
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

LB = "127.0.0.5"		# the trusted load balancer
KINDS = ("plain", "tls", "starttls", "proxy")
PROTOS = ("imap", "pop3")
# Who logs in normally after each case: IMAP alice, POP3 bob.
NORMAL = {"imap": ("alice", "alice-pw"), "pop3": ("bob", "bob-pw")}
VICTIM = ("victim", "victim-pw")	# a real user; attackers aim at it
UTF8_USER = "j\u00fcrgen"		# an 8-bit name that exists
UTF8_PW = "juergen-pw"
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, dst, sport, dport):
    return ("PROXY TCP4 %s %s %d %d\r\n" % (src, dst, sport,
                                            dport)).encode()


def v2(src, dst, sport, dport, cmd=0x21, fam=0x11, length=None):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport)
    n = len(body) if length is None else length
    return SIG + bytes([cmd, fam]) + struct.pack("!H", n) + body


def log_escape(name):
    """escape_log of lib/escape.c: how mmpd writes a name in its log."""
    out = []
    for c in name.encode() if isinstance(name, str) else name:
        if c == 0x5c:
            out.append("\\\\")
        elif c == 0x0d:
            out.append("\\r")
        elif c == 0x0a:
            out.append("\\n")
        elif c == 0x09:
            out.append("\\t")
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def filter_escape(name):
    """RFC 4515 escaping of a value as mmpd does it (lib/escape.c), for
    ASCII and Latin-1 bytes: what slapd's log must show."""
    raw = name.encode("latin-1") if isinstance(name, str) else name
    out = []
    for c in raw:
        if c in b"*()\\\x00" or c >= 0x80:
            out.append("\\%02x" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def setup(tap, name, store_delay=0):
    """slapd and two Dovecot stores with the users of the cases. A store
    answers a wrong password after store_delay seconds (the resets need a
    login that is still open when the client goes)."""
    env = T.Env(name, tap).setup(
        store_tuning={"auth_failure_delay": store_delay})
    env.get_pki()
    env.user("alice", "alice-pw", "store1")
    env.user("bob", "bob-pw", "store2")
    env.user(*VICTIM, store="store1")
    env.user(UTF8_USER, UTF8_PW, "store1")
    env.start_backends()
    return env


def start(env, name="mmpd", imap=None, pop=None, aservice=None):
    """An mmpd with the four listener kinds for both protocols; imap/pop
    override keys of both services' files."""
    iports = [T.free_port(), T.free_port()]
    pports = [T.free_port(), T.free_port()]
    common = {"MaxBadCommands": 50,
              "ConnLimits": "0.0.0.0|0.0.0.0:100",
              # 127.0.0.1: wait_ready's probe (a v2 LOCAL header)
              "ProxyProtocolNetworks": "127.0.0.1/32 %s/32" % LB}
    ikeys = dict(common, ProxyProtocolPorts=str(iports[1]))
    pkeys = dict(common, ProxyProtocolPorts=str(pports[1]))
    ikeys.update(imap or {})
    pkeys.update(pop or {})
    m = env.mmpd(name=name, imap_ports=iports, pop_ports=pports, tls=True,
                 imap=ikeys, pop=pkeys, aservice=aservice)
    m.proxy_ports = {iports[1], pports[1]}
    return m.start()


def targets(m):
    return [Target(m, p, k) for p in PROTOS for k in KINDS]


class Target:
    """One listener kind of one protocol of mmpd m."""

    def __init__(self, m, proto, kind):
        self.m = m
        self.proto = proto
        self.kind = kind
        self.imap = proto == "imap"
        plain = m.imap_ports if self.imap else m.pop_ports
        tls = m.imaps_ports if self.imap else m.pop3s_ports
        self.port = {"plain": plain[0], "starttls": plain[0],
                     "proxy": plain[1], "tls": tls[0]}[kind]
        self.ctx = T.tls_context(m.env.get_pki())
        self.nproxy = 0

    def __str__(self):
        return "%s %s" % ("IMAP" if self.imap else "POP3", self.kind)

    @property
    def tls_inside(self):
        """Already in TLS once open(): no STARTTLS left to offer."""
        return self.kind in ("tls", "starttls")

    @property
    def can_starttls(self):
        return self.kind in ("plain", "proxy")

    def header(self):
        """A fresh PROXY v2 header from a client behind the balancer."""
        self.nproxy += 1
        return v2("203.0.113.%d" % (1 + self.nproxy % 200), "127.0.0.1",
                  40000 + self.nproxy % 20000, self.port)

    def raw(self, pre=b"", source=None, handshake=True):
        """The transport up, nothing read: TCP (with its PROXY header on
        the PROXY port, and pre after it) and TLS on the TLS port."""
        if self.kind == "proxy":
            c = T.Conn(self.m.host, self.port, source=source or LB,
                       pre=self.header() + pre)
        else:
            c = T.Conn(self.m.host, self.port, source=source, pre=pre)
        if self.kind == "tls" and handshake:
            c.starttls(self.ctx)
        return c

    def starttls(self, c):
        """STARTTLS/STLS on c, greeted; raises when it is refused."""
        if self.imap:
            c.send(b"s0 STARTTLS\r\n")
            line = read_tagged(c, "s0")
        else:
            c.send(b"STLS\r\n")
            line = c.readline()
        if not re.match(rb"(s0 OK|\+OK)", line):
            raise RuntimeError("%s: STARTTLS refused: %r" % (self, line))
        c.starttls(self.ctx)

    def open(self, source=None):
        """A client greeted, in TLS on the TLS and STARTTLS kinds."""
        c = self.raw(source=source)
        g = c.readline()
        if not g.startswith(b"* OK" if self.imap else b"+OK"):
            raise RuntimeError("%s: greeting %r" % (self, g))
        if self.kind == "starttls":
            self.starttls(c)
        return c

    def login(self, user=None, password=None):
        """A whole normal login and logout: None, or what went wrong."""
        user, password = (user, password) if user else NORMAL[self.proto]
        try:
            with self.open() as c:
                if self.imap:
                    c.send(b"n1 LOGIN " + T.imap_quote(user) + b" " +
                           T.imap_quote(password) + b"\r\n")
                    t = read_tagged(c, "n1")
                    if not t.startswith(b"n1 OK"):
                        return "LOGIN %s: %r" % (user, t)
                    c.send(b"n2 LOGOUT\r\n")
                    t = read_tagged(c, "n2")
                    return None if t.startswith(b"n2 OK") else \
                        "LOGOUT: %r" % t
                c.send(b"USER " + user.encode() + b"\r\n")
                r1 = c.readline()
                c.send(b"PASS " + password.encode() + b"\r\n")
                r2 = c.readline()
                if not (r1.startswith(b"+OK") and r2.startswith(b"+OK")):
                    return "USER/PASS %s: %r %r" % (user, r1, r2)
                c.send(b"QUIT\r\n")
                r = c.readline()
                return None if r.startswith(b"+OK") else "QUIT: %r" % r
        except (OSError, RuntimeError) as e:
            return "%s: %s" % (type(e).__name__, e)


def read_tagged(c, tag):
    """Lines up to the one tagged tag (literals included); that line, or
    b"" at EOF."""
    t = tag.encode() + b" "
    while True:
        line = c.readline()
        if not line or line.startswith(t):
            return line
        m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
        if m:
            c.read_exact(int(m.group(1)))


def drain(c, timeout=3.0, until=None):
    """What the server sends within timeout: (bytes, closed). Stops at EOF
    or a reset (closed), or once until (a regex) matches."""
    data, c.buf = c.buf, b""
    end = time.time() + timeout
    closed = c.eof
    while not closed and time.time() < end:
        if until is not None and re.search(until, data):
            break
        c.sock.settimeout(max(0.05, end - time.time()))
        try:
            d = c.sock.recv(65536)
        except socket.timeout:
            break
        except OSError:		# a reset, a TLS session cut short
            closed = True
            break
        if not d:
            closed = True
            break
        data += d
    try:
        c.sock.settimeout(10)
    except OSError:
        pass
    return data, closed


def rst(c):
    """Close with a reset (SO_LINGER 0), not a FIN."""
    try:
        c.plain.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                           struct.pack("ii", 1, 0))
    except OSError:
        pass
    c.plain.close()
    try:
        c.sock.close()
    except OSError:
        pass


class Problems:
    """What went wrong in one case on one listener."""

    def __init__(self):
        self.bad = []

    def want(self, got, regex, what):
        if isinstance(got, bytes):
            got = got.decode("latin-1")
        if isinstance(regex, bytes):
            regex = regex.decode("latin-1")
        if got is None or not re.search(regex, got, re.S):
            self.bad.append("%s: got %r, want /%s/" % (what, got, regex))
            return False
        return True

    def true(self, cond, what):
        if not cond:
            self.bad.append(what)
        return cond

    def text(self):
        return "\n".join(self.bad)


LOGIN_RE = re.compile(r'session 0x[0-9a-f]+ \S+: user "((?:[^"\\]|\\.)*)" '
                      r'logged in')
STORE_LOGIN_RE = re.compile(r"-login: (?:[^:\n]*: )?Login: user=<([^>]*)>")


class Watch:
    """Offsets into mmpd's, the stores' and slapd's logs and the children
    of mmpd at one moment, to see what happened since."""

    def __init__(self, env, m):
        self.env = env
        self.m = m
        m.wait_log_still()
        self.moff = m.log_size()
        self.soff = {n: len(s.log()) for n, s in env.stores.items()}
        self.loff = len(env.slapd.log())
        self.kids = set(m.children())

    def mmpd_log(self):
        self.m.wait_log_still()
        return self.m.log_since(self.moff)

    def slapd_log(self):
        return self.env.slapd.log()[self.loff:]

    def store_logins(self):
        c = collections.Counter()
        for n, s in self.env.stores.items():
            c.update(STORE_LOGIN_RE.findall(s.log()[self.soff[n]:]))
        return c

    def logins(self, want, timeout=3):
        """Checks that exactly want (a Counter of names) logged in, in
        mmpd's log and at the stores: None or what differs."""
        wlog = collections.Counter({log_escape(k): v
                                    for k, v in want.items()})
        # Dovecot's log is as written by its processes (UTF-8 as is).
        wstore = collections.Counter({k.encode().decode("latin-1"): v
                                      for k, v in want.items()})
        end = time.time() + timeout
        while True:
            got = collections.Counter(LOGIN_RE.findall(self.mmpd_log()))
            store = self.store_logins()
            if (got == wlog and store == wstore) or time.time() > end:
                break
            time.sleep(0.1)
        time.sleep(0.2)	# a late extra login would show now
        got = collections.Counter(LOGIN_RE.findall(self.mmpd_log()))
        store = self.store_logins()
        out = []
        if got != wlog:
            out.append("mmpd logged in %r, want %r" % (dict(got),
                                                       dict(wlog)))
        if store != wstore:
            out.append("stores logged in %r, want %r" % (dict(store),
                                                         dict(wstore)))
        return "\n".join(out) or None

    def same_children(self):
        now = set(self.m.children())
        return None if now == self.kids else \
            "children were %s, now %s" % (sorted(self.kids), sorted(now))


PUMP_POOL_MAX = 64	# mmpd/pump.h: spare splice pipes a relay keeps


def fd_count(pids):
    """Descriptors of pids but the pipes of a relay's splice pool, which
    it keeps for the next sessions (pipes() counts those)."""
    n = 0
    for p in pids:
        d = "/proc/%d/fd" % p
        try:
            for f in os.listdir(d):
                if not os.readlink(os.path.join(d, f)).startswith("pipe:"):
                    n += 1
        except OSError:
            pass
    return n


def pipes(pid):
    """Pipes pid holds, each counted once (a pipe has two ends)."""
    d = "/proc/%d/fd" % pid
    try:
        return len(set(os.readlink(os.path.join(d, f))
                       for f in os.listdir(d)
                       if os.readlink(os.path.join(d, f)).startswith(
                           "pipe:")))
    except OSError:
        return 0


def stats(port):
    """mmpd_sessions from the statistics page: {(protocol, state): n}."""
    return {(dict(ls)["protocol"], dict(ls)["state"]): int(v)
            for (name, ls), v in T.metrics(port).items()
            if name == "mmpd_sessions"}


if __name__ == "__main__":
    sys.stderr.write("hostile.py is a module for regress/integration/"
                     "65-hostile.t and 66-hostile-load.t\n")
    sys.exit(2)
