#!/usr/bin/env python3
# CRAMs: with CRAMs yes, IMAP offers AUTHENTICATE CRAM-MD5 (even where
# RestrictPlainPasswords hides AUTH=PLAIN), POP3 puts an APOP timestamp in
# its greeting and offers AUTH CRAM-MD5. mmp-ldapd checks the digest
# against the user's clear-text userPassword ({CLEARTEXT}, {CLEAR}, no
# scheme), the store (a Dovecot master user) sees StoreAdmin acting for the
# user, and every attempt leaves one PreAuth-format audit line. A wrong or
# malformed digest, a hashed userPassword and a disabled account fail like
# a wrong password, at AuthFailureDelay, with PreAuth or without. CRAM
# logins work on IMAPS, POP3S and after STARTTLS too. CRAMs no: nothing
# offered, the commands answered as unknown ones. CRAMs yes without
# StoreAdmin: the configuration is refused with file:line. mmp-ldapd on
# its own refuses a CRAM where CRAMs is off.

import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import ldapdharness as H  # noqa: E402

ADMIN = ("mmpadmin", "admin-pw-5q")
DELAY = 1	# AuthFailureDelay of the CRAMs instance
CHALLENGE = rb"^<[0-9a-f]{16}\.\d+@[A-Za-z0-9.-]+>$"
AUDIT_OK = (r"^\d{8} \d{6} \(sid (0x[0-9a-f]+)\) user %s "
            r"pre-authenticated - 127\.0\.0\.1$")
AUDIT_FAIL = (r"^\d{8} \d{6} \(sid 0x[0-9a-f]+\) user %s "
              r"pre-authentication failed: %s - 127\.0\.0\.1$")
USERS = {
    # uid: (userPassword in LDAP, CRAM secret, store, store password)
    "carol": ("{CLEARTEXT}carol-secret", "carol-secret", "store1",
              "carol-store-pw"),
    "dave": ("dave secret 2", "dave secret 2", "store2", "dave-store-pw"),
    "erin": ("{clear}erin-secret", "erin-secret", "store1", "erin-store-pw"),
}


def setup(tap):
    env = T.Env("crams", tap).setup(store_master=ADMIN)
    for uid, (ldappw, _, store, storepw) in USERS.items():
        env.slapd.add_user(uid, None, "%s.mmp.test" % store,
                           userpassword=ldappw)
        env.stores[store].add_user(uid, storepw)
        env.stores[store].seed(uid, T.message("for %s" % uid))
    # hank: only a hash in the directory; frozen: a clear secret, disabled.
    env.slapd.add_user("hank", "hank-secret", "store1.mmp.test")
    env.stores["store1"].add_user("hank", "hank-secret")
    env.slapd.add_user("frozen", None, "store1.mmp.test",
                       userpassword="frozen-secret",
                       attrs=(("mailUserStatus", "disabled"),))
    env.stores["store1"].add_user("frozen", "frozen-store-pw")
    env.start_backends()
    return env


def cram_md5(challenge, user, secret):
    d = hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()
    return base64.b64encode(("%s %s" % (user, d)).encode())


def apop(timestamp, secret):
    return hashlib.md5(timestamp + secret.encode()).hexdigest()


def logins(env, user):
    return sum(len(re.findall(r"Login: user=<%s>" % re.escape(user),
                              s.log())) for s in env.stores.values())


def audit_lines(path):
    try:
        with open(path, encoding="latin-1") as f:
            return f.read().splitlines()
    except OSError:
        return []


def count_lines(path, regex):
    return len([ln for ln in audit_lines(path) if re.search(regex, ln)])


def wait_count(path, regex, n, timeout=5):
    end = time.time() + timeout
    while count_lines(path, regex) < n and time.time() < end:
        time.sleep(0.1)
    time.sleep(0.3)		# a second line would be there by now
    return count_lines(path, regex)


def imap_challenge(c):
    """AUTHENTICATE CRAM-MD5 on raw client c: (tag, challenge bytes or
    None, the line read)."""
    tag = c.tag()
    c.send(tag.encode() + b" AUTHENTICATE CRAM-MD5\r\n")
    line = c.readline()
    if not line.startswith(b"+ "):
        return tag, None, line
    return tag, base64.b64decode(line[2:].strip()), line


def imap_cram_raw(m, answer):
    """A raw AUTHENTICATE CRAM-MD5 whose response is answer(challenge):
    (tagged answer, seconds from the response to the answer)."""
    with m.imap() as c:
        tag, chal, line = imap_challenge(c)
        if chal is None:
            return line, 0
        t0 = time.monotonic()
        c.send(answer(chal) + b"\r\n")
        t, _ = c.read_until_tagged(tag)
        return t, time.monotonic() - t0


def test_imap(tap, env, m, audit):
    with m.imap() as c:
        t, un = c.cmd("CAPABILITY")
        caps = b"".join(un) + c.greeting
    tap.ok(b"AUTH=CRAM-MD5" in caps and b"LOGINDISABLED" in caps and
           b"AUTH=PLAIN" not in caps, "IMAP: AUTH=CRAM-MD5 offered without "
           "TLS, where RestrictPlainPasswords hides PLAIN", repr(caps))

    n0 = logins(env, "carol")
    c = imaplib.IMAP4(m.host, m.imap_ports[0], timeout=10)
    try:
        typ, _ = c.login_cram_md5("carol", "carol-secret")
        tap.is_(typ, "OK", "imaplib login_cram_md5 as carol")
        c.select("INBOX")
        typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        tap.like(data[0][1] if data and data[0] else b"",
                 r"Subject: for carol", "carol's mailbox is reached")
        c.logout()
    except imaplib.IMAP4.error as e:
        tap.ok(False, "imaplib login_cram_md5 as carol: %s" % e,
               m.log()[-2000:])
    tap.is_(T.poll(lambda: logins(env, "carol"), lambda n: n > n0), n0 + 1,
            "store1 logged carol in once")
    env.stores["store1"].wait_log(r"Master user logging in as carol\b")
    slog = env.stores["store1"].log()
    tap.ok(re.search(r"Master user logging in as carol\b", slog),
           "Dovecot shows the master user's login for carol",
           "\n".join(ln for ln in slog.splitlines() if "carol" in ln)[-1500:])
    tap.ok(m.wait_log(r'user "carol" logged in to \S+ \(\S+; CRAM-MD5, as '
                      r'StoreAdmin mmpadmin; domain -\)'), "relay log: CRAM-MD5, as "
           "StoreAdmin")
    tap.is_(wait_count(audit, AUDIT_OK % "carol", 1), 1, "exactly one audit "
            "line for carol's CRAM-MD5 login")

    # erin: {clear} in lower case; the name through a raw client.
    t, _ = imap_cram_raw(m, lambda ch: cram_md5(ch, "erin", "erin-secret"))
    tap.like(t, r"^t\d+ OK", "raw AUTHENTICATE CRAM-MD5 as erin ({clear})")
    tap.is_(wait_count(audit, AUDIT_OK % "erin", 1), 1,
            "one audit line for erin")

    # Two sessions, two challenges, both well formed.
    chals = []
    for _ in range(2):
        with m.imap() as c:
            _, ch, _ = imap_challenge(c)
            c.send(b"*\r\n")
            r = c.readline()
            chals.append(ch)
    tap.ok(all(ch is not None and re.match(CHALLENGE, ch) for ch in chals),
           "challenges look like <random.time@host>", repr(chals))
    tap.ok(chals[0] != chals[1], "two sessions get different challenges",
           repr(chals))
    tap.like(r, r"^t\d+ BAD", "* cancels the exchange")


def test_tls(tap, m):
    """Offered after STARTTLS as before it, and on IMAPS and POP3S."""
    with m.imap() as c:
        t, _ = c.cmd("STARTTLS")
        c.starttls(T.tls_context(m.env.get_pki()))
        t, un = c.cmd("CAPABILITY")
        caps = b"".join(un)
    tap.ok(b"AUTH=CRAM-MD5" in caps and b"AUTH=PLAIN" in caps,
           "after STARTTLS: AUTH=CRAM-MD5 (and now AUTH=PLAIN)", repr(caps))
    c = m.imaps()
    try:
        typ, _ = c.login_cram_md5("erin", "erin-secret")
        c.logout()
    except imaplib.IMAP4.error as e:
        typ = str(e)
    tap.is_(typ, "OK", "IMAPS: login_cram_md5 as erin")
    p = m.pop3s()
    try:
        r = p.apop("erin", "erin-secret")
        p.quit()
    except poplib.error_proto as e:
        r = str(e).encode()
    tap.like(r, r"^\+OK", "POP3S: apop as erin")


def test_imap_refused(tap, env, m, audit):
    n0 = logins(env, "carol")
    off = m.log_size()
    t, secs = imap_cram_raw(m, lambda ch: cram_md5(ch, "carol", "wrong"))
    tap.like(t, r"^t\d+ NO \[AUTHENTICATIONFAILED\]", "a wrong digest is "
             "refused like a wrong password")
    tap.ok(secs >= DELAY - 0.05, "... at AuthFailureDelay (%.2f s)" % secs)
    tap.ok(m.wait_log(r"CRAM-MD5: wrong digest for uid=carol", off),
           "the log says wrong digest", m.log_since(off)[-1500:])
    tap.is_(wait_count(audit, AUDIT_FAIL % ("carol", "invalid credentials"),
                       1), 1, "one failure audit line for it")

    t, secs = imap_cram_raw(m, lambda ch: base64.b64encode(b"carol 1234"))
    tap.like(t, r"^t\d+ NO \[AUTHENTICATIONFAILED\]", "a malformed response "
             "gets the same answer")
    tap.ok(secs >= DELAY - 0.05, "... at the same deadline (%.2f s)" % secs)
    t, secs = imap_cram_raw(m, lambda ch: b"not base64!")
    tap.like(t, r"^t\d+ NO \[AUTHENTICATIONFAILED\]", "bad base64 too")
    d = hmac.new(b"carol-secret", b"<1.2@elsewhere>", hashlib.md5)
    t, _ = imap_cram_raw(m, lambda ch: base64.b64encode(
        b"carol " + d.hexdigest().encode()))
    tap.like(t, r"^t\d+ NO", "a digest of another challenge is refused")
    tap.is_(logins(env, "carol"), n0, "no store saw carol meanwhile")

    off = m.log_size()
    t, secs = imap_cram_raw(m, lambda ch: cram_md5(ch, "hank", "hank-secret"))
    tap.like(t, r"^t\d+ NO \[AUTHENTICATIONFAILED\]", "a hashed userPassword "
             "is no secret: refused")
    tap.ok(secs >= DELAY - 0.05, "... at the deadline (%.2f s)" % secs)
    tap.ok(m.wait_log(r"CRAM-MD5: the directory holds no clear-text secret "
                      r"for uid=hank", off), "the log says no clear-text "
           "secret", m.log_since(off)[-1500:])
    tap.is_(wait_count(audit, AUDIT_FAIL % ("hank", "no clear-text secret"),
                       1), 1, "its audit line says so")
    stored = env.slapd._hashes["hank-secret"]
    t, _ = imap_cram_raw(m, lambda ch: cram_md5(ch, "hank", stored))
    tap.like(t, r"^t\d+ NO", "nor is the hash a secret: a digest made "
             "with %s... is refused" % stored[:6])
    tap.is_(logins(env, "hank"), 0, "no store saw hank")

    off = m.log_size()
    t, _ = imap_cram_raw(m, lambda ch: cram_md5(ch, "frozen",
                                                "frozen-secret"))
    tap.like(t, r"^t\d+ NO \[AUTHENTICATIONFAILED\]", "a disabled account "
             "with the right digest is refused")
    tap.ok(m.wait_log(r"mailUserStatus disabled", off), "the log names the "
           "status attribute", m.log_since(off)[-1500:])

    with m.imap() as c:
        t, _ = c.cmd(b"AUTHENTICATE CRAM-MD5 " + cram_md5(b"<x@y>", "carol",
                                                          "carol-secret"))
    tap.like(t, r"^t\d+ BAD", "CRAM-MD5 with an initial response is BAD")


def test_pop(tap, env, m, audit):
    n0 = logins(env, "dave")
    p = poplib.POP3(m.host, m.pop_ports[0], timeout=10)
    ts = re.search(rb"<[^>]*>", p.getwelcome())
    tap.ok(ts is not None and re.match(CHALLENGE, ts.group(0)),
           "POP3 greeting carries an APOP timestamp", repr(p.getwelcome()))
    try:
        r = p.apop("dave", "dave secret 2")
        tap.like(r, r"^\+OK", "poplib apop() as dave (no scheme, a blank "
                 "in the secret)")
        _, lines, _ = p.top(1, 0)
        tap.ok(b"Subject: for dave" in lines, "dave's mailbox is reached",
               repr(lines))
        p.quit()
    except poplib.error_proto as e:
        tap.ok(False, "poplib apop() as dave: %s" % e, m.log()[-2000:])
    tap.is_(T.poll(lambda: logins(env, "dave"), lambda n: n > n0), n0 + 1,
            "store2 logged dave in once")
    tap.ok(env.stores["store2"].wait_log(r"Master user logging in as "
                                         r"dave\b"), "... as the master user")
    tap.ok(m.wait_log(r'user "dave" logged in to \S+ \(\S+; APOP, as '
                      r'StoreAdmin mmpadmin; domain -\)'), "relay log: APOP")
    tap.ok(m.wait_log(r"\(sid 0x[0-9a-f]+\) user dave pre-authenticated - "
                      r"127\.0\.0\.1"), "POP3 audit line (service log)")
    time.sleep(0.3)
    tap.is_(len(re.findall(r"user dave pre-authenticated", m.log())), 1,
            "exactly one, though POP3 has PreAuth yes as well")

    with m.pop3() as p2:
        g2 = re.search(rb"<[^>]*>", p2.greeting)
        tap.ok(g2 and ts and g2.group(0) != ts.group(0), "another session, "
               "another timestamp")
        capa = p2.cmd("CAPA") + b"".join(p2.multiline() or [])
        tap.like(capa, r"SASL [^\r\n]*CRAM-MD5", "CAPA: SASL lists CRAM-MD5")
        r = p2.cmd("AUTH CRAM-MD5")
        tap.like(r, r"^\+ ", "AUTH CRAM-MD5 sends a challenge")
        ch = base64.b64decode(r[2:].strip())
        tap.ok(re.match(CHALLENGE, ch) and ch != g2.group(0),
               "a fresh one, not the APOP timestamp", repr(ch))
        r = p2.cmd(cram_md5(ch, "carol", "carol-secret"))
        tap.like(r, r"^\+OK", "POP3 AUTH CRAM-MD5 by hand as carol")
        tap.ok(T.pop_subjects(p2) == ["for carol"], "carol's POP3 mailbox")
        p2.cmd("QUIT")

    with m.pop3() as p3:
        stamp = re.search(rb"<[^>]*>", p3.greeting).group(0)
        t0 = time.monotonic()
        r = p3.cmd(b"APOP dave " + apop(stamp, "wrong").encode())
        secs = time.monotonic() - t0
        tap.like(r, r"^-ERR \[AUTH\]", "APOP with a wrong digest refused")
        tap.ok(secs >= DELAY - 0.05, "... at AuthFailureDelay (%.2f s)"
               % secs)
        r = p3.cmd(b"APOP dave xyz")
        tap.like(r, r"^-ERR \[AUTH\]", "APOP with a malformed digest: "
                 "the same answer")
        r = p3.cmd(b"APOP dave " + apop(stamp, "dave secret 2").encode())
        tap.like(r, r"^\+OK", "then the right digest logs in, same session")
        p3.cmd("QUIT")

    # MaxBadCommands 3 (POP3): failed CRAMs count like failed logins.
    with m.pop3() as p4:
        for i in range(3):
            r = p4.cmd(b"APOP dave " + b"0" * 32)
        tap.like(r, r"^-ERR \[AUTH\]", "three wrong APOPs: refused")
        tap.ok(p4.wait_closed(3), "... and the third one ends the session "
               "(MaxBadCommands 3)")


def test_config(tap, env):
    m = env.mmpd(name="noadmin", imap={"CRAMs": "yes"})
    lines = m.write_config()
    rc, out = m.check()
    tap.ok(rc != 0 and "ImapProxyAService.cfg:%d: CRAMs yes needs StoreAdmin"
           % lines["ImapProxyAService.cfg"]["CRAMs"] in out,
           "mmpd -n: CRAMs yes without StoreAdmin refused with file:line",
           out)


def test_off(tap, env):
    """CRAMs no (the default): nothing offered, answers as for unknown
    mechanisms and commands; a reload to CRAMs yes without StoreAdmin is
    refused and the running configuration stays."""
    m = env.mmpd(name="off", pop={"StoreAdmin": ADMIN[0],
                                  "StoreAdminPass": ADMIN[1]}).start()
    with m.imap() as c:
        t, un = c.cmd("CAPABILITY")
        caps = b"".join(un) + c.greeting
        tap.ok(b"CRAM" not in caps, "CRAMs no: IMAP does not offer CRAM-MD5",
               repr(caps))
        t1, _ = c.cmd("AUTHENTICATE CRAM-MD5")
        t2, _ = c.cmd("AUTHENTICATE X-UNKNOWN")
        tap.is_(T.strip_tag(t1), T.strip_tag(t2), "AUTHENTICATE CRAM-MD5 "
                "answered as an unknown mechanism")
    with m.pop3() as p:
        tap.ok(b"<" not in p.greeting, "CRAMs no: no APOP timestamp in the "
               "greeting", repr(p.greeting))
        r1 = p.cmd("APOP dave 0123456789abcdef0123456789abcdef")
        r2 = p.cmd("XAPO dave 0123456789abcdef0123456789abcdef")
        tap.is_(r1, r2, "APOP answered as an unknown command")
        r1 = p.cmd("AUTH CRAM-MD5")
        r2 = p.cmd("AUTH X-UNKNOWN")
        tap.is_(r1, r2, "AUTH CRAM-MD5 answered as an unknown mechanism")
        capa = p.cmd("CAPA") + b"".join(p.multiline() or [])
        r = p.cmd("AUTH")
        mechs = r + b"".join(p.multiline() or [])
        tap.ok(b"CRAM" not in capa and b"CRAM" not in mechs,
               "neither CAPA nor AUTH lists CRAM-MD5", repr((capa, mechs)))
    tap.ok("pre-authenticated" not in m.log(), "no audit line")

    m.conf_imap["CRAMs"] = "yes"
    lines = m.write_config()
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"ImapProxyAService\.cfg:%d: CRAMs yes needs "
                      r"StoreAdmin" % lines["ImapProxyAService.cfg"]["CRAMs"],
                      off), "reload: refused with file:line",
           m.log_since(off)[-1500:])
    time.sleep(0.5)
    with m.imap() as c:
        t, un = c.cmd("CAPABILITY")
    tap.ok(m.alive() and b"CRAM" not in b"".join(un), "the old "
           "configuration serves on")
    m.stop()


def test_ldapd(tap, env):
    """mmp-ldapd alone, behind a relay of the test's: it checks CRAMs
    itself, so a relay asking where CRAMs is off gets a wrong password."""
    conf = H.ldapd_conf(env.slapd)
    conf["PopProxyAService.cfg"]["CRAMs"] = "yes"
    ld = H.Ldapd(env, tap).start(conf, hosts=[("store1.mmp.test",
                                               "127.0.0.11")])
    relay = ld.relay(0)
    chal = b"<0123456789abcdef.1@relay.test>"
    good = hmac.new(b"carol-secret", chal, hashlib.md5).digest()
    _, r = relay.ask("carol", svc=H.DEF["SVC_POP"], cram=2,
                     challenge=chal, digest=good)
    tap.ok(r is not None and r.status == "LOOKUP_OK" and r.user == "carol",
           "mmp-ldapd: CRAM-MD5 with the right digest (POP, CRAMs yes)",
           repr(r))
    _, r = relay.ask("carol", svc=H.DEF["SVC_POP"], cram=2,
                     challenge=chal, digest=bytes(16))
    tap.ok(r is not None and r.status == "LOOKUP_BADPASS",
           "mmp-ldapd: a wrong digest is LOOKUP_BADPASS", repr(r))
    since = len(ld.log)
    _, r = relay.ask("carol", svc=H.DEF["SVC_IMAP"], cram=2,
                     challenge=chal, digest=good)
    tap.ok(r is not None and r.status == "LOOKUP_BADPASS",
           "mmp-ldapd: the right digest where CRAMs is off (IMAP) is "
           "refused", repr(r))
    tap.ok(ld.wait_log(r"CRAM-MD5: CRAMs are off for IMAP", since),
           "... and says why", ld.log_text(since))
    apop_d = hashlib.md5(chal + b"carol-secret").digest()
    _, r = relay.ask("carol", svc=H.DEF["SVC_POP"], cram=1,
                     challenge=chal, digest=apop_d)
    tap.ok(r is not None and r.status == "LOOKUP_OK",
           "mmp-ldapd: APOP with the right digest", repr(r))
    _, r = relay.ask("carol", svc=H.DEF["SVC_POP"], cram=1,
                     challenge=chal, digest=good)
    tap.ok(r is not None and r.status == "LOOKUP_BADPASS",
           "mmp-ldapd: a CRAM-MD5 digest does not pass for APOP", repr(r))
    tap.ok("carol-secret" not in ld.log_text(), "the secret is not in "
           "mmp-ldapd's log")
    ld.stop()


def main(tap):
    env = setup(tap)
    audit = env.path("imap-audit.log")
    keys = {"CRAMs": "yes", "StoreAdmin": ADMIN[0],
            "StoreAdminPass": ADMIN[1], "AuthFailureDelay": DELAY}
    imap = dict(keys, AuditLog=audit, RestrictPlainPasswords="yes")
    # POP3 with PreAuth too: a CRAM has no password to bind with, and
    # still leaves one audit line, not two.
    m = env.mmpd(imap=imap, pop=dict(keys, PreAuth="yes", MaxBadCommands=3),
                 tls=True).start()
    test_imap(tap, env, m, audit)
    test_tls(tap, m)
    test_imap_refused(tap, env, m, audit)
    test_pop(tap, env, m, audit)
    log = m.log() + open(audit, encoding="latin-1").read()
    tap.ok(not any(u[1] in log for u in USERS.values()) and
           "hank-secret" not in log, "no secret in the logs")
    m.stop()
    test_config(tap, env)
    test_off(tap, env)
    test_ldapd(tap, env)


T.run(main)
