#!/usr/bin/env python3
# TLS to the directory: ldaps:// and LdapStartTLS against a slapd with a
# certificate of the test PKI. The right CA: logins work. The rogue CA or a
# name the certificate does not carry: lookups fail, the client sees what a
# wrong password gets, the log names the TLS failure. LdapVerify no: works,
# with a warning. Failover from a dead ldaps:// server to a live one. All
# with mmp-ldapd sandboxed: the CA is read before the filter is on.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402


def setup(tap):
    env = T.Env("ldaptls", tap).setup(stores=("store1",))
    pki = env.get_pki()
    env.slapd.use_tls(*pki.server())
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice here"))
    env.start_backends()
    return env, pki


def instance(env, name, url, **keys):
    conf = {"LdapUrl": url + "/" + T.SUFFIX}
    conf.update(keys)
    return env.mmpd(name, imap=conf, pop=dict(conf)).start()


def wrong_answer(m):
    with m.imap() as c:
        t, _ = c.login("alice", "wrong-pw")
    return T.strip_tag(t)


def works(tap, env, name, url, what, log_re=None, **keys):
    m = instance(env, name, url, **keys)
    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(b" OK" in t and subj == ["alice here"],
           "%s: IMAP login works" % what, d + "\n" + m.log()[-2000:])
    r, subj = T.pop_route(m, "alice", "alice-pw")
    tap.ok(r.startswith(b"+OK"), "%s: POP3 login works" % what, repr(r))
    if log_re is not None:
        tap.ok(re.search(log_re, m.log()), "%s: log has /%s/" %
               (what, log_re), m.log()[-2000:])
    m.stop()
    return m


def fails(tap, env, name, url, what, log_re, wrong, **keys):
    m = instance(env, name, url, **keys)
    with m.imap() as c:
        t, _ = c.login("alice", "alice-pw")
    tap.ok(T.strip_tag(t) == wrong,
           "%s: IMAP answer is that of a wrong password" % what,
           repr((t, wrong)))
    got = m.wait_log(log_re)
    tap.ok(got, "%s: log has /%s/" % (what, log_re), m.log()[-2000:])
    m.stop()


def test_reload(tap, env, pki):
    """The CA is read once, before the sandbox: a reload that changes it
    is logged, and the running mmp-ldapd keeps the old one."""
    m = instance(env, "reload", env.slapd.url_tls, LdapCAFile=pki.ca())
    for conf in (m.conf_imap, m.conf_pop):
        conf["LdapCAFile"] = pki.rogue_ca()
    m.write_config()
    off = m.log_size()
    m.reload()
    got = m.wait_log(r"IMAP LdapCAFile or LdapVerify changed: mmp-ldapd "
                     r"keeps the CA it read at start until mmpd is "
                     r"restarted", off)
    tap.ok(got, "reload with another LdapCAFile: logged as needing a "
           "restart", m.log_since(off)[-2000:])
    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(b" OK" in t and subj == ["alice here"],
           "after that reload: logins work with the CA read at start", d)
    m.stop()


def tls_binds(tap, env, since, what):
    """slapd's log since offset since: every BIND as alice came on a
    connection that had done TLS first."""
    new = env.slapd.log()[since:]
    binds = set(re.findall(r"conn=(\d+) op=\d+ BIND dn=\"uid=alice,", new))
    tls = set(re.findall(r"conn=(\d+) fd=\d+ TLS established", new))
    tap.ok(binds and binds <= tls, "%s: every bind as the user went over "
           "TLS" % what, "binds on %r, TLS on %r\n%s" % (sorted(binds),
                                                       sorted(tls),
                                                       new[-3000:]))


def test_preauth(tap, env, pki):
    """PreAuth binds as the user on connections of their own: with the
    same TLS as the searches, never in the clear."""
    for name, url, keys in (
            ("preauth-ldaps", env.slapd.url_tls, {}),
            ("preauth-starttls", env.slapd.url, {"LdapStartTLS": "yes"})):
        since = len(env.slapd.log())
        m = instance(env, name, url, PreAuth="yes", LdapCAFile=pki.ca(),
                     **keys)
        t, subj, d = T.imap_route(m, "alice", "alice-pw")
        tap.ok(b" OK" in t and subj == ["alice here"],
               "%s: PreAuth login works" % name, d + m.log()[-2000:])
        with m.imap() as c:
            t, _ = c.login("alice", "wrong-pw")
        tap.like(t, r"NO \[AUTHENTICATIONFAILED\]",
                 "%s: a wrong password is refused" % name)
        tap.ok(m.wait_log(r"pre-authentication failed: invalid "
                          r"credentials"), "%s: by the bind" % name,
               m.log()[-2000:])
        tls_binds(tap, env, since, name)
        m.stop()


def main(tap):
    env, pki = setup(tap)
    good = {"LdapCAFile": pki.ca()}
    rogue = {"LdapCAFile": pki.rogue_ca()}
    tls_port = env.slapd.tls_port
    m = works(tap, env, "ldaps", env.slapd.url_tls, "ldaps:// with the CA",
              r"ldaps://127\.0\.0\.1:%d: connected to" % tls_port, **good)
    wrong = wrong_answer(instance(env, "wrong", env.slapd.url))
    fails(tap, env, "rogue", env.slapd.url_tls, "ldaps:// with the rogue CA",
          r"TLS handshake failed \(certificate verification: on\): "
          r".*peer cert untrusted", wrong, **rogue)
    fails(tap, env, "name", "ldaps://ldap.mmp.test:%d" % tls_port,
          "ldaps:// to a name the certificate does not carry",
          r"ldaps://ldap\.mmp\.test:%d.*TLS handshake failed.*"
          r"hostname \(ldap\.mmp\.test\) does not match" % tls_port,
          wrong, **good)
    log = env.slapd.log()
    works(tap, env, "starttls", env.slapd.url, "LdapStartTLS yes with the CA",
          r"ldap://127\.0\.0\.1:%d: connected to" % env.slapd.port,
          LdapStartTLS="yes", **good)
    new = env.slapd.log()[len(log):]
    tap.ok("oid=1.3.6.1.4.1.1466.20037" in new,
           "slapd saw the StartTLS extended operation", new[-2000:])
    fails(tap, env, "starttls-rogue", env.slapd.url,
          "LdapStartTLS yes with the rogue CA",
          r"StartTLS: TLS handshake failed.*peer cert untrusted", wrong,
          LdapStartTLS="yes",
          **rogue)
    works(tap, env, "noverify", env.slapd.url_tls,
          "LdapVerify no with the rogue CA", r"LdapVerify no: the "
          r"directory's certificate is not checked", LdapVerify="no",
          **rogue)
    test_reload(tap, env, pki)
    test_preauth(tap, env, pki)
    dead = "ldaps://127.0.0.1:%d/%s" % (T.free_port(), T.SUFFIX)
    works(tap, env, "failover", dead + " " + env.slapd.url_tls,
          "failover from a dead ldaps:// server",
          r"ldaps://127\.0\.0\.1:%d: connected to" % tls_port, **good)


T.run(main)
