#!/usr/bin/env python3
# TCPAccess and ClientLookup against real slapd and Dovecot, Workers 2,
# clients bound to several 127.0.0.x addresses. Rules on addresses in the
# rule form (IMAP) and the filter form (POP): allow before deny, EXCEPT,
# imap allowed where pop is refused, imaps only on the IMAPS port, a
# virtual domain's own rules on its local address. The refused client
# reads "* BYE [CONTACTADMIN]" / "-ERR [SYS/PERM]" through imaplib and
# poplib, and the log names the rule, where it was written and the client.
# ClientLookup: names from a private HostsFile, forward-confirmed; a PTR
# that reads as an address is a DNSSPOOFER; a stopped mmp-ldapd makes the
# client UNKNOWN after the timeout, and nothing is read before the
# greeting. Names from DNS: an mmpd in a mount namespace of its own reads
# a resolv.conf that points at a small DNS server of this test, whose
# PTR records name 127.0.0.63 honestly and 127.0.0.61 with a name whose
# A record is another address (forward confirmation fails: DNSSPOOFER).
# Configuration errors carry file:line (mmpd -n).

import imaplib
import os
import poplib
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

VD_ADDR = "127.0.0.2"		# the virtual domain's local address
IMAP_RULES = ("-imap:127.0.0.21 127.0.0.24/29 EXCEPT 127.0.0.26"
              "$+imap:127.0.0.25$-imaps:127.0.0.23")
POP_RULES = "ALL: 127.0.0.22 : deny $ pop: 127.0.0.21 : allow"
VD_RULES = "-ALL:127.0.0.22"
NAME_RULES = ("+imap:good1.ok.test$-imap:.ok.test$-ALL:.bad.test"
              "$-ALL:DNSSPOOFER$-imap:UNKNOWN EXCEPT 127.0.0.1")
HOSTS = """\
127.0.0.31\tgood1.ok.test
127.0.0.32\tgood2.ok.test
127.0.0.33\tevil.bad.test
127.0.0.34\t127.0.0.1
127.0.0.37\t127.0.0.37
""" + "".join("127.0.0.%d\tpool.pool.test\n" % i for i in range(41, 50))


DNS_ADDR = "127.0.0.153"
DNS_PTR = {"127.0.0.61": "liar.dns.test", "127.0.0.63": "honest.dns.test"}
DNS_A = {"liar.dns.test": "127.0.0.62", "honest.dns.test": "127.0.0.63"}


class Dns:
    """A DNS server on UDP for the names above: PTR and A answers,
    NODATA for other types of a known name, NXDOMAIN for the rest."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((DNS_ADDR, 53))
        self.queries = []
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @staticmethod
    def encode(name):
        return b"".join(bytes([len(x)]) + x.encode()
                        for x in name.split(".")) + b"\0"

    @staticmethod
    def question(q):
        labels, i = [], 12
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode("latin-1"))
            i += 1 + q[i]
        qtype, = struct.unpack("!H", q[i + 1:i + 3])
        return ".".join(labels).lower(), qtype, q[12:i + 5]

    def answer(self, q):
        name, qtype, qsec = self.question(q)
        self.queries.append((name, qtype))
        rrs, rcode = [], 3
        if name.endswith(".in-addr.arpa"):
            addr = ".".join(reversed(name.split(".")[:4]))
            if addr in DNS_PTR:
                rcode = 0
                if qtype == 12:
                    rrs.append((12, self.encode(DNS_PTR[addr])))
        elif name in DNS_A:
            rcode = 0
            if qtype == 1:
                rrs.append((1, socket.inet_aton(DNS_A[name])))
        out = q[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, len(rrs),
                                  0, 0) + qsec
        for t, rdata in rrs:
            out += struct.pack("!HHHIH", 0xc00c, t, 1, 60, len(rdata)) + \
                rdata
        return out

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self.answer(q), peer)
            except (IndexError, struct.error, OSError):
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


class NsMmpd(T.Mmpd):
    """mmpd with /etc/resolv.conf replaced, in a mount namespace of its
    own: only its processes see the test's DNS server."""

    def start(self, wait=True):
        self.write_config()
        rc = self.env.path("resolv.conf")
        with open(rc, "w") as f:
            f.write("nameserver %s\n" % DNS_ADDR)
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "sh", "-c",
             'mount --bind "$0" /etc/resolv.conf && exec "$@"', rc,
             T.MMPD_BIN, "-d", "-f", self.confdir],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.env.cleanups.append(self.stop)
        if wait:
            self.wait_ready()
        return self


class SrcIMAP(imaplib.IMAP4):
    """imaplib from a chosen client address."""

    def __init__(self, host, port, src):
        self.src = src
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


class SrcPOP3(poplib.POP3):
    """poplib from a chosen client address."""

    def __init__(self, host, port, src):
        self.src = src
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


def raw_first(host, port, src, send=b"", timeout=15, lines=1):
    """The first lines mmpd sends a client at src (b"" on close)."""
    with socket.create_connection((host, port), timeout,
                                  source_address=(src, 0)) as s:
        s.settimeout(timeout)
        if send:
            s.sendall(send)
        buf = b""
        while buf.count(b"\r\n") < lines:
            try:
                d = s.recv(4096)
            except OSError:
                break
            if not d:
                break
            buf += d
        return buf


def imap_try(host, port, src):
    """("ok", greeting) or ("refused", error text) through imaplib."""
    try:
        c = SrcIMAP(host, port, src)
    except (imaplib.IMAP4.error, OSError, EOFError) as e:
        return "refused", str(e)
    w = c.welcome
    try:
        c.logout()
    except (imaplib.IMAP4.error, OSError):
        pass
    return "ok", w.decode("latin-1")


def pop_try(host, port, src):
    try:
        c = SrcPOP3(host, port, src)
    except (poplib.error_proto, OSError) as e:
        return "refused", str(e)
    w = c.getwelcome()
    c.quit()
    return "ok", w.decode("latin-1")


def refusal_logged(m, off, src, rule, where):
    pat = (r"session 0x[0-9a-f]+ %s:\d+: refused by TCPAccess rule "
           r"\"%s\" \(%s\)" % (re.escape(src), re.escape(rule),
                               re.escape(where)))
    return m.wait_log(pat, off, timeout=5) is not None


def setup(tap):
    env = T.Env("tcpaccess", tap).setup()
    env.user("ann", "ann-pw", "store1")
    env.stores["store1"].seed("ann", T.message("for ann"))
    env.start_backends()
    with open(env.hosts_file, "a") as f:
        f.write(HOSTS)
    return env


def make_addr_mmpd(env):
    port = T.free_port(("127.0.0.1", VD_ADDR))
    vdmap = env.path("vdmap.cfg")
    with open(vdmap, "w") as f:
        f.write("# the second address has rules of its own\n"
                "vdmap v %s\nv:TCPAccess \"%s\"\n" % (VD_ADDR, VD_RULES))
    sl = "ImapProxyAService@127.0.0.1:%d|%s:%d" % (port, VD_ADDR, port)
    m = env.mmpd(imap_ports=[port], tls=True,
                 imap={"TCPAccess": IMAP_RULES, "VirtualDomainFile": vdmap},
                 pop={"TCPAccess": POP_RULES})
    m.conf_a["ServiceList"] = sl + " PopProxyAService@" + "|".join(
        "127.0.0.1:%d" % p for p in m.pop_ports + m.pop3s_ports)
    m.conf_imap["SSLPorts"] = " ".join(str(p) for p in m.imaps_ports)
    sl_imaps = "|".join("127.0.0.1:%d" % p for p in m.imaps_ports)
    m.conf_a["ServiceList"] = m.conf_a["ServiceList"].replace(
        "ImapProxyAService@", "ImapProxyAService@%s|" % sl_imaps, 1)
    lines = m.write_config()
    return m, lines


def test_addresses(tap, env, m, lines):
    port, pport = m.imap_ports[0], m.pop_ports[0]
    where = "ImapProxyAService.cfg:%d" % lines["ImapProxyAService.cfg"][
        "TCPAccess"]
    pwhere = "PopProxyAService.cfg:%d" % lines["PopProxyAService.cfg"][
        "TCPAccess"]
    for src, want in (("127.0.0.1", "ok"), ("127.0.0.21", "refused"),
                      ("127.0.0.24", "refused"), ("127.0.0.26", "ok"),
                      ("127.0.0.31", "refused"), ("127.0.0.25", "ok"),
                      ("127.0.0.22", "ok")):
        got = [imap_try("127.0.0.1", port, src)[0] for _ in range(4)]
        tap.ok(got == [want] * 4, "imap from %s: %s, 4 times over 2 "
               "workers" % (src, want), repr(got))
    off = m.log_size()
    r, text = imap_try("127.0.0.1", port, "127.0.0.21")
    tap.ok(r == "refused" and "BYE" in text and
           "[CONTACTADMIN] Access denied" in text,
           "imaplib reads the refusal: * BYE [CONTACTADMIN] Access denied",
           text)
    tap.ok(refusal_logged(m, off, "127.0.0.21", IMAP_RULES.split("$")[0],
                          where),
           "the log names the rule, its file:line and the client",
           m.log_since(off)[-1500:])
    line = raw_first("127.0.0.1", port, "127.0.0.21")
    tap.is_(line, b"* BYE [CONTACTADMIN] Access denied\r\n",
            "the raw refusal line, then the connection ends")
    off = m.log_size()
    r, text = imap_try("127.0.0.1", port, "127.0.0.25")
    tap.ok(r == "ok" and not re.search(r"127\.0\.0\.25:\d+: refused",
                                       m.log_since(off)),
           "an allow rule wins over a deny rule written before it", text)
    t, subj, d = T.imap_route(m, "ann", "ann-pw")
    tap.ok(b" OK" in t and subj == ["for ann"],
           "an allowed client logs in and reads its mail", d)
    # POP, filter form: .22 refused there, allowed on IMAP above.
    off = m.log_size()
    r, text = pop_try("127.0.0.1", pport, "127.0.0.22")
    tap.ok(r == "refused" and "-ERR [SYS/PERM] Access denied" in text,
           "poplib reads the refusal: -ERR [SYS/PERM] Access denied", text)
    tap.ok(refusal_logged(m, off, "127.0.0.22", "ALL: 127.0.0.22 : deny",
                          pwhere),
           "the POP refusal names the filter-form rule and its file:line",
           m.log_since(off)[-1500:])
    r, _ = pop_try("127.0.0.1", pport, "127.0.0.21")
    tap.is_(r, "ok", "pop from 127.0.0.21 (refused on imap): allowed")


def test_imaps(tap, env, m):
    """-imaps:127.0.0.23 refuses on the IMAPS port only, without a word."""
    ctx = T.tls_context(env.get_pki())
    off = m.log_size()
    refused = False
    try:
        with socket.create_connection(("127.0.0.1", m.imaps_ports[0]), 10,
                                      source_address=("127.0.0.23", 0)) \
                as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                refused = t.recv(100) == b""
    except (OSError, T.ssl.SSLError):
        refused = True
    tap.ok(refused and m.wait_log(r"127\.0\.0\.23:\d+: refused by TCPAccess "
                                  r"rule \"-imaps:127\.0\.0\.23\"", off,
                                  timeout=5),
           "imaps from 127.0.0.23: closed before the handshake, logged",
           m.log_since(off)[-1500:])
    r, _ = imap_try("127.0.0.1", m.imap_ports[0], "127.0.0.23")
    tap.is_(r, "ok", "imap on the plain port from 127.0.0.23: allowed")
    with socket.create_connection(("127.0.0.1", m.imaps_ports[0]), 10,
                                  source_address=("127.0.0.26", 0)) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            g = t.recv(100)
    tap.ok(g.startswith(b"* OK"), "imaps from 127.0.0.26: greeted", g)


def test_vdomain(tap, env, m):
    port = m.imap_ports[0]
    off = m.log_size()
    r, _ = imap_try(VD_ADDR, port, "127.0.0.22")
    tap.ok(r == "refused" and refusal_logged(
        m, off, "127.0.0.22", VD_RULES, "virtual domain v, %s:3" %
        env.path("vdmap.cfg")),
        "on %s the domain's rule refuses 127.0.0.22 and is named" % VD_ADDR,
        m.log_since(off)[-1500:])
    r, _ = imap_try(VD_ADDR, port, "127.0.0.21")
    tap.is_(r, "ok", "on %s the service's rules do not apply: 127.0.0.21 "
            "is let in" % VD_ADDR)
    r, _ = imap_try("127.0.0.1", port, "127.0.0.22")
    tap.is_(r, "ok", "127.0.0.22 on the service's address: let in")


def test_ipv6(tap, env):
    """A dual-stack listener: IPv6 patterns in brackets, and an IPv4 client
    (an IPv4-mapped peer) matched by its IPv4 patterns."""
    port = T.free_port(("127.0.0.1",))
    m = env.mmpd(name="v6", imap_ports=[port], pop_ports=[],
                 imap={"TCPAccess": "-imap:[::1]/128 127.0.0.21"})
    m.conf_a["ServiceList"] = "ImapProxyAService@[::]:%d" % port
    lines = m.write_config()
    m.start()
    where = "ImapProxyAService.cfg:%d" % lines["ImapProxyAService.cfg"][
        "TCPAccess"]
    off = m.log_size()
    r, text = imap_try("::1", port, "::1")
    tap.ok(r == "refused" and "[CONTACTADMIN]" in text and
           refusal_logged(m, off, "[::1]", "-imap:[::1]/128 127.0.0.21",
                          where),
           "::1 refused by [::1]/128 on a dual-stack listener",
           m.log_since(off)[-1500:])
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.21")
    tap.ok(r == "refused" and refusal_logged(
        m, off, "127.0.0.21", "-imap:[::1]/128 127.0.0.21", where),
        "127.0.0.21, an IPv4-mapped peer there, refused by its IPv4 "
        "pattern", m.log_since(off)[-1500:])
    r, _ = imap_try("127.0.0.1", port, "127.0.0.22")
    tap.is_(r, "ok", "127.0.0.22 there: let in")
    m.stop()


def make_name_mmpd(env):
    m = env.mmpd(name="named",
                 imap={"TCPAccess": NAME_RULES, "ClientLookup": "yes"},
                 pop={"TCPAccess": "-pop:.bad.test", "ClientLookup": "yes"})
    return m


def test_names(tap, env, m):
    port = m.imap_ports[0]
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.31")
    tap.ok(r == "ok" and m.wait_log(r"127\.0\.0\.31:\d+: connected on "
                                    r"\S+ \([A-Z0-9, ]+\), name good1\.ok\.test", off, 5),
           "127.0.0.31 is good1.ok.test (HostsFile, confirmed): allowed, "
           "the name in the connected line", m.log_since(off)[-1500:])
    for src, rule in (("127.0.0.32", "-imap:.ok.test"),
                      ("127.0.0.33", "-ALL:.bad.test")):
        off = m.log_size()
        r, text = imap_try("127.0.0.1", port, src)
        tap.ok(r == "refused" and "Access denied" in text and
               refusal_logged(m, off, src, rule, "ImapProxyAService.cfg:"
                              "%d" % m.lines["ImapProxyAService.cfg"][
                                  "TCPAccess"]),
               "%s refused by host-name rule %s" % (src, rule),
               m.log_since(off)[-1500:])
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.34")
    tap.ok(r == "refused" and m.wait_log(
        r"127\.0\.0\.34:\d+: connected on \S+ \([A-Z0-9, ]+\), name 127\.0\.0\.1 not "
        r"confirmed \(DNSSPOOFER\)", off, 5) and
        refusal_logged(m, off, "127.0.0.34", "-ALL:DNSSPOOFER",
                       "ImapProxyAService.cfg:%d" %
                       m.lines["ImapProxyAService.cfg"]["TCPAccess"]),
        "127.0.0.34, whose name reads 127.0.0.1, fails forward "
        "confirmation: DNSSPOOFER, refused", m.log_since(off)[-1500:])
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.37")
    tap.ok(r == "refused" and m.wait_log(
        r"127\.0\.0\.37:\d+: connected on \S+ \([A-Z0-9, ]+\), name 127\.0\.0\.37 not "
        r"confirmed \(DNSSPOOFER\)", off, 5),
        "127.0.0.37, whose name is its own address: never a name, "
        "DNSSPOOFER, refused", m.log_since(off)[-1500:])
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.49")
    tap.ok(r == "ok" and m.wait_log(
        r"127\.0\.0\.49:\d+: connected on \S+ \([A-Z0-9, ]+\), name pool\.pool\.test\n",
        off, 5), "127.0.0.49, the ninth address of pool.pool.test: "
        "confirmed among all of the name's addresses",
        m.log_since(off)[-1500:])
    # Not in the HostsFile: a PTR query to DNS (mmp-ldapd's sandbox),
    # which has no name for it, or none within the timeout.
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.35")
    tap.ok(r == "refused" and m.wait_log(
        r"127\.0\.0\.35:\d+: connected on \S+ \([A-Z0-9, ]+\), name unknown", off, 5) and
        refusal_logged(m, off, "127.0.0.35", "-imap:UNKNOWN EXCEPT "
                       "127.0.0.1", "ImapProxyAService.cfg:%d" %
                       m.lines["ImapProxyAService.cfg"]["TCPAccess"]),
        "127.0.0.35, without a name (DNS asked): UNKNOWN, refused",
        m.log_since(off)[-1500:])
    off = m.log_size()
    r, text = pop_try("127.0.0.1", m.pop_ports[0], "127.0.0.33")
    tap.ok(r == "refused" and "[SYS/PERM]" in text,
           "pop from evil.bad.test refused by its name", text)
    r, _ = pop_try("127.0.0.1", m.pop_ports[0], "127.0.0.32")
    tap.is_(r, "ok", "pop from good2.ok.test: allowed")


def test_timeout(tap, env, m):
    """mmp-ldapd stopped: no name in time, UNKNOWN; nothing read first."""
    pid = m.child_pid("mmp-ldapd")
    if pid is None:
        tap.ok(False, "mmp-ldapd found")
        return
    T.stop(pid)
    try:
        off = m.log_size()
        first = raw_first("127.0.0.1", m.pop_ports[0], "127.0.0.31",
                          send=b"BOGUS\r\n", lines=2)
        tap.ok(re.match(rb"\+OK [^\r\n]*\r\n-ERR ", first) and m.wait_log(
            r"127\.0\.0\.31:\d+: connected on \S+ \([A-Z0-9, ]+\), name unknown.*\n.*"
            r"client name: no answer in time", off, 5),
            "mmp-ldapd does not answer: the client is UNKNOWN after the "
            "timeout and greeted first, its early command answered after",
            first)
        off = m.log_size()
        r, _ = imap_try("127.0.0.1", m.imap_ports[0], "127.0.0.31")
        tap.ok(r == "refused" and refusal_logged(
            m, off, "127.0.0.31", "-imap:UNKNOWN EXCEPT 127.0.0.1",
            "ImapProxyAService.cfg:%d" %
            m.lines["ImapProxyAService.cfg"]["TCPAccess"]),
            "good1.ok.test without an answer is UNKNOWN: refused",
            m.log_since(off)[-1500:])
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(0.5)
    r, _ = imap_try("127.0.0.1", m.imap_ports[0], "127.0.0.31")
    tap.is_(r, "ok", "mmp-ldapd back: good1.ok.test allowed again")


def test_dns(tap, env):
    try:
        dns = Dns()
    except OSError as e:
        tap.skip("names from DNS", "no DNS server on %s: %s" % (DNS_ADDR, e))
        return
    env.cleanups.append(dns.close)
    m = NsMmpd(env, "dns", imap={"ClientLookup": "yes",
                                 "TCPAccess": "-ALL:DNSSPOOFER"})
    env.mmpds.append(m)
    m.start()
    port = m.imap_ports[0]
    off = m.log_size()
    r, _ = imap_try("127.0.0.1", port, "127.0.0.63")
    tap.ok(r == "ok" and m.wait_log(r"127\.0\.0\.63:\d+: connected on "
                                    r"\S+ \([A-Z0-9, ]+\), name honest\.dns\.test", off, 5),
           "127.0.0.63: PTR honest.dns.test, whose A record is 127.0.0.63: "
           "confirmed, let in", m.log_since(off)[-1500:])
    off = m.log_size()
    r, text = imap_try("127.0.0.1", port, "127.0.0.61")
    tap.ok(r == "refused" and m.wait_log(
        r"127\.0\.0\.61:\d+: connected on \S+ \([A-Z0-9, ]+\), name liar\.dns\.test not "
        r"confirmed \(DNSSPOOFER\)\n.*client name: liar\.dns\.test does "
        r"not resolve to 127\.0\.0\.61", off, 5) and
        refusal_logged(m, off, "127.0.0.61", "-ALL:DNSSPOOFER",
                       "ImapProxyAService.cfg:%d" %
                       m.write_config()["ImapProxyAService.cfg"]["TCPAccess"]),
        "127.0.0.61: PTR liar.dns.test, whose A record is 127.0.0.62: "
        "forward confirmation fails, DNSSPOOFER refused",
        m.log_since(off)[-1500:])
    tap.ok(("61.0.0.127.in-addr.arpa", 12) in dns.queries and
           ("liar.dns.test", 1) in dns.queries,
           "mmp-ldapd asked DNS for the PTR and then the A record",
           repr(dns.queries))
    tap.ok(m.alive(), "mmpd with names from DNS still running")
    m.stop()


def test_config_errors(tap, env):
    cases = [
        ({"TCPAccess": "+imap:@staff"}, None,
         r"ImapProxyAService\.cfg:%d: TCPAccess: \"@staff\": netgroups are "
         r"not supported"),
        ({"TCPAccess": "-ALL:10.0.0"}, None,
         r"ImapProxyAService\.cfg:%d: TCPAccess: \"10\.0\.0\": incomplete"),
        ({"TCPAccess": "-ALL:.example.com"}, None,
         r"ImapProxyAService\.cfg:%d: TCPAccess: \.example\.com needs the "
         r"client's host name: set ClientLookup yes"),
        ({}, "vdmap w 127.0.0.2\nw:TCPAccess \"-ALL:KNOWN\"\n",
         r"vdmap-err\.cfg:2: TCPAccess: KNOWN needs the client's host name: "
         r"set ClientLookup yes for virtual domain w"),
        ({}, "vdmap w 127.0.0.2\nw:TCPAccess \"+pop:ALL$\"\n",
         r"vdmap-err\.cfg:2: .*TCPAccess: empty rule"),
    ]
    for i, (imap, vdmap, want) in enumerate(cases):
        kw = dict(imap)
        if vdmap is not None:
            path = env.path("vdmap-err.cfg")
            with open(path, "w") as f:
                f.write(vdmap)
            kw["VirtualDomainFile"] = path
        m = env.mmpd(name="bad%d" % i, imap=kw)
        lines = m.write_config()
        rc, out = m.check()
        if "%d" in want:
            want = want % lines["ImapProxyAService.cfg"]["TCPAccess"]
        tap.ok(rc != 0 and re.search(want, out) is not None,
               "mmpd -n refuses with file:line: %s" % want, out[-800:])
    m = env.mmpd(name="good", imap={"TCPAccess": "-ALL:.example.com",
                                    "ClientLookup": "yes"})
    m.write_config()
    rc, out = m.check()
    tap.ok(rc == 0, "with ClientLookup yes a host-name rule is taken",
           out[-800:])


def main(tap):
    env = setup(tap)
    test_config_errors(tap, env)
    m, lines = make_addr_mmpd(env)
    m.start()
    test_addresses(tap, env, m, lines)
    test_imaps(tap, env, m)
    test_vdomain(tap, env, m)
    tap.ok(m.alive(), "mmpd still running")
    m.stop()
    test_ipv6(tap, env)
    n = make_name_mmpd(env)
    n.lines = n.write_config()
    n.start()
    test_names(tap, env, n)
    test_timeout(tap, env, n)
    tap.ok(n.alive(), "mmpd with ClientLookup still running")
    n.stop()
    test_dns(tap, env)


T.run(main)
