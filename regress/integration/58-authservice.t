#!/usr/bin/env python3
# AuthService, AuthServiceTTL, AuthServiceClients (POP-before-SMTP): a
# POP3 login from 127.0.0.2 is remembered (by mmp-ldapd, for every relay
# worker) in the virtual domain of the address it came in on; an MTA
# (bound to 127.0.0.5, listed in AuthServiceClients) asking
# "XQUERYAUTH 127.0.0.2" on that domain's address hears "+OK USER", on
# another domain's "-ERR none", after AuthServiceTTL "-ERR none". For a
# client not listed, and on a domain without AuthService, the command
# does not exist: the same answer as any unknown command. A failed login
# is not remembered; a bad argument is a bad command.

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADDR_X, ADDR_Y, ADDR_N = "127.0.0.6", "127.0.0.7", "127.0.0.8"
CLIENT, CLIENT2, MTA, OTHER = "127.0.0.2", "127.0.0.3", "127.0.0.5", \
    "127.0.0.9"
TTL = 3

VDMAP = """\
vdmap x {x}
x:AuthService yes
x:AuthServiceTTL {ttl}
vdmap y {y}
y:AuthService yes
vdmap n {n}
"""


class PopFrom(T.Pop):
    """A POP3 client whose connection leaves from address src."""

    def __init__(self, src, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout,
                                             source_address=(src, 0))
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.plain = self.sock
        self.greeting = self.readline()


def setup(tap):
    env = T.Env("authsvc", tap).setup()
    env.user("pat", "pat-pw", "store1")
    env.user("quinn", "quinn-pw", "store1")
    env.start_backends()
    return env


def make_mmpd(env):
    port = T.free_port((ADDR_X, ADDR_Y, ADDR_N))
    vdmap = env.path("vdmap.cfg")
    with open(vdmap, "w") as f:
        f.write(VDMAP.format(x=ADDR_X, y=ADDR_Y, n=ADDR_N, ttl=TTL))
    sl = "PopProxyAService@%s" % "|".join(
        "%s:%d" % (a, port) for a in (ADDR_X, ADDR_Y, ADDR_N))
    # The service: AuthService off, a TTL for domain y (x has its own).
    return env.mmpd(host=ADDR_X, imap_ports=[], pop_ports=[port],
                    aservice={"ServiceList": sl},
                    pop={"VirtualDomainFile": vdmap,
                         "SearchFormat": "(uid=%U)", "ReplayFormat": "%U",
                         "AuthServiceTTL": 60,
                         "AuthServiceClients": MTA + "/32 192.0.2.0/24"})


def ask(m, src, at, what):
    with PopFrom(src, at, m.pop_ports[0]) as p:
        r = p.cmd(what)
        q = p.cmd("QUIT")
    return r, q


def login(m, src, at, user, pw):
    with PopFrom(src, at, m.pop_ports[0]) as p:
        r = p.login(user, pw)
        p.cmd("QUIT")
    return r


def test_answer(tap, m):
    r = login(m, CLIENT, ADDR_X, "pat", "pat-pw")
    tap.ok(r.startswith(b"+OK"), "pat logs in from %s on domain x" % CLIENT,
           repr(r))
    r, q = ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT)
    tap.is_(r, b"+OK pat\r\n", "the MTA on domain x: +OK pat")
    tap.ok(q.startswith(b"+OK"), "and the session goes on to QUIT", repr(q))
    r, _ = ask(m, MTA, ADDR_X, "xqueryauth " + CLIENT)
    tap.is_(r, b"+OK pat\r\n", "the command in lower case too")
    r, _ = ask(m, MTA, ADDR_Y, "XQUERYAUTH " + CLIENT)
    tap.is_(r, b"-ERR none\r\n", "the MTA on domain y: none (per domain)")
    r, _ = ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT2)
    tap.is_(r, b"-ERR none\r\n", "an address nobody logged in from: none")
    # Every relay worker: one table in mmp-ldapd.
    got = [ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT)[0] for _ in range(6)]
    tap.ok(all(g == b"+OK pat\r\n" for g in got), "asked six times: always "
           "pat", repr(got))
    m.wait_log_still()
    logged = set(re.findall(r"relay (\d+): session \S+ %s:\d+: user \"pat\" "
                            r"logged in" % re.escape(CLIENT), m.log()))
    relays = set(re.findall(r"relay (\d+): session \S+ %s:\d+: XQUERYAUTH "
                            r"answered: pat" % re.escape(MTA), m.log()))
    tap.diag("pat logged in on relay worker %s, answered by %s" %
             (sorted(logged), sorted(relays)))


def test_unknown(tap, m):
    """For a client not listed, and on domain n, no such command."""
    want, _ = ask(m, OTHER, ADDR_X, "XQUERYAUTX " + CLIENT)
    r, _ = ask(m, OTHER, ADDR_X, "XQUERYAUTH " + CLIENT)
    tap.is_(r, want, "a client not in AuthServiceClients: answered as an "
            "unknown command")
    tap.ok(r.startswith(b"-ERR") and b"pat" not in r, "(which is -ERR)",
           repr(r))
    r, _ = ask(m, CLIENT, ADDR_X, "XQUERYAUTH " + CLIENT)
    tap.is_(r, want, "the POP client itself: unknown command")
    r, _ = ask(m, MTA, ADDR_N, "XQUERYAUTH " + CLIENT)
    tap.is_(r, want, "the MTA on domain n (AuthService off): unknown "
            "command")
    with PopFrom(MTA, ADDR_X, m.pop_ports[0]) as p:
        bad = [p.cmd("XQUERYAUTH"), p.cmd("XQUERYAUTH nosuchhost"),
               p.cmd("XQUERYAUTH 127.0.0.2 x"),
               p.cmd("XQUERYAUTH 127.0.0.2:25"),
               p.cmd("XQUERYAUTH  127.0.0.2"),
               p.cmd("XQUERYAUTH 127.0.0.2/32")]
        again = p.cmd("XQUERYAUTH 127.0.0.2")
    tap.ok(all(b == b"-ERR XQUERYAUTH needs one IP address\r\n"
               for b in bad), "bad arguments: -ERR", repr(bad))
    tap.is_(again, b"+OK pat\r\n", "then a good one is answered")


def test_failed_and_ipv6_form(tap, m):
    r = login(m, CLIENT2, ADDR_X, "quinn", "wrong-pw")
    tap.ok(r.startswith(b"-ERR"), "quinn fails from %s" % CLIENT2, repr(r))
    r, _ = ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT2)
    tap.is_(r, b"-ERR none\r\n", "a failed login is not remembered")
    r, _ = ask(m, MTA, ADDR_X, "XQUERYAUTH ::ffff:" + CLIENT)
    tap.is_(r, b"-ERR none\r\n", "an IPv6 address is another address")


def test_ttl(tap, m):
    r = login(m, CLIENT2, ADDR_X, "quinn", "quinn-pw")
    tap.ok(r.startswith(b"+OK"), "quinn logs in from %s" % CLIENT2, repr(r))
    r, _ = ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT2)
    tap.is_(r, b"+OK quinn\r\n", "within AuthServiceTTL: quinn")
    r = login(m, CLIENT2, ADDR_X, "pat", "pat-pw")
    r, _ = ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT2)
    tap.is_(r, b"+OK pat\r\n", "the latest login from the address wins")
    time.sleep(TTL + 1.2)
    r, _ = ask(m, MTA, ADDR_X, "XQUERYAUTH " + CLIENT2)
    tap.is_(r, b"-ERR none\r\n", "after AuthServiceTTL (%d s): none" % TTL)
    r = login(m, CLIENT, ADDR_Y, "quinn", "quinn-pw")
    r, _ = ask(m, MTA, ADDR_Y, "XQUERYAUTH " + CLIENT)
    tap.is_(r, b"+OK quinn\r\n", "domain y (the service's TTL): quinn")


def test_config(tap, env):
    m = env.mmpd(name="badnet", pop={"AuthServiceClients": "mta.example"})
    lines = m.write_config()
    rc, out = m.check()
    tap.ok(rc != 0 and "PopProxyAService.cfg:%d: AuthServiceClients" %
           lines["PopProxyAService.cfg"]["AuthServiceClients"] in out,
           "AuthServiceClients not a network: refused with file:line", out)


def main(tap):
    env = setup(tap)
    m = make_mmpd(env).start()
    test_answer(tap, m)
    test_unknown(tap, m)
    test_failed_and_ipv6_form(tap, m)
    test_ttl(tap, m)
    tap.ok(m.alive(), "mmpd still running")
    m.stop()
    test_config(tap, env)


T.run(main)
