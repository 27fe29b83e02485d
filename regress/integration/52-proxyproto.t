#!/usr/bin/env python3
# PROXY protocol (ProxyProtocolPorts, ProxyProtocolNetworks) and the
# client's address forwarded to the store (ForwardClientAddress). One mmpd
# with an ordinary IMAP and POP3 port, an IMAP, an IMAPS and a POP3 port
# marked for the PROXY protocol; the load balancer is 127.0.0.1, another
# peer is 127.0.0.2. A v1 or v2 header from the load balancer makes its
# address the session's (mmpd's log, the login) and the store's (Dovecot,
# trusting 127.0.0.0/8, logs it as rip= after ID / XCLIENT); a v2 LOCAL
# health check keeps the connection's own; a command or a TLS ClientHello
# in the same segment as the header is not lost; the v2 destination picks
# the vdmap domain, and the domain's keys (its ForwardClientAddress no)
# hold for the session. Any other peer, and every malformed header, is closed
# without a greeting and logged, and the next login works. Without
# ForwardClientAddress the store sees mmpd's own address. With ClientLookup
# the header's address is named, and what came behind the header (a
# command, a ClientHello) waits while it is: the greeting answers it.

import os
import re
import socket
import signal
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

LB = "127.0.0.1"		# the load balancer
OTHER = "127.0.0.2"		# not in ProxyProtocolNetworks
VD_ADDR = "192.0.2.7"		# a v2 destination the vdmap names
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
HEADER_TIMEOUT = 3		# IMAP LoginTimeout: the header's bound too
NAMED = "203.0.113.21"		# a header's client with a HostsFile name
NAME_HOLD = 1			# seconds mmp-ldapd is held before it names

VDMAP = """\
vdmap a %s
a:DefaultDomain a.test
a:ForwardClientAddress no
""" % VD_ADDR


def v1(src, dst, sport, dport, fam="TCP4"):
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def v2(src, dst, sport, dport, cmd=0x21, fam=0x11, tlvs=b""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", sport, dport) + tlvs
    return SIG + bytes([cmd, fam]) + struct.pack("!H", len(body)) + body


def setup(tap):
    env = T.Env("proxyproto", tap).setup(
        store_tuning={"login_trusted_networks": "127.0.0.0/8"},
        store_tls=True)
    env.user("frank", "frank-pw", "store1")
    env.user("gwen", "gwen-pw", "store2")
    env.slapd.add_user("joe@a.test", "a-pw", "store1.mmp.test")
    env.stores["store1"].add_user("joe@a.test", "a-pw")
    env.start_backends()
    return env


def start_mmpd(env, forward="yes", name="mmpd", store=None):
    vdmap = env.path("vdmap-%s.cfg" % name)
    with open(vdmap, "w") as f:
        f.write(VDMAP)
    ports = [T.free_port(), T.free_port()]
    pops = [T.free_port(), T.free_port()]
    imaps = [T.free_port()]
    m = env.mmpd(name=name, imap_ports=ports, pop_ports=pops, tls=True,
                 imaps_ports=imaps,
                 imap={"ProxyProtocolPorts": "%d,%s:%d" % (ports[1], LB,
                                                          imaps[0]),
                       "ProxyProtocolNetworks": LB + "/32",
                       "ForwardClientAddress": forward,
                       "LoginTimeout": HEADER_TIMEOUT,
                       "VirtualDomainFile": vdmap},
                 pop={"ProxyProtocolPorts": str(pops[1]),
                      "ProxyProtocolNetworks": "127.0.0.1 10.0.0.0/8",
                      "ForwardClientAddress": forward})
    for conf in (m.conf_imap, m.conf_pop):
        conf.update(store or {})
    m.proxy_ports = {ports[1], imaps[0], pops[1]}
    return m.start()


def store_log(env, store, regex, timeout=5):
    return env.stores[store].wait_log(r"(?m)" + regex, timeout)


def logged_in(m, client, user, offset):
    """mmpd's line for user's login, from the client address given."""
    return m.wait_log(r"session 0x[0-9a-f]+ %s: user \"%s\" logged in" %
                      (re.escape(client), re.escape(user)), offset)


def test_imap(tap, env, m):
    port = m.imap_ports[1]
    for name, hdr, client, rip in (
            ("v1 TCP4", v1("203.0.113.1", LB, 40001, port),
             "203.0.113.1:40001", "203.0.113.1"),
            ("v1 TCP6", v1("2001:db8::5", "2001:db8::1", 40002, port,
                           "TCP6"), "[2001:db8::5]:40002", "2001:db8::5"),
            ("v2 TCP4", v2("203.0.113.2", LB, 40003, port,
                           tlvs=b"\x04\x00\x02ab"), "203.0.113.2:40003",
             "203.0.113.2")):
        off = m.log_size()
        with T.Imap(m.host, port, source=LB, pre=hdr) as c:
            tap.ok(c.greeting.startswith(b"* OK"),
                   "IMAP %s: greeted after the header" % name,
                   repr(c.greeting))
            t, _ = c.login("frank", "frank-pw")
            tap.ok(re.match(rb"t\d+ OK", t) is not None,
                   "IMAP %s: the login works" % name, repr(t))
        tap.ok(m.wait_log(r"session 0x[0-9a-f]+ %s: PROXY v%s via "
                          r"127\.0\.0\.1:\d+ to " %
                          (re.escape(client), name[1]), off) is not None,
               "IMAP %s: logged as from the header's address, via the "
               "load balancer" % name)
        tap.ok(logged_in(m, client, "frank", off) is not None,
               "IMAP %s: the login line names %s" % (name, client))
        tap.ok(store_log(env, "store1", r"imap-login: .*Login: "
                         r"user=<frank>.* rip=%s," % re.escape(rip))
               is not None, "IMAP %s: Dovecot saw rip=%s (ID "
               "x-originating-ip)" % (name, rip))


def test_pop(tap, env, m):
    port = m.pop_ports[1]
    for name, hdr, client, rip in (
            ("v1", v1("198.51.100.1", LB, 40011, port),
             "198.51.100.1:40011", "198.51.100.1"),
            ("v2", v2("198.51.100.2", LB, 40012, port),
             "198.51.100.2:40012", "198.51.100.2")):
        off = m.log_size()
        with T.Pop(m.host, port, source=LB, pre=hdr) as p:
            tap.ok(p.greeting.startswith(b"+OK"),
                   "POP3 %s: greeted after the header" % name,
                   repr(p.greeting))
            r = p.login("gwen", "gwen-pw")
            tap.ok(r.startswith(b"+OK"), "POP3 %s: the login works" % name,
                   repr(r))
        tap.ok(logged_in(m, client, "gwen", off) is not None,
               "POP3 %s: the login line names %s" % (name, client))
        tap.ok(store_log(env, "store2", r"pop3-login: .*Login: "
                         r"user=<gwen>.* rip=%s," % re.escape(rip))
               is not None, "POP3 %s: Dovecot saw rip=%s (XCLIENT)" %
               (name, rip))


def refused(m, port, data, source=LB, shut=False, wait=5):
    """Sends data to port from source: (everything received, closed?)."""
    s = socket.create_connection((m.host, port), 5,
                                 source_address=(source, 0))
    got, closed = b"", False
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(wait)
        while True:
            d = s.recv(4096)
            if not d:
                closed = True
                break
            got += d
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        pass
    finally:
        s.close()
    return got, closed


def test_untrusted(tap, m):
    for port, what in ((m.imap_ports[1], "IMAP"), (m.pop_ports[1], "POP3"),
                       (m.imaps_ports[0], "IMAPS")):
        off = m.log_size()
        got, closed = refused(m, port, v1("203.0.113.66", LB, 1, port),
                              source=OTHER)
        tap.ok(closed and got == b"", "%s: a header from %s is answered "
               "by a close, no greeting" % (what, OTHER), repr(got))
        tap.ok(m.wait_log(r"127\.0\.0\.2:\d+: PROXY protocol listener: "
                          r"127\.0\.0\.2 is not in ProxyProtocolNetworks "
                          r"\((?:Imap|Pop)ProxyAService", off)
               is not None, "%s: logged, naming the key" % what)
    # The ordinary port is not a PROXY listener: a header is a bad command.
    with T.Imap(m.host, m.imap_ports[0], source=OTHER) as c:
        tap.ok(c.greeting.startswith(b"* OK"), "the unmarked port greets "
               "anyone at once", repr(c.greeting))


MALFORMED = [
    ("truncated v1 (then EOF)", b"PROXY TCP4 203.0.113.9 127.0.0.1 5",
     True, r"closed: closed before its PROXY header was complete"),
    ("truncated v2 (then EOF)", SIG + b"\x21\x11\x00\x0c\xcb\x00", True,
     r"closed: closed before its PROXY header was complete"),
    ("v1 without CRLF", b"PROXY TCP4 203.0.113.9 127.0.0.1 5 143\n", False,
     r"PROXY header refused: v1: LF without CR"),
    ("v1 too long", b"PROXY TCP4 " + b"1" * 120, False,
     r"PROXY header refused: v1: no CRLF in the first 107 bytes"),
    ("v1 bad address", b"PROXY TCP4 203.0.113.09 127.0.0.1 5 143\r\n",
     False, r"PROXY header refused: v1: source address is not an IPv4"),
    ("v1 bad port", b"PROXY TCP4 203.0.113.9 127.0.0.1 5 65536\r\n", False,
     r"PROXY header refused: v1: destination port"),
    ("v2 too long", SIG + b"\x21\x11\x07\xd0" + b"\0" * 12, False,
     r"PROXY header refused: v2: 2000 bytes of addresses and TLVs, more "
     r"than 1024"),
    ("v2 bad signature", b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c", False,
     r"PROXY header refused: v2: bad signature"),
    ("v2 bad family", v2("203.0.113.9", LB, 5, 143, fam=0x41), False,
     r"PROXY header refused: v2: address family and transport 0x41"),
    ("v2 bad version", v2("203.0.113.9", LB, 5, 143, cmd=0x11), False,
     r"PROXY header refused: v2: version is not 2"),
    ("v2 oversized TLV length", v2("203.0.113.9", LB, 5, 143,
                                   tlvs=b"\x04\x01\x00ab"), False,
     r"PROXY header refused: v2: a TLV longer than the header"),
    ("an IMAP command instead", b"a1 LOGIN frank frank-pw\r\n", False,
     r"PROXY header refused: not a PROXY protocol header"),
]


def test_malformed(tap, m):
    port = m.imap_ports[1]
    for name, data, shut, why in MALFORMED:
        off = m.log_size()
        got, closed = refused(m, port, data, shut=shut)
        tap.ok(closed and got == b"", "%s: closed without a word" % name,
               repr(got))
        tap.ok(m.wait_log(r"127\.0\.0\.1:\d+: " + why, off) is not None,
               "%s: logged" % name, m.log_since(off)[-800:])
    off = m.log_size()
    t0 = time.time()
    got, closed = refused(m, port, SIG + b"\x21\x11\x00", wait=10)
    took = time.time() - t0
    tap.ok(closed and got == b"" and took >= HEADER_TIMEOUT - 0.5,
           "a header that stops half-way is closed at its timeout",
           "%r, %.1f s" % (got, took))
    tap.ok(m.wait_log(r"PROXY header refused: none complete in time", off)
           is not None, "and logged")
    with T.Imap(m.host, port, source=LB,
                pre=v2("203.0.113.3", LB, 40004, port)) as c:
        t, _ = c.login("frank", "frank-pw")
        tap.ok(re.match(rb"t\d+ OK", t) is not None,
               "after all that, the next login works", repr(t))


def test_local(tap, m):
    port = m.imap_ports[1]
    # A LOCAL header may carry addresses and TLVs: they are skipped.
    hdr = v2("203.0.113.77", LB, 40005, port, cmd=0x20,
             tlvs=b"\x04\x00\x01x")
    off = m.log_size()
    with T.Imap(m.host, port, source=LB, pre=hdr) as c:
        tap.ok(c.greeting.startswith(b"* OK"), "v2 LOCAL: greeted",
               repr(c.greeting))
        local = "127.0.0.1:%d" % c.sock.getsockname()[1]
        t, _ = c.login("frank", "frank-pw")
        tap.ok(re.match(rb"t\d+ OK", t) is not None, "v2 LOCAL: a login "
               "works", repr(t))
    tap.ok(m.wait_log(r"%s: PROXY v2 without a client address" %
                      re.escape(local), off) is not None,
           "v2 LOCAL: logged with the connection's own address")
    tap.ok(logged_in(m, local, "frank", off) is not None,
           "v2 LOCAL: the session keeps the load balancer's address")
    tap.ok("203.0.113.77" not in m.log_since(off),
           "v2 LOCAL: its addresses are not used")


def test_pipelined(tap, m):
    port = m.imap_ports[1]
    hdr = v1("203.0.113.4", LB, 40006, port)
    with T.Imap(m.host, port, source=LB,
                pre=hdr + b"p1 CAPABILITY\r\np2 NOOP\r\n") as c:
        tap.ok(c.greeting.startswith(b"* OK"), "header and commands in "
               "one segment: greeted", repr(c.greeting))
        t, un = c.read_until_tagged("p1")
        tap.ok(t.startswith(b"p1 OK") and any(b"CAPABILITY" in u
                                              for u in un),
               "the first command after the header is answered",
               repr((t, un)))
        t, _ = c.read_until_tagged("p2")
        tap.ok(t.startswith(b"p2 OK"), "and the second", repr(t))
    pport = m.pop_ports[1]
    with T.Pop(m.host, pport, source=LB,
               pre=v2("198.51.100.3", LB, 40013, pport) +
               b"USER gwen\r\n") as p:
        r = p.readline()
        tap.ok(r.startswith(b"+OK"), "POP3: USER in the header's segment "
               "is answered", repr(r))
        r = p.cmd("PASS gwen-pw")
        tap.ok(r.startswith(b"+OK"), "and the login completes", repr(r))


class BioTLS:
    """TLS over a socket through memory BIOs, so that the PROXY header
    and the ClientHello go out in one send."""

    def __init__(self, sock, ctx, header):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out,
                                server_hostname="localhost")
        self.buf = b""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        sock.sendall(header + self.out.read())
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._pump()
        self._flush()

    def _flush(self):
        d = self.out.read()
        if d:
            self.sock.sendall(d)

    def _pump(self):
        self._flush()
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("closed during TLS")
        self.inc.write(d)

    def send(self, data):
        self.obj.write(data)
        self._flush()

    def readline(self):
        while b"\n" not in self.buf:
            try:
                self.buf += self.obj.read(65536)
            except ssl.SSLWantReadError:
                self._pump()
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line


def test_tls(tap, env, m):
    port = m.imaps_ports[0]
    ctx = T.tls_context(env.get_pki())
    off = m.log_size()
    sock = socket.create_connection((m.host, port), 10,
                                    source_address=(LB, 0))
    try:
        b = BioTLS(sock, ctx, v2("203.0.113.5", LB, 40007, port))
        g = b.readline()
        tap.ok(g.startswith(b"* OK"), "IMAPS: header and ClientHello in "
               "one segment: TLS up, greeted", repr(g))
        b.send(b"a1 LOGIN frank frank-pw\r\n")
        line = b.readline()
        while line.startswith(b"*"):
            line = b.readline()
        tap.ok(line.startswith(b"a1 OK"), "IMAPS: the login works",
               repr(line))
    except (EOFError, OSError, ssl.SSLError) as e:
        tap.ok(False, "IMAPS: header and ClientHello in one segment", e)
        tap.ok(False, "IMAPS: the login works")
    finally:
        sock.close()
    tap.ok(logged_in(m, "203.0.113.5:40007", "frank", off) is not None,
           "IMAPS: the login line names the header's address")
    tap.ok(m.wait_log(r"203\.0\.113\.5:40007: TLS TLSv1\.[23] ", off)
           is not None, "IMAPS: the handshake is logged with it too")
    with T.Imap(m.host, port, source=LB,
                pre=v1("203.0.113.6", LB, 40008, port),
                tls=(ctx, "localhost", None)) as c:
        t, _ = c.login("frank", "frank-pw")
        tap.ok(re.match(rb"t\d+ OK", t) is not None, "IMAPS: v1 then a "
               "handshake of its own, login works", repr(t))


def hold_ldapd(m):
    """mmp-ldapd stopped for NAME_HOLD seconds from now: a client's name
    comes after whatever the client sent with its header, every time."""
    pid = m.child_pid("mmp-ldapd")
    T.stop(pid)
    t = threading.Timer(NAME_HOLD, os.kill, (pid, signal.SIGCONT))
    t.start()
    return t


def test_naming(tap, env):
    """ClientLookup on PROXY listeners: nothing is read while the name
    is looked up, so the ClientHello reaches mmp-tlsd and a pipelined
    command the command reader; both well within the login timeout."""
    with open(env.hosts_file, "a") as f:
        f.write("%s\tlb-client.proxy.test\n" % NAMED)
    m = start_mmpd(env, name="named", store={"ClientLookup": "yes"})
    port = m.imaps_ports[0]
    ctx = T.tls_context(env.get_pki())
    off = m.log_size()
    held = hold_ldapd(m)
    t0 = time.time()
    sock = socket.create_connection((m.host, port), HEADER_TIMEOUT + 2,
                                    source_address=(LB, 0))
    try:
        b = BioTLS(sock, ctx, v1(NAMED, LB, 40040, port))
        g = b.readline()
        took = time.time() - t0
        tap.ok(g.startswith(b"* OK") and took < HEADER_TIMEOUT - 1,
               "ClientLookup, IMAPS: header and ClientHello in one "
               "segment: TLS up once named, greeted",
               "%r after %.1f s" % (g, took))
        b.send(b"a1 LOGIN frank frank-pw\r\n")
        line = b.readline()
        while line.startswith(b"*"):
            line = b.readline()
        tap.ok(line.startswith(b"a1 OK"), "ClientLookup, IMAPS: the login "
               "works", repr(line))
    except (EOFError, OSError, ssl.SSLError) as e:
        tap.ok(False, "ClientLookup, IMAPS: header and ClientHello in one "
               "segment: TLS up once named, greeted",
               "%s after %.1f s; %s" % (e, time.time() - t0,
                                        m.log_since(off)[-800:]))
        tap.ok(False, "ClientLookup, IMAPS: the login works")
    finally:
        sock.close()
        held.join()
    tap.ok(m.wait_log(r"203\.0\.113\.21:40040: connected on \S+ "
                      r"\([A-Z0-9, ]+\), name lb-client\.proxy\.test", off)
           is not None, "ClientLookup, IMAPS: the header's address is "
           "named")
    port = m.imap_ports[1]
    off = m.log_size()
    held = hold_ldapd(m)
    t0 = time.time()
    try:
        with T.Imap(m.host, port, HEADER_TIMEOUT + 2, source=LB,
                    pre=v1(NAMED, LB, 40041, port) +
                    b"a CAPABILITY\r\n") as c:
            t, un = c.read_until_tagged("a")
            took = time.time() - t0
    finally:
        held.join()
    tap.ok(c.greeting.startswith(b"* OK"), "ClientLookup, IMAP: a "
           "command behind the header, greeted once named",
           repr(c.greeting))
    tap.ok(t.startswith(b"a OK") and any(b"CAPABILITY" in u for u in un)
           and took < HEADER_TIMEOUT - 1, "and the command is answered",
           "%r after %.1f s" % ((t, un), took))
    tap.ok(m.wait_log(r"203\.0\.113\.21:40041: connected on \S+ "
                      r"\([A-Z0-9, ]+\), name lb-client\.proxy\.test", off)
           is not None, "ClientLookup, IMAP: the header's address is named")
    m.stop()


def test_vdmap(tap, env, m):
    port = m.imap_ports[1]
    off = m.log_size()
    with T.Imap(m.host, port, source=LB,
                pre=v2("203.0.113.7", VD_ADDR, 40009, 143)) as c:
        t, _ = c.login("joe", "a-pw")
        tap.ok(re.match(rb"t\d+ OK", t) is not None, "v2 to %s: joe is "
               "joe@a.test there (vdmap a)" % VD_ADDR, repr(t))
    tap.ok(m.wait_log(r"203\.0\.113\.7:40009: PROXY v2 via 127\.0\.0\.1:"
                      r"\d+ to 192\.0\.2\.7:143", off) is not None,
           "the destination is the session's local address")
    got = store_log(env, "store1", r"imap-login: .*Login: "
                    r"user=<joe@a\.test>.* rip=([0-9.]+),")
    tap.ok(got is not None and got.group(1) == "127.0.0.1",
           "the domain's own keys apply (a:ForwardClientAddress no: the "
           "store sees mmpd)", got.group(0) if got else "no login line")
    with T.Imap(m.host, port, source=LB,
                pre=v2("203.0.113.7", LB, 40010, port)) as c:
        t, _ = c.login("joe", "a-pw")
        tap.ok(b"NO" in t, "v2 to 127.0.0.1: no such joe (no domain)",
               repr(t))


def test_no_forward(tap, env):
    m = start_mmpd(env, forward="no", name="nofwd")
    port = m.imap_ports[1]
    with T.Imap(m.host, port, source=LB,
                pre=v1("203.0.113.8", LB, 40020, port)) as c:
        t, _ = c.login("gwen", "gwen-pw")
        tap.ok(re.match(rb"t\d+ OK", t) is not None,
               "ForwardClientAddress no: the login works", repr(t))
    got = store_log(env, "store2", r"imap-login: .*Login: user=<gwen>.* "
                    r"rip=([0-9.]+),")
    tap.ok(got is not None and got.group(1) == "127.0.0.1",
           "ForwardClientAddress no: Dovecot sees mmpd's own address",
           got.group(0) if got else "no login line")
    m.stop()


def test_starttls(tap, env):
    """The address goes to the store inside StoreStartTLS too."""
    m = start_mmpd(env, name="starttls", store={
        "StoreStartTLS": "yes", "SSLStoreCAFile": env.get_pki().ca()})
    for what, port, conn, user, pw, store, rip in (
            ("IMAP", m.imap_ports[1], T.Imap, "frank", "frank-pw", "store1",
             "203.0.113.10"),
            ("POP3", m.pop_ports[1], T.Pop, "gwen", "gwen-pw", "store2",
             "198.51.100.10")):
        with conn(m.host, port, source=LB,
                  pre=v1(rip, LB, 40030, port)) as c:
            ok = c.login(user, pw)
            ok = ok[0] if isinstance(ok, tuple) else ok
            tap.ok(re.match(rb"(t\d+ )?\+?OK", ok) is not None,
                   "StoreStartTLS, %s: the login works" % what, repr(ok))
        tap.ok(store_log(env, store, r"%s-login: .*Login: user=<%s>.* "
                         r"rip=%s,.* TLS" % (what.lower(), user,
                                             re.escape(rip))) is not None,
               "StoreStartTLS, %s: Dovecot saw rip=%s over TLS" %
               (what, rip))
    m.stop()


def test_config(tap, env):
    m = env.mmpd(name="badconf", imap={"ProxyProtocolPorts": "1"})
    m.write_config()
    rc, out = m.check()
    tap.ok(rc != 0 and "ProxyProtocolPorts: 1 is not a listener" in out,
           "a ProxyProtocolPorts entry that names no listener is refused",
           out)
    m.conf_imap["ProxyProtocolPorts"] = str(m.imap_ports[0])
    m.write_config()
    rc, out = m.check()
    tap.ok(rc != 0 and "needs ProxyProtocolNetworks" in out,
           "ProxyProtocolPorts without ProxyProtocolNetworks is refused",
           out)
    m.conf_imap["ProxyProtocolNetworks"] = "127.0.0.1"
    m.write_config()
    rc, out = m.check(["-n"])
    tap.ok(rc == 0 and re.search(r"listener 127\.0\.0\.1:%d imap plain "
                                 r"proxy" % m.imap_ports[0], out),
           "mmpd -nn marks the listener", out[-600:])


def main(tap):
    env = setup(tap)
    test_config(tap, env)
    m = start_mmpd(env)
    test_imap(tap, env, m)
    test_pop(tap, env, m)
    test_untrusted(tap, m)
    test_local(tap, m)
    test_pipelined(tap, m)
    test_malformed(tap, m)
    test_tls(tap, env, m)
    test_vdmap(tap, env, m)
    m.stop()
    test_no_forward(tap, env)
    test_starttls(tap, env)
    test_naming(tap, env)


T.run(main)
