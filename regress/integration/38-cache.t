#!/usr/bin/env python3
# mmp-ldapd's caches against slapd's own log (slapd -d stats: one SRCH
# line per search with its filter, one BIND line per bind with its DN).
# LdapCache: a second login within LdapCacheTTL makes no search and says
# "cache hit" with its session id; after the TTL it searches again; with
# LdapCacheSize 2 the least recently used user goes. AuthCache (PreAuth):
# the right password again makes no bind and still one audit line per
# login; a wrong one binds and is refused; a failed login never fills it.
# mmp-ldapd's memory holds no password after cached logins. A reload
# that changes SearchFormat or BindDN drops the cache, one that changes
# nothing keeps it; the counters are logged at reload and at SIGTERM.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

TTL = 2		# LdapCacheTTL of the expiry instance
AUDIT_OK = (r"^\d{8} \d{6} \(sid (0x[0-9a-f]+)\) user %s "
            r"pre-authenticated - 127\.0\.0\.1$")
AUDIT_FAIL = (r"^\d{8} \d{6} \(sid 0x[0-9a-f]+\) user %s "
              r"pre-authentication failed: invalid credentials - "
              r"127\.0\.0\.1$")
# Distinctive, so a scan of mmp-ldapd's memory cannot find it by chance.
SECRET = "Kq7vXc-cache-secret-Wm3"
USERS = ["cara", "cody", "cyd", "cole", "cruz", "cass"]
STATS = (r"IMAP %s: (\d+) hits, (\d+) misses, (\d+) evicted, (\d+) "
         r"expired, (\d+) entries")


def setup(tap):
    env = T.Env("cache", tap).setup()
    for u in USERS:
        env.user(u, u + "-pw", "store1")
    env.user("pia", SECRET, "store1")
    env.user("quin", "quin-pw", "store1")
    env.user("rex", "rex-pw", "store1")
    env.user("ria", "ria-pw", "store1")
    env.start_backends()
    return env


def searches(env, uid):
    """slapd's SRCH lines for the user filter (uid=UID)."""
    return len(re.findall(r'SRCH base=.* filter="\(uid=%s\)"' %
                          re.escape(uid), env.slapd.log()))


def binds(env, uid):
    """slapd's binds as uid (a bind logs a request line with its method,
    then a result line)."""
    return len(re.findall(r'BIND dn="uid=%s,[^"]*" method=' %
                          re.escape(uid), env.slapd.log()))


def login(m, user, password):
    with m.imap() as c:
        t, _ = c.login(user, password)
    return t


def logged_in(m, user, offset):
    """The session id of the relay's last login of user after offset."""
    got = re.findall(r'session (0x[0-9a-f]+) \S+: user "%s" logged in' %
                     re.escape(user), m.log_since(offset))
    return got[-1] if got else None


def settle(env, uid, want_searches, timeout=3):
    end = time.time() + timeout
    while searches(env, uid) < want_searches and time.time() < end:
        time.sleep(0.05)
    time.sleep(0.2)


def stats(m, what, offset=0):
    got = re.findall(STATS % what, m.log_since(offset))
    return tuple(int(x) for x in got[-1]) if got else None


def test_hit_and_expiry(tap, env):
    m = env.mmpd(name="ttl", imap={"LdapCacheTTL": TTL}).start()
    u = "cara"
    t1 = login(m, u, u + "-pw")
    settle(env, u, 1)
    off = m.log_size()
    t2 = login(m, u, u + "-pw")
    tap.ok(re.match(rb"t\d+ OK", t1 or b"") and
           re.match(rb"t\d+ OK", t2 or b""), "two logins of one user",
           repr((t1, t2)))
    time.sleep(0.3)
    tap.is_(searches(env, u), 1, "within LdapCacheTTL: slapd shows one "
            "search for (uid=%s)" % u)
    sid = logged_in(m, u, off)
    hit = m.wait_log(r"session %s: lookup \"%s\" \(filter \(uid=%s\)\) -> "
                     r"dn uid=%s,\S+ mailHost \S+ \([0-9.]+\) \d+ ms "
                     r"\(cache hit\)" % (sid, u, u, u), off, timeout=3)
    tap.ok(sid is not None and hit is not None, "the second lookup's line "
           "says cache hit, with its session id",
           "sid %r:\n%s" % (sid, "\n".join(
               ln for ln in m.log_since(off).splitlines()
               if "lookup" in ln)))
    before = m.log_since(0)
    tap.ok(len(re.findall(r'lookup "%s".*\(cache hit\)' % u, before)) == 1,
           "the first lookup was no cache hit")
    time.sleep(TTL + 0.5)
    t3 = login(m, u, u + "-pw")
    settle(env, u, 2)
    tap.ok(re.match(rb"t\d+ OK", t3 or b"") is not None,
           "a login after the TTL", repr(t3))
    tap.is_(searches(env, u), 2, "after LdapCacheTTL: a new search")
    off = m.log_size()
    m.stop()
    st = stats(m, "LdapCache", off)
    tap.ok(st is not None and st[0] == 1 and st[1] == 2 and st[3] == 1,
           "at SIGTERM: 1 hit, 2 misses, 1 expired in the log", repr(st))


def test_lru(tap, env):
    m = env.mmpd(name="lru", imap={"LdapCacheSize": 2}).start()
    a, b, c = USERS[1:4]
    ok = True
    for u in (a, b, a, b):
        ok = ok and re.match(rb"t\d+ OK", login(m, u, u + "-pw") or b"")
    settle(env, b, 1)
    tap.ok(ok and searches(env, a) == 1 and searches(env, b) == 1,
           "LdapCacheSize 2: two users logging in twice, one search each",
           "%s %d, %s %d" % (a, searches(env, a), b, searches(env, b)))
    # a, b cached, b the most recent: c takes a's place.
    login(m, c, c + "-pw")
    settle(env, c, 1)
    login(m, b, b + "-pw")
    time.sleep(0.3)
    tap.is_(searches(env, b), 1, "the most recently used one stays cached")
    login(m, a, a + "-pw")
    settle(env, a, 2)
    tap.is_(searches(env, a), 2, "the least recently used one was evicted: "
            "a search again")
    # Three users round robin in a cache of two: every login searches.
    for u in (USERS[4], USERS[5], c) * 2:
        login(m, u, u + "-pw")
    settle(env, c, 3)
    tap.ok(searches(env, USERS[4]) == 2 and searches(env, USERS[5]) == 2
           and searches(env, c) == 3, "three users round robin in a cache "
           "of two: each login searches",
           repr([searches(env, u) for u in (USERS[4], USERS[5], c)]))
    off = m.log_size()
    m.stop()
    st = stats(m, "LdapCache", off)
    tap.ok(st is not None and st[2] >= 7 and st[4] == 2,
           "at SIGTERM: the evictions counted, 2 entries left", repr(st))


def audit_lines(path, regex):
    try:
        with open(path, encoding="latin-1") as f:
            return [ln for ln in f.read().splitlines()
                    if re.search(regex, ln)]
    except OSError:
        return []


def wait_audit(path, regex, n, timeout=5):
    end = time.time() + timeout
    while len(audit_lines(path, regex)) < n and time.time() < end:
        time.sleep(0.05)
    time.sleep(0.2)
    return audit_lines(path, regex)


def test_auth(tap, env, m, audit):
    u = "quin"
    ok1 = login(m, u, "quin-pw")
    wait_audit(audit, AUDIT_OK % u, 1)
    off = m.log_size()
    ok2 = login(m, u, "quin-pw")
    lines = wait_audit(audit, AUDIT_OK % u, 2)
    tap.ok(re.match(rb"t\d+ OK", ok1 or b"") and
           re.match(rb"t\d+ OK", ok2 or b""), "PreAuth: two logins with the "
           "right password", repr((ok1, ok2)))
    tap.is_(binds(env, u), 1, "the second makes no bind as the user "
            "(slapd's log)")
    tap.is_(len(lines), 2, "still exactly one audit line per login")
    sid = logged_in(m, u, off)
    tap.ok(len(lines) == 2 and re.search(AUDIT_OK % u, lines[1]).group(1)
           == sid, "the cached login's audit line has its session id, in "
           "the same format", repr((lines, sid)))
    tap.ok(m.wait_log(r"session %s: lookup \"%s\" .* \(cache hit, "
                      r"AuthCache hit\)" % (sid, u), off, 3) is not None,
           "the lookup's line says so")
    # A wrong password after a cached success: a bind, refused.
    bad = login(m, u, "not-quin-pw")
    fails = wait_audit(audit, AUDIT_FAIL % u, 1)
    tap.ok(re.match(rb"t\d+ NO", bad or b"") is not None, "a wrong password "
           "after a cached success is refused", repr(bad))
    tap.is_(binds(env, u), 2, "it was bound")
    tap.is_(len(fails), 1, "one failure line")
    # The failed bind dropped the entry: the right password binds again,
    # and then is cached.
    login(m, u, "quin-pw")
    login(m, u, "quin-pw")
    wait_audit(audit, AUDIT_OK % u, 4)
    tap.is_(binds(env, u), 3, "after a failed bind the right password binds "
            "again, then is cached")
    bad = login(m, u, "not-quin-pw")
    bad2 = login(m, u, "not-quin-pw")
    wait_audit(audit, AUDIT_FAIL % u, 3)
    tap.ok(b"NO" in (bad or b"") and b"NO" in (bad2 or b"") and
           binds(env, u) == 5, "a wrong password is never cached: it binds "
           "each time", "binds %d" % binds(env, u))
    # A failed login never fills the cache: wrong, then right, binds twice.
    r = "rex"
    login(m, r, "not-rex-pw")
    t = login(m, r, "rex-pw")
    wait_audit(audit, AUDIT_OK % r, 1)
    tap.ok(re.match(rb"t\d+ OK", t or b"") and binds(env, r) == 2,
           "wrong then right: the right one binds", "binds %d" %
           binds(env, r))
    login(m, r, "rex-pw")
    wait_audit(audit, AUDIT_OK % r, 2)
    tap.is_(binds(env, r), 2, "and is cached from then on")


def test_memory(tap, env, m, audit):
    ok = [login(m, "pia", SECRET) for _ in range(3)]
    wait_audit(audit, AUDIT_OK % "pia", 3)
    tap.ok(all(re.match(rb"t\d+ OK", t or b"") for t in ok) and
           binds(env, "pia") == 1, "three PreAuth logins, one bind",
           repr(ok))
    if os.environ.get("ASAN_OPTIONS") is not None:
        tap.skip("mmp-ldapd holds no password", "ASan's heap is not read")
        return
    pid = m.child_pid("mmp-ldapd")
    found = T.memory_holds(pid, [b"pia-not-there", b"uid=pia,"]) \
        if pid else None
    tap.ok(found is not None and b"uid=pia," in found,
           "mmp-ldapd's memory is readable: the user's DN is in it "
           "(control)", repr(found))
    found = T.memory_holds(pid, [SECRET.encode()]) if pid else None
    tap.ok(found is not None and not found, "mmp-ldapd's memory holds no "
           "password after cached PreAuth logins", repr(found))


def test_reload(tap, env, m):
    u = "ria"
    login(m, u, u + "-pw")
    login(m, u, u + "-pw")
    settle(env, u, 1)
    tap.is_(searches(env, u), 1, "reload: cached before")
    off = m.log_size()
    m.reload()
    got = m.wait_log(r"configuration \d+ applied", off)
    tap.ok(got is not None and stats(m, "LdapCache", off) is not None and
           stats(m, "AuthCache", off) is not None, "a reload logs each "
           "cache's hits and misses", m.log_since(off)[-2000:])
    time.sleep(0.3)
    login(m, u, u + "-pw")
    time.sleep(0.3)
    tap.is_(searches(env, u), 1, "a reload with no change keeps the cache")
    tap.ok("start empty" not in m.log_since(off),
           "and says nothing of dropping it")
    # SearchFormat changed (same meaning, another text): dropped.
    m.conf_imap["SearchFormat"] = "(&(uid=%s)(objectClass=*))"
    m.write_config()
    off = m.log_size()
    m.reload()
    m.wait_log(r"configuration \d+ applied", off)
    dropped = m.wait_log(r"IMAP directory settings changed: its LdapCache "
                         r"and AuthCache start empty", off, 3)
    time.sleep(0.3)
    login(m, u, u + "-pw")
    time.sleep(0.3)
    n = len(re.findall(r'SRCH base=.* filter="\(&\(uid=%s\)\(objectClass='
                       % u, env.slapd.log()))
    tap.ok(dropped is not None and n == 1, "a reload that changes "
           "SearchFormat drops the cache: a new search", "n %d" % n)
    # BindDN changed (another DN with the same rights): dropped too.
    login(m, u, u + "-pw")
    time.sleep(0.3)
    m.conf_imap["BindDN"] = m.conf_imap["BindDN"].replace(
        "cn=Directory Manager", "CN=Directory Manager")
    m.write_config()
    off = m.log_size()
    m.reload()
    m.wait_log(r"configuration \d+ applied", off)
    time.sleep(0.5)
    t = login(m, u, u + "-pw")
    time.sleep(0.3)
    n = len(re.findall(r'SRCH base=.* filter="\(&\(uid=%s\)\(objectClass='
                       % u, env.slapd.log()))
    tap.ok(re.match(rb"t\d+ OK", t or b"") and n == 2,
           "a reload that changes BindDN drops the cache", "n %d, %r" %
           (n, t))
    off = m.log_size()
    m.stop()
    tap.ok(stats(m, "LdapCache", off) is not None and
           stats(m, "AuthCache", off) is not None,
           "SIGTERM logs each cache's hits and misses",
           m.log_since(off)[-2000:])


def main(tap):
    env = setup(tap)
    test_hit_and_expiry(tap, env)
    test_lru(tap, env)
    audit = env.path("imap-audit.log")
    m = env.mmpd(name="auth", imap={"PreAuth": "yes", "AuditLog": audit,
                                    "AuthCacheTTL": 60,
                                    "LdapCacheTTL": 60}).start()
    test_auth(tap, env, m, audit)
    test_memory(tap, env, m, audit)
    test_reload(tap, env, m)


T.run(main)
