#!/usr/bin/env python3
# Client-certificate logins: SSLClientCAFile asks TLS clients for a
# certificate, CertMapFile maps its subject to an LDAP user (certmap
# default, FilterComps ou=uid), and the login is replayed to the store as
# StoreAdmin (a Dovecot master user) with the user as authorization
# identity: AUTHENTICATE EXTERNAL over IMAPS, AUTH EXTERNAL over POP3S, no
# password. A certificate of another CA, one that maps to nobody and one
# that maps to two users log nobody in, and say why in the log.

import base64
import os
import re
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADMIN = ("mmpadmin", "admin-pw-3x")
NO_LOGIN = (ssl.SSLError, OSError, EOFError)


def logins(env, user):
    return sum(len(re.findall(r"Login: user=<%s>" % re.escape(user),
                              s.log())) for s in env.stores.values())


def setup(tap):
    env = T.Env("certlogin", tap).setup(store_master=ADMIN)
    pk = env.get_pki()
    env.user("pilar", "pilar-pw-unused", "store1")
    env.stores["store1"].seed("pilar", T.message("for Pilar Lorca"))
    env.user("quentin", "quentin-pw", "store2")
    env.stores["store2"].seed("quentin", T.message("for Quentin"))
    # Two entries with uid=twin: a certificate with OU=twin is ambiguous.
    env.user("twin", "twin-pw", "store1")
    env.slapd.entries.append(
        "dn: cn=twin2,ou=people,%s\nobjectClass: inetOrgPerson\n"
        "objectClass: mmpTestMailUser\nuid: twin\ncn: twin2\nsn: twin\n"
        "mailHost: store2.mmp.test\n" % T.SUFFIX)
    env.start_backends()
    certmap = env.path("certmap.conf")
    with open(certmap, "w") as f:
        # An empty DNComps searches the whole directory (LdapUrl's base);
        # without the line the base would be the subject DN itself
        # (certmap.conf as the product and mmpd.conf(5) read it).
        f.write("# mmptest: the subject's OU is the uid\n"
                "certmap default default\n"
                "default:DNComps\n"
                "default:FilterComps ou=uid\n")
    keys = {"SSLClientCAFile": pk.ca(), "CertMapFile": certmap,
            "StoreAdmin": ADMIN[0], "StoreAdminPass": ADMIN[1]}
    m = env.mmpd(tls=True, imap=dict(keys), pop=dict(keys)).start()
    return env, m


def ctx_with(env, cert):
    return T.tls_context(env.pki, cert=cert)


def imap_external(m, ctx, ir=None):
    """(AUTHENTICATE answer, [subjects] after SELECT, capabilities before)
    over IMAPS with ctx's client certificate; an exception when the
    connection fails."""
    with m.imap_tls(ctx=ctx) as c:
        t, un = c.cmd("CAPABILITY")
        caps = b"".join(un)
        if ir is not None:
            t, un = c.cmd(b"AUTHENTICATE EXTERNAL " + ir)
        else:
            tag = c.tag()
            c.send(tag.encode() + b" AUTHENTICATE EXTERNAL\r\n")
            r = c.readline()
            if r.startswith(b"+"):
                c.send(b"\r\n")	# the empty response
                t, un = c.read_until_tagged(tag)
            else:
                t = r
        if not re.match(rb"t\d+ OK", t):
            return t, [], caps
        c.cmd("SELECT INBOX")
        _, subj = T.imap_subjects(c)
        c.cmd("LOGOUT")
        return t, subj, caps


def test_imap(tap, env, m):
    pk = env.pki
    c = m.imaps(ctx=ctx_with(env, pk.client("pilar")))
    typ, data = c.authenticate("EXTERNAL", lambda x: b"")
    tap.is_(typ, "OK", "imaplib: AUTHENTICATE EXTERNAL with Pilar's "
            "certificate")
    typ, n = c.select("INBOX")
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    tap.like(data[0][1] if data and data[0] else b"",
             r"Subject: for Pilar Lorca", "imaplib: SELECT INBOX shows "
             "pilar's mailbox")
    c.logout()
    tap.ok(env.stores["store1"].wait_log(r"Login: user=<pilar>"),
           "store1 logged pilar in (as the store admin, no password)")

    t, subj, caps = imap_external(m, ctx_with(env, pk.client("pilar")))
    tap.ok(b"AUTH=EXTERNAL" in caps.upper(), "IMAPS with a client "
           "certificate: AUTH=EXTERNAL advertised", repr(caps))
    tap.ok(re.match(rb"t\d+ OK", t) and subj == ["for Pilar Lorca"],
           "raw client: AUTHENTICATE EXTERNAL, empty response", repr(
               (t, subj)))
    t, subj, caps = imap_external(m, ctx_with(env, pk.client("pilar")),
                                  ir=b"=")
    tap.ok(re.match(rb"t\d+ OK", t) and subj == ["for Pilar Lorca"],
           "AUTHENTICATE EXTERNAL = (SASL-IR, empty)", repr((t, subj)))
    q0 = logins(env, "quentin")
    t, subj, caps = imap_external(m, ctx_with(env, pk.client("pilar")),
                                  ir=base64.b64encode(b"quentin"))
    tap.like(t, r"^t\d+ NO", "Pilar's certificate asking to be quentin "
             "(authzid) is refused")
    tap.is_(logins(env, "quentin"), q0, "no login of quentin at a store")

    # No certificate: EXTERNAL refused, a password login still works.
    with m.imap_tls() as c:
        t, _ = c.cmd(b"AUTHENTICATE EXTERNAL =")
        tap.like(t, r"^t\d+ (NO|BAD)", "no client certificate: EXTERNAL "
                 "refused")
        t, _ = c.login("quentin", "quentin-pw")
        tap.like(t, r"^t\d+ OK", "no client certificate: LOGIN works")


def refused(tap, env, m, cert, what, log_re):
    p0 = logins(env, "pilar") + logins(env, "twin")
    off = m.log_size()
    try:
        t, subj, _ = imap_external(m, ctx_with(env, cert))
        got = "AUTHENTICATE answered %r" % t
        ok = not re.match(rb"t\d+ OK", t)
    except NO_LOGIN as e:
        got = "connection failed: %s: %s" % (type(e).__name__, e)
        ok = True
    tap.ok(ok, "%s: no login (%s)" % (what, got))
    tap.ok(m.wait_log(log_re, off), "%s: a log line says why" % what,
           m.log_since(off)[-2000:])
    tap.is_(logins(env, "pilar") + logins(env, "twin"), p0,
            "%s: nothing reached a store" % what)


def test_refused(tap, env, m):
    pk = env.pki
    refused(tap, env, m, pk.rogue_client(), "a client certificate of "
            "another CA", r"(?i)certificate.*(verif|refused|untrusted|"
            r"issuer)|(verif|issuer).*certificate")
    refused(tap, env, m, pk.client("nouser"), "a certificate that maps to "
            "no user", r"(?i)(certmap|certificate).*(no user|not found|"
            r"no entry|nobody)|nobody-here")
    refused(tap, env, m, pk.client("twin"), "a certificate that maps to two "
            "users", r"(?i)(certmap|certificate).*(two|several|more than "
            r"one|ambiguous|multiple|2 entries)")


def test_pop(tap, env, m):
    with m.pop3_tls(ctx=ctx_with(env, env.pki.client("pilar"))) as p:
        r = p.cmd("AUTH EXTERNAL")
        if r.startswith(b"+ ") or r.rstrip() == b"+":
            r = p.cmd(b"")
        tap.like(r, r"^\+OK", "POP3S: AUTH EXTERNAL with Pilar's "
                 "certificate")
        tap.is_(T.pop_subjects(p), ["for Pilar Lorca"],
                "POP3S: pilar's mailbox")
        p.cmd("QUIT")
    with m.pop3_tls(ctx=ctx_with(env, env.pki.client("nouser"))) as p:
        r = p.cmd("AUTH EXTERNAL =")
        tap.like(r, r"^-ERR", "POP3S: a certificate of nobody: AUTH "
                 "EXTERNAL refused")


def main(tap):
    T.need_root()
    T.need_tlsd()
    env, m = setup(tap)
    for name, fn in (("IMAP", test_imap), ("refusals", test_refused),
                     ("POP3", test_pop)):
        try:
            fn(tap, env, m)
        except Exception as e:
            import traceback
            tap.ok(False, "%s part ran to its end" % name, "%r\n%s" % (
                e, traceback.format_exc()))


T.run(main)
