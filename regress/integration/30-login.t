#!/usr/bin/env python3
# Logins through mmpd: routing of IMAP and POP3 to the user's store (mailHost
# as a name from HostsFile or as an address), failures that all look alike
# and take the same AuthFailureDelay, literals, SASL PLAIN, quoting, names
# with LDAP metacharacters, and credentials with CR/LF/NUL that must never
# reach a store.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

BOTH = ("store1", "store2")
QUO_PW = 'p a"ss\\wo rd'
WRONG_PW = "Wr0ng-pw-7x"

# uid, password, store, mailHost (None: the store's name in HostsFile)
ROUTED = [
    ("alice", "alice-pw", "store1", None),
    ("bob", "bob-pw", "store2", T.STORE_ADDRS["store2"]),
    ("carol", "carol-pw", "store2", None),
    ("dan", "dan-pw", "store1", T.STORE_ADDRS["store1"]),
    ("quo", QUO_PW, "store2", None),
    ("user*", "star-pw", "store1", None),
    ("userx", "userx-pw", "store2", None),
    ("a(b)", "paren-pw", "store2", None),
    ("back\\slash", "bs-pw", "store1", None),
]


def setup(tap):
    env = T.Env("login", tap).setup()
    for uid, pw, store, mh in ROUTED:
        env.user(uid, pw, store, mailhost=mh)
        env.stores[store].seed(uid, T.message("%s on %s" % (uid, store)))
    # Known to both stores, so only mmpd's lookup can refuse them.
    env.user("ghost", "ghost-pw", None, ldap=False, stores_pw=BOTH)
    env.user("nomail", "nomail-pw", None, stores_pw=BOTH)
    env.user("us*", "us-pw", None, ldap=False, stores_pw=BOTH)
    # Used only with CR/LF/NUL in its credentials: must never reach a store.
    env.user("dave", "dave-pw", "store1")
    env.start_backends()
    return env


def is_ok(t):
    return re.match(rb"^[A-Za-z0-9.]+ OK", t or b"") is not None


def test_routing(tap, env, m):
    for uid, pw, store, mh in ROUTED[:4]:
        how = "address" if mh else "name"
        t, subj, d = T.imap_route(m, uid, pw)
        tap.ok(is_ok(t) and subj == ["%s on %s" % (uid, store)],
               "IMAP %s (mailHost by %s) lands on %s" % (uid, how, store), d)
        r, subj = T.pop_route(m, uid, pw)
        tap.ok(r.startswith(b"+OK") and subj == ["%s on %s" % (uid, store)],
               "POP3 %s (mailHost by %s) lands on %s" % (uid, how, store),
               "PASS %r, subjects %r" % (r, subj))
    env.stores["store1"].wait_log(r"user=<alice>")
    env.stores["store2"].wait_log(r"user=<bob>")
    log1 = env.stores["store1"].log()
    log2 = env.stores["store2"].log()
    tap.ok("user=<alice>" in log1 and "user=<alice>" not in log2 and
           "user=<bob>" in log2 and "user=<bob>" not in log1,
           "store logs: alice only on store1, bob only on store2")


def imap_fail(m, user, pw, port=None):
    with m.imap(port) as c:
        (t, _), dt = T.timed(c.login, user, pw)
        return t, dt


def pop_fail(m, user, pw, port=None):
    with m.pop3(port) as p:
        u = p.cmd("USER " + user)
        r, dt = T.timed(p.cmd, "PASS " + pw)
        return u, r, dt


def test_failures(tap, m, label, delay):
    cases = [("wrong password", "alice", WRONG_PW),
             ("unknown user", "ghost", "ghost-pw"),
             ("user without mailHost", "nomail", "nomail-pw")]
    imap = [(n,) + imap_fail(m, u, p) for n, u, p in cases]
    for n, t, dt in imap:
        tap.like(t, r"^t1 NO \[AUTHENTICATIONFAILED\] ",
                 "%s IMAP %s: NO [AUTHENTICATIONFAILED]" % (label, n))
    texts = set(T.strip_tag(t) for n, t, dt in imap)
    tap.ok(len(texts) == 1, "%s IMAP: the three failures read the same" %
           label, repr(imap))
    pop = [(n,) + pop_fail(m, u, p) for n, u, p in cases]
    for n, u, r, dt in pop:
        tap.like(r, r"^-ERR", "%s POP3 %s: -ERR" % (label, n))
    texts = set((u, r) for n, u, r, dt in pop)
    tap.ok(len(texts) == 1,
           "%s POP3: the three failures read the same (USER and PASS)" %
           label, repr(pop))
    if delay:
        # 32-timing.t measures this with slow stores and many logins.
        times = [dt for n, t, dt in imap] + [dt for n, u, r, dt in pop]
        tap.ok(all(delay <= x < delay + 0.5 for x in times),
               "%s: every failure is answered AuthFailureDelay %d s after "
               "its credentials" % (label, delay), "times %r" % times)
        tap.ok(max(times) - min(times) < 0.25,
               "%s: failures take the same time (within 250 ms)" % label,
               "times %r" % times)


def test_read_paused(tap, m):
    """While a failed login waits out AuthFailureDelay, mmpd reads nothing
    more from the client: what it pipelines meanwhile (more than the
    relay's input buffer, CLIENT_IN_MAX_BYTES) waits in the kernel and is
    answered after the NO, in order, not cut off as too long."""
    n = 3000
    with m.imap(timeout=20) as c:
        c.send("a LOGIN alice %s\r\n" % WRONG_PW)
        time.sleep(0.3)
        c.send("".join("n%d NOOP\r\n" % i for i in range(n)))
        answers = []
        while True:
            r = c.read_response()
            if not r:
                break
            if not r.startswith(b"*"):
                answers.append(r.split(b" ", 2)[:2])
            if r.startswith(b"n%d " % (n - 1)):
                break
    want = [[b"a", b"NO"]] + [[b"n%d" % i, b"OK"] for i in range(n)]
    tap.ok(answers == want, "%d commands (%d bytes) sent during a failed "
           "login's delay: NO, then every one answered in order" %
           (n, sum(len("n%d NOOP\r\n" % i) for i in range(n))),
           repr(answers[:3] + answers[-2:]) + " of %d" % len(answers))


def test_retry(tap, m):
    with m.imap() as c:
        t, _ = c.login("alice", WRONG_PW)
        t2, _ = c.login("alice", "alice-pw")
        s, un = c.cmd("SELECT INBOX")
        f, subj = T.imap_subjects(c)
        tap.ok(t.startswith(b"t1 NO") and is_ok(t2) and is_ok(s) and
               subj == ["alice on store1"],
               "IMAP: wrong password, then the right one on the same "
               "connection", repr((t, t2, s, subj)))
    with m.pop3() as p:
        r1 = p.login("bob", WRONG_PW)
        r2 = p.login("bob", "bob-pw")
        subj = T.pop_subjects(p)
        tap.ok(r1.startswith(b"-ERR") and r2.startswith(b"+OK") and
               subj == ["bob on store2"],
               "POP3: wrong password, then the right one on the same "
               "connection", repr((r1, r2, subj)))


def test_literals(tap, m):
    with m.imap() as c:
        c.send("l1 LOGIN {5}\r\n")
        r1 = c.readline()
        c.send("alice {%d}\r\n" % len("alice-pw"))
        r2 = c.readline()
        c.send("alice-pw\r\n")
        t, _ = c.read_until_tagged("l1")
        tap.ok(r1.startswith(b"+") and r2.startswith(b"+") and is_ok(t),
               "IMAP LOGIN with synchronizing literals {5}",
               repr((r1, r2, t)))
    with m.imap() as c:
        c.send("l2 LOGIN {5+}\r\nalice {8+}\r\nalice-pw\r\n")
        first = c.read_response()
        s, un = c.cmd("SELECT INBOX")
        tap.ok(first.startswith(b"l2 OK") and is_ok(s),
               "IMAP LOGIN with LITERAL+ {5+}: no continuation, OK",
               repr((first, s)))
    with m.imap() as c:
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        r1 = c.readline()
        c.send(T.sasl_plain("alice", "alice-pw") + b"\r\n")
        t, _ = c.read_until_tagged("a1")
        c.cmd("SELECT INBOX")
        f, subj = T.imap_subjects(c)
        tap.ok(r1.startswith(b"+") and is_ok(t) and
               subj == ["alice on store1"],
               "IMAP AUTHENTICATE PLAIN with continuation",
               repr((r1, t, subj)))
    with m.imap() as c:
        c.send(b"a2 AUTHENTICATE PLAIN " + T.sasl_plain("bob", "bob-pw") +
               b"\r\n")
        t, _ = c.read_until_tagged("a2")
        c.cmd("SELECT INBOX")
        f, subj = T.imap_subjects(c)
        tap.ok(is_ok(t) and subj == ["bob on store2"],
               "IMAP AUTHENTICATE PLAIN with SASL-IR", repr((t, subj)))
    with m.imap() as c:
        c.send("a3 AUTHENTICATE PLAIN\r\n")
        r1 = c.readline()
        c.send("*\r\n")
        t, _ = c.read_until_tagged("a3")
        tap.ok(r1.startswith(b"+") and t.startswith(b"a3 BAD"),
               "IMAP AUTHENTICATE cancelled with *: tagged BAD",
               repr((r1, t)))
        t, _ = c.login("alice", "alice-pw")
        tap.ok(is_ok(t), "IMAP login works after a cancelled AUTHENTICATE",
               repr(t))
    with m.imap() as c:
        c.send(b"a4 AUTHENTICATE PLAIN " +
               T.sasl_plain("alice", "alice-pw", authzid="bob") + b"\r\n")
        t, _ = c.read_until_tagged("a4")
        tap.ok(re.match(rb"a4 (NO|BAD)", t),
               "IMAP AUTHENTICATE PLAIN as another user (authzid): refused",
               repr(t))
    t, subj, d = T.imap_route(m, "quo", QUO_PW)
    tap.ok(is_ok(t) and subj == ["quo on store2"],
           'IMAP LOGIN with quoted password: spaces, \\" and \\\\', d)
    r, subj = T.pop_route(m, "quo", QUO_PW)
    tap.ok(r.startswith(b"+OK") and subj == ["quo on store2"],
           "POP3 PASS with spaces, \" and \\ in the password", repr(r))


def bad_credentials():
    b64 = T.sasl_plain
    return [
        ("IMAP LOGIN name literal with CR LF",
         b"n1 LOGIN {10+}\r\ndave\r\njunk dave-pw\r\n"),
        ("IMAP LOGIN name literal with NUL",
         b"n2 LOGIN {9+}\r\ndave\0junk dave-pw\r\n"),
        ("IMAP LOGIN password literal with CR LF",
         b"n3 LOGIN dave {11+}\r\ndave-pw\r\nxx\r\n"),
        ("IMAP LOGIN password literal with NUL",
         b"n4 LOGIN dave {12+}\r\ndave-pw\0junk\r\n"),
        ("IMAP AUTHENTICATE PLAIN password with CR LF",
         b"n5 AUTHENTICATE PLAIN " + b64("dave", "dave-pw\r\nx") + b"\r\n"),
        ("IMAP AUTHENTICATE PLAIN with a fourth NUL field",
         b"n6 AUTHENTICATE PLAIN " + b64("dave", "dave-pw\0junk") + b"\r\n"),
        ("IMAP AUTHENTICATE PLAIN name with LF",
         b"n7 AUTHENTICATE PLAIN " + b64("dave\njunk", "dave-pw") + b"\r\n"),
    ]


def test_crlfnul(tap, env, m):
    for name, data in bad_credentials():
        tag = data.split(b" ", 1)[0].decode()
        with m.imap() as c:
            c.send(data)
            try:
                t, _ = c.read_until_tagged(tag)
            except OSError as e:
                t = repr(e).encode()
            tap.ok(not is_ok(t), "%s: refused" % name, repr(t))
    pops = [("POP3 USER with NUL", b"USER dave\0junk", b"PASS dave-pw"),
            ("POP3 PASS with NUL", b"USER dave", b"PASS dave-pw\0junk"),
            ("POP3 AUTH PLAIN password with CR LF",
             b"AUTH PLAIN " + T.sasl_plain("dave", "dave-pw\r\nx"), None)]
    for name, l1, l2 in pops:
        with m.pop3() as p:
            try:
                r = p.cmd(l1)
                if l2 is not None:
                    r = p.cmd(l2)
            except OSError as e:
                r = repr(e).encode()
            tap.ok(not r.startswith(b"+OK"), "%s: refused" % name, repr(r))
    env.stores["store1"].wait_log(r"user=<alice>")
    logs = env.stores["store1"].log() + env.stores["store2"].log()
    tap.ok("user=<alice>" in logs, "store log records logins (control)")
    hits = [ln for ln in logs.splitlines() if "dave" in ln]
    tap.ok(not hits, "no credential with CR/LF/NUL reached a store",
           "\n".join(hits[:10]))
    # The relay refuses them itself: mmp-ldapd repeats the check for the
    # name (25-ldapd.t tests it there), so only this shows the relay's.
    refused_re = (r'relay \d+: session \S+ \S+: login "dave\\r\\njunk" '
                  r'refused: bad request \(domain -, store -\): empty, too '
                  r'long or with CR, LF or NUL')
    m.wait_log(refused_re, timeout=5)	# through the parent, maybe late
    log = m.log()
    refused = re.findall(refused_re, log)
    tap.ok(len(refused) == 1, "the relay refused the name with CR LF "
           "itself (its log line)", "\n".join(
               ln for ln in log.splitlines() if "dave" in ln))
    lookups = [ln for ln in log.splitlines()
               if re.search(r'lookup "dave', ln)]
    tap.ok(not lookups, "mmp-ldapd was never asked about dave", "\n".join(
        lookups))
    tap.ok("uid=dave" not in env.slapd.log(), "slapd never searched for "
           "dave")


def test_metachars(tap, env, m):
    for uid, store in (("user*", "store1"), ("a(b)", "store2"),
                       ("back\\slash", "store1")):
        pw = env.users[uid][0]
        t, subj, d = T.imap_route(m, uid, pw)
        tap.ok(is_ok(t) and subj == ["%s on %s" % (uid, store)],
               "IMAP %s lands on %s" % (uid, store), d)
        r, subj = T.pop_route(m, uid, pw)
        tap.ok(r.startswith(b"+OK") and subj == ["%s on %s" % (uid, store)],
               "POP3 %s lands on %s" % (uid, store), repr((r, subj)))
    t, dt = imap_fail(m, "us*", "us-pw")
    tap.like(t, r"^t1 NO \[AUTHENTICATIONFAILED\]",
             "IMAP us* (a wildcard if unescaped) matches no LDAP entry")
    u, r, dt = pop_fail(m, "us*", "us-pw")
    tap.like(r, r"^-ERR", "POP3 us* matches no LDAP entry")
    log = env.slapd.log()
    tap.ok(re.search(r'filter="\(uid=us\\2[aA]\)"', log) and
           "(uid=us*)" not in log and "(uid=user*)" not in log,
           "slapd saw the escaped filter (uid=us\\2A), never a wildcard",
           "\n".join(ln for ln in log.splitlines() if "filter=" in ln)[-2000:])


def test_no_secrets(tap, env, mmpds):
    secrets = set(pw for pw, store in env.users.values()) | {WRONG_PW}
    secrets |= set(T.sasl_plain(u, pw).decode()
                   for u, (pw, s) in env.users.items())
    log = "".join(m.log() for m in mmpds)
    found = sorted(s for s in secrets if s in log)
    tap.ok(log and not found, "no password (plain or SASL base64) in "
           "mmpd's log", "found %r" % found)


def main(tap):
    env = setup(tap)
    m = env.mmpd().start()
    test_routing(tap, env, m)
    test_failures(tap, m, "AuthFailureDelay 0", 0)
    test_retry(tap, m)
    test_literals(tap, m)
    test_metachars(tap, env, m)
    test_crlfnul(tap, env, m)
    slow = {"AuthFailureDelay": 1,
            "LdapUrl": env.slapd.url_by_name + "/" + T.SUFFIX}
    m2 = env.mmpd("delay", imap=slow, pop=dict(slow)).start()
    t, subj, d = T.imap_route(m2, "alice", "alice-pw")
    tap.ok(b" OK" in t and subj == ["alice on store1"],
           "LdapUrl with a host name from HostsFile: IMAP login works", d)
    r, subj = T.pop_route(m2, "bob", "bob-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["bob on store2"],
           "LdapUrl with a host name from HostsFile: POP3 login works",
           repr((r, subj)))
    test_failures(tap, m2, "AuthFailureDelay 1", 1)
    test_read_paused(tap, m2)
    tap.ok(m.alive() and m2.alive(), "mmpd still running")
    test_no_secrets(tap, env, (m, m2))


T.run(main)
