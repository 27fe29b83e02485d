#!/usr/bin/env python3
# Virtual domains (VirtualDomainFile): one mmpd listening on 127.0.0.2,
# .3 and .4; the vdmap binds a.test to .2 and b.test to .3, c.test to .4
# is left to the service's DefaultDomain. The same user id "joe" reaches
# a different entry and mailbox on each address: the domain goes into
# the search (%s) and, for a virtual domain, into the replay the store
# sees; a typed domain wins; the service's DefaultDomain is searched but
# not replayed. Per-domain SearchFormat, ReplayFormat, PreAuth and a
# BindDN/BindPass of its own (sent to mmp-ldapd only). A vdmap error is
# refused with file:line by mmpd -n and by a reload, which keeps the
# running configuration; mmpd -nn shows the per-domain values. A second
# mmpd: a virtual domain's CertMap and StoreAdmin give certificate logins
# on its address only; RestrictPlainPasswords per domain (on .5).

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADDR_A, ADDR_B, ADDR_D = "127.0.0.2", "127.0.0.3", "127.0.0.4"
ADDR_R = "127.0.0.5"		# a domain that refuses plaintext passwords
READER_DN = "uid=vdreader,ou=people," + T.SUFFIX
READER_PW = "vd-reader-Secret-7q"
ADMIN = ("mmpadmin", "admin-pw-vd")	# Dovecot master user of the stores

VDMAP = """\
# two virtual domains
vdmap a {a}
a:DefaultDomain a.test
a:PreAuth yes
a:BindDN "{reader}"
a:BindPass "{readerpw}"
vdmap b.test {b}
b.test:SearchFormat (mail=%s)
b.test:ReplayFormat "%A[displayName]"
vdmap r {r}
r:RestrictPlainPasswords yes
"""


def setup(tap):
    env = T.Env("vdomain", tap).setup(store_master=ADMIN)
    env.get_pki()
    s1, s2 = env.stores["store1"], env.stores["store2"]
    # a.test: uid joe@a.test on store1, replayed as joe@a.test.
    env.slapd.add_user("joe@a.test", "a-pw", "store1.mmp.test")
    s1.add_user("joe@a.test", "a-pw")
    s1.seed("joe@a.test", T.message("mailbox of joe in a.test"))
    # b.test: found by mail, replayed as the entry's displayName; as
    # typed elsewhere, joe@b.test is another name on the store.
    env.slapd.add_user("joe@b.test", "b-pw", "store2.mmp.test", mail=False,
                       attrs=[("mail", "joe@b.test"),
                              ("displayName", "bjoe")])
    s2.add_user("bjoe", "b-pw")
    s2.seed("bjoe", T.message("mailbox of joe in b.test"))
    s2.add_user("joe@b.test", "b-pw")
    s2.seed("joe@b.test", T.message("mailbox joe@b.test as typed"))
    # eve@b.test: a displayName that may not become a login name.
    env.slapd.add_user("eve@b.test", "e-pw", "store2.mmp.test", mail=False,
                       attrs=[("mail", "eve@b.test"),
                              ("displayName", "eve\r\nx LOGOUT")])
    s2.add_user("eve", "e-pw")
    # The service's DefaultDomain c.test: searched, not replayed.
    env.slapd.add_user("joe@c.test", "c-pw", "store1.mmp.test")
    s1.add_user("joe", "c-pw")
    s1.seed("joe", T.message("mailbox of plain joe"))
    # Certificate logins on the certmap domain's address (OU=pilar).
    env.user("pilar", "pilar-pw-unused", "store1")
    s1.seed("pilar", T.message("for Pilar Lorca"))
    # The identity domain a binds as for its searches.
    env.slapd.add_user("vdreader", READER_PW, None, mail=False)
    env.start_backends()
    return env


def vdmap_text():
    return VDMAP.format(a=ADDR_A, b=ADDR_B, r=ADDR_R, reader=READER_DN,
                        readerpw=READER_PW)


def make_mmpd(env):
    port = T.free_port((ADDR_A, ADDR_B, ADDR_D, ADDR_R))
    vdmap = env.path("vdmap.cfg")
    with open(vdmap, "w") as f:
        f.write(vdmap_text())
    sl = "ImapProxyAService@%s" % "|".join(
        "%s:%d" % (a, port) for a in (ADDR_A, ADDR_B, ADDR_D, ADDR_R))
    m = env.mmpd(host=ADDR_A, imap_ports=[port], pop_ports=[],
                 aservice={"ServiceList": sl},
                 imap={"VirtualDomainFile": vdmap,
                       "DefaultDomain": "c.test"})
    return m, vdmap


def store_log(env, store):
    return env.stores[store].log()


def store_logins(env, store, *want):
    """The names store logged in, once every one of want is among them
    (Dovecot's log process writes a line some time after the login)."""
    return T.poll(lambda: re.findall(r"Login: user=<([^>]*)>",
                                     store_log(env, store)),
                  lambda names: all(w in names for w in want))


def route(m, addr, user, pw):
    return T.imap_route(T.At(m, addr), user, pw)


def test_routes(tap, env, m):
    t, subj, d = route(m, ADDR_A, "joe", "a-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of joe in a.test"],
           "joe on %s (vdmap a) reaches joe@a.test's mailbox" % ADDR_A, d)
    tap.ok("joe@a.test" in store_logins(env, "store1", "joe@a.test"),
           "store1 sees the replay joe@a.test (virtual domain appended)",
           store_log(env, "store1")[-2000:])
    t, subj, d = route(m, ADDR_B, "joe", "b-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of joe in b.test"],
           "joe on %s (vdmap b.test) reaches joe@b.test's mailbox" % ADDR_B,
           d)
    t, subj, d = route(m, ADDR_D, "joe", "c-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of plain joe"],
           "joe on %s (no vdmap, DefaultDomain c.test) reaches the entry "
           "joe@c.test and the mailbox joe" % ADDR_D, d)
    logins = store_logins(env, "store1", "joe")
    tap.ok("joe" in logins and "joe@c.test" not in logins,
           "store1 sees joe, not joe@c.test: DefaultDomain not replayed",
           repr(logins))
    # mmp-ldapd's line reaches the log through the parent, on a channel
    # of its own: it may come after the client had its answer.
    found = m.wait_log(r'lookup "joe" \(filter \(uid=joe@c\.test\)\)',
                       timeout=5)
    log = m.log()
    tap.ok(found, "DefaultDomain appended for the search", log[-3000:])
    t, subj, d = route(m, ADDR_A, "joe@b.test", "b-pw")
    tap.ok(b" OK" in t and subj == ["mailbox joe@b.test as typed"],
           "joe@b.test typed on %s: the typed domain wins, replayed as "
           "typed" % ADDR_A, d)


def test_wildcard(tap, env, vdmap):
    """A listener on every address: the address the client reached still
    picks the domain (the relay asks the socket; a listener bound to one
    address gives its own, mmpd/relay.c)."""
    port = T.free_port((ADDR_A, ADDR_B))
    w = env.mmpd(name="wild", host=ADDR_A, imap_ports=[port], pop_ports=[],
                 aservice={"ServiceList": "ImapProxyAService@%d" % port},
                 imap={"VirtualDomainFile": vdmap,
                       "DefaultDomain": "c.test"})
    w.start()
    t, subj, d = route(w, ADDR_A, "joe", "a-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of joe in a.test"],
           "wildcard listener: joe on %s reaches joe@a.test's mailbox" %
           ADDR_A, d)
    t, subj, d = route(w, ADDR_B, "joe", "b-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of joe in b.test"],
           "wildcard listener: joe on %s reaches joe@b.test's mailbox" %
           ADDR_B, d)
    w.stop()


def test_formats(tap, env, m):
    log = m.log()
    tap.ok(re.search(r'lookup "joe" \(filter \(mail=joe@b\.test\)\)', log),
           "b.test's SearchFormat (mail=%s) used on its address",
           log[-3000:])
    tap.ok(re.search(r'lookup "joe@b\.test" \(filter '
                     r'\(uid=joe@b\.test\)\)', log),
           "the service's SearchFormat on a's address (a sets none)",
           log[-3000:])
    t, _, d = route(m, ADDR_B, "eve", "e-pw")
    got = m.wait_log(r'lookup "eve": entry uid=eve@b\.test,[^:]*: no replay '
                     r'name: the entry has no usable displayName')
    tap.ok(b"NO [AUTHENTICATIONFAILED]" in t and got is not None and
           not any(u.startswith("eve") for u in store_logins(env,
                                                              "store2")),
           "a %A[displayName] value with CR LF fails like an unknown user, "
           "with a log line, and reaches no store", d)
    logins = store_logins(env, "store2", "bjoe", "joe@b.test")
    tap.ok("bjoe" in logins and logins.count("joe@b.test") == 1,
           "b.test's ReplayFormat %A[displayName]: store2 sees bjoe; "
           "joe@b.test only when typed on a's address", repr(logins))


def test_preauth(tap, env, m):
    """a: PreAuth yes, b.test: the service's no."""
    before = store_log(env, "store1").count("joe@a.test")
    t, _, d = route(m, ADDR_A, "joe", "wrong-a")
    time.sleep(0.5)
    after = store_log(env, "store1").count("joe@a.test")
    tap.ok(b"NO" in t and after == before,
           "a (PreAuth yes): a wrong password is refused, store1 never "
           "sees joe@a.test try it", "%s; store1 mentions %d -> %d" %
           (d, before, after))
    tap.ok(m.wait_log(r"user joe@a\.test pre-authentication failed") is
           not None, "a: the pre-authentication failure is audited, the "
           "name with the virtual domain", m.log()[-2000:])
    before = store_log(env, "store2").count("bjoe")
    t, _, d = route(m, ADDR_B, "joe", "wrong-b")
    after = T.poll(lambda: store_log(env, "store2").count("bjoe"),
                   lambda n: n > before)
    tap.ok(b"NO" in t and after > before,
           "b.test (PreAuth no): a wrong password goes to the store, which "
           "refuses it", "%s; store2 mentions %d -> %d" %
           (d, before, after))


def test_restrict(tap, m):
    """r: RestrictPlainPasswords yes; the others: the service's no."""
    caps = {}
    for addr in (ADDR_A, ADDR_R):
        with T.At(m, addr).imap() as c:
            t, un = c.cmd("CAPABILITY")
            caps[addr] = b"".join(un)
            login, _ = c.login("joe", "a-pw")
        caps[addr] = (caps[addr], login)
    tap.ok(b"LOGINDISABLED" in caps[ADDR_R][0] and
           b"PRIVACYREQUIRED" in caps[ADDR_R][1],
           "r (RestrictPlainPasswords yes): no plaintext login without TLS",
           repr(caps))
    tap.ok(b"LOGINDISABLED" not in caps[ADDR_A][0] and
           b"AUTH=PLAIN" in caps[ADDR_A][0],
           "a (the service's no): plaintext login offered", repr(caps))


CERT_VDMAP = """\
vdmap certs {a}
certs:CertMap {certmap}
certs:StoreAdmin {admin}
certs:StoreAdminPass "{adminpw}"
vdmap plain {b}
"""


def external(m, addr, ctx):
    """(capabilities, AUTHENTICATE EXTERNAL answer, [subjects]) over IMAPS
    on addr with ctx's client certificate."""
    port = m.imaps_ports[0]
    with T.Imap(addr, port, 10, tls=(ctx, "localhost", None)) as c:
        t, un = c.cmd("CAPABILITY")
        caps = b"".join(un)
        t, un = c.cmd(b"AUTHENTICATE EXTERNAL =")
        if not re.match(rb"t\d+ OK", t):
            return caps, t, []
        c.cmd("SELECT INBOX")
        _, subj = T.imap_subjects(c)
        c.cmd("LOGOUT")
        return caps, t, subj


def test_certmap(tap, env):
    """A second mmpd whose service has no CertMapFile and no StoreAdmin:
    the virtual domain on .2 brings its own (CertMap, StoreAdmin,
    StoreAdminPass); on .3 there is no certificate login."""
    pk = env.get_pki()
    certmap = env.path("certmap-certs.conf")
    with open(certmap, "w") as f:
        f.write("certmap default default\ndefault:DNComps\n"
                "default:FilterComps ou=uid\n")
    vdmap = env.path("vdmap-certs.cfg")
    with open(vdmap, "w") as f:
        f.write(CERT_VDMAP.format(a=ADDR_A, b=ADDR_B, certmap=certmap,
                                  admin=ADMIN[0], adminpw=ADMIN[1]))
    plain = T.free_port((ADDR_A, ADDR_B))
    tls = T.free_port((ADDR_A, ADDR_B))
    sl = "ImapProxyAService@%s" % "|".join(
        "%s:%d" % (a, p) for p in (plain, tls) for a in (ADDR_A, ADDR_B))
    m2 = env.mmpd("mmpd-certs", host=ADDR_A, tls=True, imap_ports=[plain],
                  imaps_ports=[tls], pop_ports=[],
                  aservice={"ServiceList": sl},
                  imap={"VirtualDomainFile": vdmap,
                        "SSLClientCAFile": pk.ca()})
    m2.pop3s_ports = []		# IMAP only: nothing to wait for on POP3S
    m2.start()
    ctx = T.tls_context(pk, cert=pk.client("pilar"))
    caps, t, subj = external(m2, ADDR_A, ctx)
    tap.ok(b"AUTH=EXTERNAL" in caps.upper() and re.match(rb"t\d+ OK", t) and
           subj == ["for Pilar Lorca"],
           "certificate login on %s: the domain's CertMap and StoreAdmin" %
           ADDR_A, repr((caps, t, subj)))
    tap.ok(env.stores["store1"].wait_log(r"Login: user=<pilar>"),
           "store1 logged pilar in as the domain's StoreAdmin")
    caps, t, subj = external(m2, ADDR_B, ctx)
    tap.ok(b"AUTH=EXTERNAL" not in caps.upper() and not re.match(
        rb"t\d+ OK", t), "no certificate login on %s (a domain without "
        "CertMap, a service without CertMapFile)" % ADDR_B,
        repr((caps, t)))
    m2.stop()


def test_bindpass(tap, env, m):
    """a binds as vdreader on a connection of its own; its BindPass is
    mmp-ldapd's only."""
    tap.ok(re.search(r"bound as uid=vdreader,ou=people", m.log()),
           "a's searches bind as its own BindDN", m.log()[-3000:])
    if os.environ.get("ASAN_OPTIONS") is not None:
        tap.skip("BindPass override in mmp-ldapd only", "ASan's heap")
        return
    secret = [READER_PW.encode()]
    held = [T.memory_holds(p, secret) for p in m.child_pids("mmp-ldapd")]
    tap.ok(held and all(held),
           "mmp-ldapd holds a's BindPass (control)", repr(held))
    pids = m.child_pids("relay")
    held = [T.memory_holds(p, secret) for p in pids]
    tap.ok(pids and not any(h is None or h for h in held),
           "no relay holds a's BindPass", repr(held))


def test_dump(tap, m, vdmap):
    rc, out = m.check(["-n"])
    tap.ok(rc == 0 and re.search(
        r'^ImapProxyAService\.cfg: vdmap b\.test 127\.0\.0\.3   # '
        r'%s:7, domain "b\.test"$' % re.escape(vdmap), out, re.M),
        "-nn: the domain b.test with its address, origin and domain", out)
    tap.ok(re.search(r'^ImapProxyAService\.cfg: b\.test:SearchFormat '
                     r'"\(mail=%%s\)"   # %s:8$' % re.escape(vdmap), out,
                     re.M),
           "-nn: b.test's SearchFormat with file:line", out)
    tap.ok(re.search(r'^ImapProxyAService\.cfg: b\.test:PreAuth "no"   '
                     r'# service$', out, re.M) and
           re.search(r'^ImapProxyAService\.cfg: a:PreAuth "yes"   # '
                     r'%s:4$' % re.escape(vdmap), out, re.M),
           "-nn: PreAuth per domain, inherited or set", out)
    tap.ok(re.search(r'^ImapProxyAService\.cfg: a:BindPass "\*{8}"   # '
                     r'%s:6$' % re.escape(vdmap), out, re.M) and
           READER_PW not in out,
           "-nn: a's BindPass hidden", out)


def test_refused(tap, env, m, vdmap):
    good = vdmap_text()
    lines = good.count("\n")
    for bad, why in (
            ("b.test:Timeout 5\n", "%s:%d: Timeout may not be set per "
             "virtual domain" % (vdmap, lines + 1)),
            ("vdmap c %s\n" % ADDR_A, "%s:%d: vdmap c: address %s already "
             "used by a" % (vdmap, lines + 1, ADDR_A)),
            ("x:PreAuth yes\n", "%s:%d: x: no \"vdmap x IPADDR\" line "
             "before" % (vdmap, lines + 1)),
            ("b.test:ReplayFormat %Q\n", "%s:%d: ReplayFormat:" %
             (vdmap, lines + 1))):
        with open(vdmap, "w") as f:
            f.write(good + bad)
        rc, out = m.check()
        tap.ok(rc == 1 and why in out, "mmpd -n refuses: %s" % why, out)
    off = m.log_size()
    m.reload()
    m.wait_log(r"ReplayFormat:", off)
    since = m.log_since(off)
    tap.ok("%s:%d: ReplayFormat:" % (vdmap, lines + 1) in since,
           "a reload with a bad vdmap is refused with file:line", since)
    t, subj, d = route(m, ADDR_B, "joe", "b-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of joe in b.test"],
           "the running configuration serves on", d)
    with open(vdmap, "w") as f:
        f.write(good.replace("b.test:ReplayFormat \"%A[displayName]\"\n",
                             ""))
    off = m.log_size()
    m.reload()
    ready = m.wait_log(r"configuration \d+ applied", off)
    time.sleep(1)
    t, subj, d = route(m, ADDR_B, "joe", "b-pw")
    tap.ok(ready is not None and b" OK" in t and
           subj == ["mailbox joe@b.test as typed"],
           "a good reload applies: b.test without ReplayFormat replays "
           "joe@b.test", d)
    t, subj, d = route(m, ADDR_A, "joe", "a-pw")
    tap.ok(b" OK" in t and subj == ["mailbox of joe in a.test"] and
           "virtual domain a: LDAP connection" not in m.log_since(off),
           "a's own LDAP connection, unchanged, is kept over the reload", d)
    # a's BindPass changes: a new connection, which the directory refuses.
    with open(vdmap, "w") as f:
        f.write(good.replace(READER_PW, "not-the-password"))
    off = m.log_size()
    m.reload()
    ready = m.wait_log(r"configuration \d+ applied", off)
    time.sleep(1)
    t, _, d = route(m, ADDR_A, "joe", "a-pw")
    t2, subj, d2 = route(m, ADDR_B, "joe", "b-pw")
    tap.ok(ready is not None and b"NO" in t and
           "virtual domain a: LDAP connection of its own" in
           m.log_since(off) and b" OK" in t2,
           "a reload that changes a's BindPass replaces a's connection "
           "only", "%s\n%s\n%s" % (d, d2, m.log_since(off)[-2000:]))


def main(tap):
    env = setup(tap)
    m, vdmap = make_mmpd(env)
    m.start()
    test_routes(tap, env, m)
    test_wildcard(tap, env, vdmap)
    test_formats(tap, env, m)
    test_preauth(tap, env, m)
    test_restrict(tap, m)
    test_bindpass(tap, env, m)
    test_dump(tap, m, vdmap)
    test_refused(tap, env, m, vdmap)
    test_certmap(tap, env)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
