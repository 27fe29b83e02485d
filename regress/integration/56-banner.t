#!/usr/bin/env python3
# Banner: the greeting text after "* OK [CAPABILITY ...] " (IMAP) and
# "+OK " (POP3); with CRAMs the POP3 greeting still ends with the APOP
# timestamp, and an APOP login against it works. Unset: mmpd's own text.
# A banner that is empty, too long, not printable ASCII or holds < or >
# refuses the configuration with file:line, at start and at a reload
# (which keeps the running banner).

import os
import poplib
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADMIN = ("mmpadmin", "admin-pw-b4")
IMAP_BANNER = "Siroe.com IMAP service, be nice"
POP_BANNER = "Siroe.com POP3 (mmpd) ready!"
STAMP = rb"<[0-9a-f]{16}\.\d+@[A-Za-z0-9.-]+>"


def setup(tap):
    env = T.Env("banner", tap).setup(store_master=ADMIN)
    env.slapd.add_user("dave", None, "store1.mmp.test",
                       userpassword="dave-secret")
    env.stores["store1"].add_user("dave", "dave-store-pw")
    env.start_backends()
    return env


def test_greetings(tap, m):
    with m.imap() as c:
        g = c.greeting
    tap.ok(re.match(rb"^\* OK \[CAPABILITY [^]]+\] " +
                    re.escape(IMAP_BANNER.encode()) + rb"\r\n$", g)
           is not None, "IMAP greeting: capabilities, then the Banner",
           repr(g))
    with m.pop3() as p:
        g = p.greeting
    tap.ok(re.match(rb"^\+OK " + re.escape(POP_BANNER.encode()) + rb" " +
                    STAMP + rb"\r\n$", g) is not None,
           "POP3 greeting: the Banner, then the APOP timestamp (CRAMs)",
           repr(g))
    p = poplib.POP3(m.host, m.pop_ports[0], timeout=10)
    try:
        r = p.apop("dave", "dave-secret")
        tap.like(r, r"^\+OK", "APOP against that timestamp logs in")
        p.quit()
    except poplib.error_proto as e:
        tap.ok(False, "APOP against that timestamp logs in: %s" % e,
               m.log()[-2000:])


def test_default(tap, env):
    m = env.mmpd(name="plain").start()
    with m.imap() as c:
        g = c.greeting
    tap.like(g, r"^\* OK \[CAPABILITY [^]]+\] IMAP proxy ready\r\n$",
             "no Banner: IMAP greeting unchanged")
    with m.pop3() as p:
        g = p.greeting
    tap.is_(g, b"+OK POP3 proxy ready\r\n", "no Banner: POP3 greeting "
            "unchanged")
    m.stop()


BAD = (
    ("with <", "pop", "a <x@y> b", "only printable ASCII without < and > "
     "(byte 0x3c at 2)"),
    ("with a tab", "imap", "a\tb", "only printable ASCII without < and > "
     "(byte 0x09 at 1)"),
    ("8-bit", "pop", "caf\u00e9", "only printable ASCII without < and > "
     "(byte 0xc3 at 3)"),
    ("empty", "imap", "", "empty"),
    ("201 bytes", "pop", "b" * 201, "longer than 200 bytes"),
)


def test_config(tap, env):
    for name, svc, value, why in BAD:
        m = env.mmpd(name="bad-" + re.sub(r"\W", "", name),
                     **{svc: {"Banner": value}})
        lines = m.write_config()
        fname = "ImapProxyAService.cfg" if svc == "imap" else \
            "PopProxyAService.cfg"
        rc, out = m.check()
        want = "%s:%d: Banner: %s" % (fname, lines[fname]["Banner"], why)
        tap.ok(rc != 0 and want in out, "Banner %s refused: %s" %
               (name, want), out)
    m = env.mmpd(name="ok200", pop={"Banner": "c" * 200})
    m.write_config()
    rc, out = m.check()
    tap.is_(rc, 0, "a Banner of 200 printable bytes loads")


def test_reload(tap, m):
    m.conf_pop["Banner"] = "x>y"
    m.write_config()
    off = m.log_size()
    m.reload()
    got = m.wait_log(r"PopProxyAService\.cfg:\d+: Banner: only printable",
                     off)
    tap.ok(got is not None, "a reload with a bad Banner is refused with "
           "file:line", m.log_since(off)[-1500:])
    time.sleep(0.3)
    with m.pop3() as p:
        g = p.greeting
    tap.ok(g.startswith(b"+OK " + POP_BANNER.encode() + b" <"),
           "and the running Banner stays", repr(g))


def main(tap):
    env = setup(tap)
    keys = {"CRAMs": "yes", "StoreAdmin": ADMIN[0],
            "StoreAdminPass": ADMIN[1]}
    m = env.mmpd(imap={"Banner": IMAP_BANNER},
                 pop=dict(keys, Banner=POP_BANNER)).start()
    test_greetings(tap, m)
    test_reload(tap, m)
    m.stop()
    test_default(tap, env)
    test_config(tap, env)


T.run(main)
