#!/usr/bin/env python3
# Hosted domains (HostedDomains yes, the product's default): a login name
# with a domain finds the domain's inetDomain entry under DcRoot
# (o=internet), then the user below its inetDomainBaseDN. Two domains hold
# the same user id "joe" on different stores with different passwords;
# DefaultDomain makes a short id a domain's; an unknown domain fails like
# an unknown user with its own line and no user search; a domain's
# inetDomainStatus refuses like a wrong password; inetDomainSearchFilter
# and mailAccessProxyReplay are honoured; a name without a domain is
# searched as before; HostedDomains no never reads the domain tree.

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

DELAY = 1	# AuthFailureDelay
LDAP_TIMEOUT = 2
# The LdapCache off: every login searches, and slapd's log shows it
# (41-vddir.t has the cached domain entries).
HOSTED = {"HostedDomains": "yes", "AuthFailureDelay": DELAY,
          "LdapTimeout": LDAP_TIMEOUT, "LdapCacheSize": 0}
SID = r"session (0x[0-9a-f]+)"


def base(dom):
    return "o=%s,%s" % (dom, T.ISP_SUFFIX)


def setup(tap):
    env = T.Env("hosted", tap).setup()
    sl = env.slapd
    s1, s2 = env.stores["store1"], env.stores["store2"]
    sl.add_domain("a.test", base("a.test"))
    sl.add_domain("b.test", base("b.test"))
    # the user's filter is the domain's: uid k.smith, mail kim@c.test;
    # the store knows the user by the id alone
    sl.add_domain("c.test", base("c.test"), searchfilter="(mail=%U@%V)",
                  replay="%U")
    # replayed as the entry's uid (%A[uid])
    sl.add_domain("d.test", base("d.test"), status="Active",
                  searchfilter="(mail=%U@%V)", replay="%A[uid]")
    sl.add_domain("off.test", base("off.test"), status="inactive")
    sl.add_domain("nobase.test", None)
    # two entries claim dup.test
    sl.add_domain("x.test", base("a.test"), aliases=("dup.test",))
    sl.add_domain("y.test", base("b.test"), aliases=("DUP.test",))
    # %s is no code of inetDomainSearchFilter
    sl.add_domain("badf.test", base("a.test"), searchfilter="(uid=%s)")
    for dom, store, pw in (("a.test", "store1", "joe-a-pw"),
                           ("b.test", "store2", "joe-b-pw"),
                           ("off.test", "store1", "joe-off-pw"),
                           ("nobase.test", "store1", "joe-nb-pw")):
        if dom != "nobase.test":
            sl.add_user("joe", pw, "%s.mmp.test" % store, base=base(dom))
        env.stores[store].add_user("joe@" + dom, pw)
        env.stores[store].seed("joe@" + dom, T.message("joe at " + dom))
    # joe of a.test as a short id with DefaultDomain a.test (not replayed)
    s1.add_user("joe", "joe-a-pw")
    s1.seed("joe", T.message("joe at a.test, short id"))
    sl.add_user("k.smith", "kim-pw", "store1.mmp.test", mail=False,
                attrs=(("mail", "kim@c.test"),), base=base("c.test"))
    s1.add_user("kim", "kim-pw")
    s1.seed("kim", T.message("kim at c.test"))
    sl.add_user("d.long", "dee-pw", "store2.mmp.test", mail=False,
                attrs=(("mail", "dee@d.test"),), base=base("d.test"))
    s2.add_user("d.long", "dee-pw")
    s2.seed("d.long", T.message("dee at d.test"))
    # the single tree: a name without a domain, and a uid with '@'
    env.user("plain", "plain-pw", "store1")
    s1.seed("plain", T.message("plain here"))
    env.user("flat@a.test", "flat-pw", "store1")
    s1.seed("flat@a.test", T.message("flat here"))
    env.start_backends()
    return env


def searches(env, off):
    """(base, filter) of slapd's searches logged after offset off."""
    time.sleep(0.3)		# slapd logs asynchronously
    return re.findall(r'SRCH base="([^"]*)" scope=\d+ deref=\d+ '
                      r'filter="([^"]*)"', env.slapd.log()[off:])


def route(tap, m, user, pw, want, what):
    t, subj, d = T.imap_route(m, user, pw)
    tap.ok(b" OK" in t and subj == [want], what, d)


def refused(tap, m, user, pw, wrong, what):
    """Logs in; checks the answer and deadline are a wrong password's."""
    with m.imap() as c:
        (t, _), dt = T.timed(c.login, user, pw)
    tap.ok(T.strip_tag(t) == T.strip_tag(wrong) and
           DELAY <= dt < DELAY + 0.5,
           "%s: answered like a wrong password, after AuthFailureDelay" %
           what, repr((t, wrong, dt)))


def hosted(tap, env):
    m = env.mmpd(imap=dict(HOSTED), pop=dict(HOSTED)).start()
    off = len(env.slapd.log())
    route(tap, m, "joe@a.test", "joe-a-pw", "joe at a.test",
          "joe@a.test reaches a.test's joe on store1")
    route(tap, m, "joe@b.test", "joe-b-pw", "joe at b.test",
          "joe@b.test reaches b.test's joe on store2")
    r, subj = T.pop_route(m, "joe@b.test", "joe-b-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["joe at b.test"],
           "POP3 joe@b.test: b.test's mailbox", repr((r, subj)))
    srch = searches(env, off)
    tap.ok(("o=internet", "(&(objectClass=inetDomain)"
            "(associatedDomain=a.test))") in srch and
           ("o=a.test,o=isp", "(uid=joe)") in srch and
           ("o=b.test,o=isp", "(uid=joe)") in srch,
           "slapd: the domain tree, then the user below the domain's base",
           repr(srch))
    dom = m.wait_log(SID + r': lookup "joe@a\.test": domain \'a\.test\' is '
                     r'dc=a,dc=test,o=internet: users under o=a\.test,o=isp,'
                     r' filter \(uid=%U\) \(DomainSearchFormat\)')
    tap.ok(dom, "log: the domain found, its base and filter, with the "
           "session id", m.log()[-2000:])
    if dom:
        sid = re.escape(dom.group(1))
        tap.ok(m.wait_log(r'session %s: lookup "joe@a\.test" \(filter '
                          r'\(uid=joe\)\) -> dn uid=joe,o=a\.test,o=isp '
                          r'mailHost store1\.mmp\.test' % sid),
               "log: the user's lookup line has the same session id")
        tap.ok(m.wait_log(r'session %s \S+: user "joe@a\.test" logged in'
                          % sid), "log: the relay's line has it too")
    else:
        tap.ok(False, "log: the user's lookup line has the same session id")
        tap.ok(False, "log: the relay's line has it too")

    with m.imap() as c:
        (wrong, _), _ = T.timed(c.login, "joe@a.test", "joe-b-pw")
    tap.like(wrong, r"^t1 NO \[AUTHENTICATIONFAILED\] ",
             "joe@a.test with b.test's password: refused")

    # an unknown domain: an unknown user's answer, no user search
    for dom in ("nowhere.test", "*"):
        off, loff = len(env.slapd.log()), m.log_size()
        refused(tap, m, "joe@" + dom, "joe-a-pw", wrong,
                "unknown domain %r" % dom)
        tap.ok(m.wait_log(SID + r': lookup "joe@%s": domain \'%s\' not '
                          r'found in LDAP' % (re.escape(dom), re.escape(dom)),
                          loff),
               "log: domain '%s' not found in LDAP" % dom,
               m.log_since(loff)[-2000:])
        srch = searches(env, off)
        tap.ok(len(srch) == 1 and srch[0][0] == "o=internet",
               "slapd: the domain search only, no user search (%s)" % dom,
               repr(srch))

    off, loff = len(env.slapd.log()), m.log_size()
    refused(tap, m, "joe@off.test", "joe-off-pw", wrong,
            "inetDomainStatus inactive")
    tap.ok(m.wait_log(r'login "joe@off\.test" refused: account disabled '
                      r'\(domain off\.test, store -\): inetDomainStatus inactive '
                      r'\(domain \'off\.test\'\)', loff),
           "log names the domain's status attribute",
           m.log_since(loff)[-2000:])
    tap.ok(not any(b == "o=off.test,o=isp" for b, f in searches(env, off)),
           "slapd: an inactive domain's users are not searched")

    loff = m.log_size()
    refused(tap, m, "joe@nobase.test", "joe-nb-pw", wrong,
            "a domain without inetDomainBaseDN")
    tap.ok(m.wait_log(r'lookup "joe@nobase\.test": domain \'nobase\.test\' '
                      r'is not usable: inetDomainBaseDN is missing', loff),
           "log: the domain is unusable without inetDomainBaseDN",
           m.log_since(loff)[-2000:])

    loff = m.log_size()
    refused(tap, m, "joe@dup.test", "joe-a-pw", wrong,
            "a domain with two entries")
    tap.ok(m.wait_log(r'lookup "joe@dup\.test": domain \'dup\.test\' has '
                      r'more than one entry under o=internet', loff),
           "log: the domain is ambiguous", m.log_since(loff)[-2000:])
    loff = m.log_size()
    refused(tap, m, "joe@badf.test", "joe-a-pw", wrong,
            "inetDomainSearchFilter with a code it does not take")
    tap.ok(m.wait_log(r'lookup "joe@badf\.test": domain \'badf\.test\': '
                      r'inetDomainSearchFilter has a % code other than', loff),
           "log: the domain's filter is refused", m.log_since(loff)[-2000:])

    off = len(env.slapd.log())
    route(tap, m, "kim@c.test", "kim-pw", "kim at c.test",
          "c.test: inetDomainSearchFilter finds kim, replayed as %U")
    tap.ok(("o=c.test,o=isp", "(mail=kim@c.test)") in searches(env, off),
           "slapd: the user searched with inetDomainSearchFilter")
    route(tap, m, "dee@d.test", "dee-pw", "dee at d.test",
          "d.test (Active): replayed as %A[uid]")
    env.stores["store1"].wait_log(r"user=<kim>")
    env.stores["store2"].wait_log(r"user=<d\.long>")
    log1, log2 = env.stores["store1"].log(), env.stores["store2"].log()
    tap.ok("user=<kim>" in log1 and "user=<kim@c.test>" not in log1,
           "store1 saw kim as mailAccessProxyReplay %U made it")
    tap.ok("user=<d.long>" in log2, "store2 saw d.long (%A[uid])")
    tap.ok("joe@off.test" not in log1 and "joe@nobase.test" not in log1,
           "the store saw no login of a refused domain's user")

    off = len(env.slapd.log())
    route(tap, m, "plain", "plain-pw", "plain here",
          "a name without a domain: searched as before")
    tap.ok(searches(env, off) == [("o=example", "(uid=plain)")],
           "slapd: (uid=plain) under LdapUrl's base, no domain search",
           repr(searches(env, off)))
    domain_timeout(tap, env, m, wrong)
    loff = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"IMAP LDAP operations without an answer within "
                      r"LdapTimeout since start: 1 searches", loff),
           "the domain search's timeout is counted (logged at a reload)",
           m.log_since(loff)[-2000:])
    m.stop()


def domain_timeout(tap, env, m, wrong):
    """slapd stopped while the domain is searched: the lookup times out
    after LdapTimeout, is answered like any failure, and the next login
    works once slapd is back."""
    loff = m.log_size()
    T.stop(env.slapd.proc.pid)
    try:
        with m.imap() as c:
            (t, _), dt = T.timed(c.login, "joe@a.test", "joe-a-pw")
    finally:
        os.kill(env.slapd.proc.pid, signal.SIGCONT)
    tap.ok(T.strip_tag(t) == T.strip_tag(wrong) and
           LDAP_TIMEOUT <= dt < LDAP_TIMEOUT + 1,
           "domain search without an answer: a failure after LdapTimeout",
           repr((t, dt)))
    tap.ok(m.wait_log(SID + r': lookup "joe@a\.test": domain search for '
                      r'\(&\(objectClass=inetDomain\)\(associatedDomain='
                      r'a\.test\)\) timed out after %d s' % LDAP_TIMEOUT,
                      loff), "log: the domain search timed out",
           m.log_since(loff)[-2000:])
    route(tap, m, "joe@a.test", "joe-a-pw", "joe at a.test",
          "slapd back: joe@a.test logs in again")


def default_domain(tap, env):
    """DefaultDomain, with PreAuth: the bind is the hosted user's."""
    conf = dict(HOSTED, DefaultDomain="a.test", PreAuth="yes")
    m = env.mmpd("mmpd-default", imap=conf, pop=dict(conf)).start()
    route(tap, m, "joe", "joe-a-pw", "joe at a.test, short id",
          "DefaultDomain a.test: short id joe reaches a.test's joe")
    tap.ok(m.wait_log(r'lookup "joe": domain \'a\.test\' is '
                      r'dc=a,dc=test,o=internet'),
           "log: the short id went through domain a.test")
    route(tap, m, "joe@b.test", "joe-b-pw", "joe at b.test",
          "PreAuth: joe@b.test binds as b.test's joe")
    loff = m.log_size()
    t, _, d = T.imap_route(m, "joe", "joe-b-pw")
    tap.ok(b"NO [AUTHENTICATIONFAILED]" in t and
           m.wait_log(r"user joe pre-authentication failed", loff),
           "PreAuth: short id joe with b.test's password refused by the "
           "bind as a.test's joe", d + m.log_since(loff)[-1500:])
    m.stop()


def single_tree(tap, env):
    conf = {"HostedDomains": "no", "AuthFailureDelay": DELAY}
    m = env.mmpd("mmpd-flat", imap=conf, pop=dict(conf)).start()
    off, loff = len(env.slapd.log()), m.log_size()
    with m.imap() as c:
        (wrong, _), _ = T.timed(c.login, "plain", "wrong-pw")
    refused(tap, m, "joe@a.test", "joe-a-pw", wrong,
            "HostedDomains no: joe@a.test is no uid of the single tree")
    tap.ok(m.wait_log(r'lookup "joe@a\.test": no entry for '
                      r'\(uid=joe@a\.test\) under o=example', loff),
           "log: searched with SearchFormat under LdapUrl's base",
           m.log_since(loff)[-2000:])
    route(tap, m, "flat@a.test", "flat-pw", "flat here",
          "HostedDomains no: uid flat@a.test of the single tree")
    srch = searches(env, off)
    tap.ok(srch and all(b == "o=example" for b, f in srch),
           "slapd: HostedDomains no never reads the domain tree",
           repr(srch))
    m.stop()


def main(tap):
    env = setup(tap)
    hosted(tap, env)
    default_domain(tap, env)
    single_tree(tap, env)


T.run(main)
