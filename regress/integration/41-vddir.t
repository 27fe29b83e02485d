#!/usr/bin/env python3
# The directory features per virtual domain: the vdmap binds a.test to
# 127.0.0.2 with CRAMs yes (and its StoreAdmin) and LdapCacheSize 0, and
# h to 127.0.0.3 with DefaultDomain h.test, HostedDomains yes and a
# ReplayFormat that needs an attribute of the entry; the service has
# CRAMs no, HostedDomains no and its LdapCache on. CRAM-MD5 is offered
# and works on a.test's address only; a.test's logins always search
# (its cache is off), h's second login is answered from the service's
# cache and still replays the entry's attribute; h's short id goes
# through the domain tree (whose entry is cached as well), a.test's typed
# names do not. A vdmap domain
# with CRAMs yes and no StoreAdmin is refused with the vdmap's file:line.

import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADDR_A, ADDR_H = "127.0.0.2", "127.0.0.3"
ADMIN = ("mmpadmin", "admin-pw-vddir")	# Dovecot master user

VDMAP = """\
vdmap a.test {a}
a.test:CRAMs yes
a.test:StoreAdmin {admin}
a.test:StoreAdminPass {adminpw}
a.test:LdapCacheSize 0
vdmap h {h}
h:DefaultDomain h.test
h:HostedDomains yes
h:ReplayFormat "%A[displayName]"
"""


def setup(tap):
    env = T.Env("vddir", tap).setup(store_master=ADMIN)
    sl = env.slapd
    s1, s2 = env.stores["store1"], env.stores["store2"]
    sl.add_user("ann@a.test", "ann-pw", "store1.mmp.test",
                userpassword="{CLEARTEXT}ann-pw")
    s1.add_user("ann@a.test", "ann-pw")
    s1.seed("ann@a.test", T.message("mailbox of ann in a.test"))
    base = "o=h.test,%s" % T.ISP_SUFFIX
    sl.add_domain("h.test", base)
    sl.add_user("hal", "hal-pw", "store2.mmp.test", base=base,
                attrs=[("displayName", "hal.h")])
    s2.add_user("hal.h", "hal-pw")
    s2.seed("hal.h", T.message("mailbox of hal in h.test"))
    env.start_backends()
    return env


def make_mmpd(env):
    port = T.free_port((ADDR_A, ADDR_H))
    vdmap = env.path("vdmap.cfg")
    with open(vdmap, "w") as f:
        f.write(VDMAP.format(a=ADDR_A, h=ADDR_H, admin=ADMIN[0],
                             adminpw=ADMIN[1]))
    sl = "ImapProxyAService@%s" % "|".join(
        "%s:%d" % (a, port) for a in (ADDR_A, ADDR_H))
    m = env.mmpd(host=ADDR_A, imap_ports=[port], pop_ports=[],
                 aservice={"ServiceList": sl},
                 imap={"VirtualDomainFile": vdmap, "CRAMs": "no",
                       "HostedDomains": "no"})
    return m, vdmap


def searches(env, regex):
    return len(re.findall(r'SRCH base="[^"]*" scope=\d deref=\d '
                          r'filter="%s"' % regex, env.slapd.log()))


def test_crams(tap, env, m):
    with T.At(m, ADDR_A).imap() as c:
        _, un = c.cmd("CAPABILITY")
        caps_a = b"".join(un)
    with T.At(m, ADDR_H).imap() as c:
        _, un = c.cmd("CAPABILITY")
        caps_h = b"".join(un)
    tap.ok(b"AUTH=CRAM-MD5" in caps_a, "a.test's address offers CRAM-MD5",
           repr(caps_a))
    tap.ok(b"AUTH=CRAM-MD5" not in caps_h, "h's address (CRAMs of the "
           "service: no) does not", repr(caps_h))
    c = imaplib.IMAP4(ADDR_A, m.imap_ports[0], timeout=10)
    try:
        typ, _ = c.login_cram_md5("ann", "ann-pw")
        c.select("INBOX")
        _, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        c.logout()
    except imaplib.IMAP4.error as e:
        typ, data = "error: %s" % e, None
    tap.is_(typ, "OK", "CRAM-MD5 as ann on a.test's address")
    tap.like(data[0][1] if data and data[0] else b"",
             r"Subject: mailbox of ann in a\.test", "ann's mailbox reached")
    tap.ok(env.stores["store1"].wait_log(
           r"Master user logging in as ann@a\.test\b"),
           "the store sees the StoreAdmin log in as ann@a.test")
    with T.At(m, ADDR_H).imap() as c:
        tag = c.tag()
        c.send(tag.encode() + b" AUTHENTICATE CRAM-MD5\r\n")
        line = c.readline()
    tap.ok(not line.startswith(b"+"), "h's address refuses AUTHENTICATE "
           "CRAM-MD5", repr(line))


def test_cache_off(tap, env, m):
    n = searches(env, r"\(uid=ann@a\.test\)")
    for i in range(2):
        t, subj, d = T.imap_route(T.At(m, ADDR_A), "ann", "ann-pw")
        tap.ok(b" OK" in t, "ann logs in on a.test's address (%d)" % i, d)
    tap.is_(searches(env, r"\(uid=ann@a\.test\)"), n + 2,
            "a.test's LdapCacheSize 0: each login searches")


def test_hosted_cached(tap, env, m):
    for i in range(2):
        t, subj, d = T.imap_route(T.At(m, ADDR_H), "hal", "hal-pw")
        tap.ok(b" OK" in t and "mailbox of hal in h.test" in subj,
               "hal (DefaultDomain h.test, hosted) reaches his mailbox "
               "(%d)" % i, d)
    tap.is_(searches(env, r"\(uid=hal\)"), 1, "the second login is the "
            "service's LdapCache's: one user search")
    tap.ok(m.wait_log(r'lookup "hal".*cache hit') is not None,
           "mmp-ldapd logs the cache hit")
    # Dovecot's log process writes the second line some time after.
    env.stores["store2"].wait_log(r"(?s)Login: user=<hal\.h>.*"
                                  r"Login: user=<hal\.h>")
    logins = re.findall(r"Login: user=<([^>]*)>", env.stores["store2"].log())
    tap.is_(logins.count("hal.h"), 2, "both logins replayed the entry's "
            "displayName, the cached one too")
    tap.is_(searches(env, r"\(&\(objectClass=inetDomain\)"
                     r"\(associatedDomain=h\.test\)\)"), 1,
            "h's short id went through the domain tree, once: the domain "
            "entry is cached too")
    tap.ok(m.wait_log(r"domain 'h\.test' is .*\(cache hit\)") is not None,
           "the domain's line says it came from the cache")
    t, _, d = T.imap_route(T.At(m, ADDR_A), "hal@h.test", "hal-pw")
    tap.ok(b" OK" not in t, "a.test's address (HostedDomains of the "
           "service: no) does not read the domain tree", d)


def test_refused(tap, env, m, vdmap):
    with open(vdmap, "a") as f:
        f.write("vdmap c {c}\nc:CRAMs yes\n".format(c="127.0.0.4"))
    rc, out = m.check()
    tap.ok(rc != 0 and re.search(r"vdmap\.cfg:11: virtual domain c: CRAMs "
                                 r"yes needs StoreAdmin", out),
           "CRAMs yes in a domain without StoreAdmin: refused at the "
           "vdmap's file:line", out)


def main(tap):
    env = setup(tap)
    m, vdmap = make_mmpd(env)
    m.start()
    test_crams(tap, env, m)
    test_cache_off(tap, env, m)
    test_hosted_cached(tap, env, m)
    test_refused(tap, env, m, vdmap)
    m.stop()
    T.check_children(tap)


if __name__ == "__main__":
    T.run(main)
