#!/usr/bin/env python3
# TLS to clients through mmp-tlsd: IMAPS and POP3S with the certificate
# verified, STARTTLS and STLS (advertised before TLS only, capabilities
# anew after it, commands pipelined after them never executed, a second
# one refused), RestrictPlainPasswords, session resumption across two
# mmp-tlsd processes for TLS 1.2 and 1.3, the certificate chosen by SNI,
# 10 MiB both ways byte-exact, and real clients: openssl s_client, curl.

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import pki as P  # noqa: E402

TLS_WORKERS = 2
RESUME_CONNS = 12	# enough that both mmp-tlsd get some
BIG = 10 * 1024 * 1024


def ok_tag(t):
    return re.match(rb"^[A-Za-z0-9.]+ OK", t or b"") is not None


def caps_of(untagged):
    for r in untagged:
        m = re.match(rb"\* CAPABILITY (.*)\r\n", r)
        if m:
            return m.group(1).decode("latin-1").upper().split()
    return None


def section(tap, name, fn, *a):
    """One part of the script; an exception is one failed test and the
    rest still runs."""
    try:
        fn(tap, *a)
    except Exception as e:
        import traceback
        tap.ok(False, "%s ran to its end" % name, "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc()))


def store_logins(env, user):
    return sum(len(re.findall(r"Login: user=<%s>" % re.escape(user),
                              s.log())) for s in env.stores.values())


def setup(tap):
    env = T.Env("tls", tap).setup()
    env.get_pki()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice over TLS"))
    env.user("bob", "bob-pw", "store2")
    env.stores["store2"].seed("bob", T.message("bob over TLS"))
    # Its password only ever goes out pipelined after STARTTLS/STLS: the
    # store must never see a login of it.
    env.user("victim", "victim-pw", "store1")
    env.user("big", "big-pw", "store2")
    env.start_backends()
    pk = env.pki
    cert, key = pk.server()
    scert, skey = pk.sni()
    files = {"SSLCertFile": "%s %s" % (cert, scert),
             "SSLKeyFile": "%s %s" % (key, skey)}
    m = env.mmpd(tls=True, aservice={"TLSWorkers": TLS_WORKERS},
                 imap=dict(files), pop=dict(files)).start()
    return env, m


# ---------------------------------------------------------------- IMAPS, POP3S

def test_imaps_pop3s(tap, env, m):
    c = m.imaps()
    tap.ok(c.sock.version() in ("TLSv1.2", "TLSv1.3"),
           "IMAPS: handshake verified against the test CA (%s)" %
           c.sock.version())
    tap.like(c.welcome, r"^\* OK", "IMAPS: greeting after the handshake")
    typ, _ = c.login("alice", "alice-pw")
    tap.is_(typ, "OK", "IMAPS: LOGIN alice")
    typ, n = c.select("INBOX")
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    tap.like(data[0][1] if data and data[0] else b"",
             r"Subject: alice over TLS", "IMAPS: alice reads her message")
    c.logout()

    p = m.pop3s()
    tap.like(p.getwelcome(), r"^\+OK", "POP3S: greeting after the handshake")
    p.user("bob")
    r = p.pass_("bob-pw")
    tap.like(r, r"^\+OK", "POP3S: USER/PASS bob")
    _, lines, _ = p.retr(1)
    tap.ok(b"Subject: bob over TLS" in lines,
           "POP3S: bob retrieves his message", repr(lines[:8]))
    p.quit()

    # The client checks the name: a context that trusts the rogue CA only
    # must fail (so the checks above could fail too).
    bad = T.tls_context(env.pki, ca=env.pki.rogue_ca())
    try:
        m.imaps(ctx=bad).logout()
        got = "handshake succeeded"
    except ssl.SSLCertVerificationError as e:
        got = "verify failed: %s" % e
    tap.like(got, r"verify failed", "IMAPS: a client trusting another CA "
             "refuses mmpd's certificate")


# ---------------------------------------------------------------- STARTTLS

def test_starttls_imap(tap, env, m):
    ctx = T.tls_context(env.pki)
    with m.imap() as c:
        tap.like(c.greeting, r"^\* OK", "IMAP: plaintext greeting")
        t, un = c.cmd("CAPABILITY")
        before = caps_of(un) or []
        tap.ok("STARTTLS" in before, "IMAP: STARTTLS advertised before TLS",
               repr(before))
        t, un = c.cmd("STARTTLS")
        tap.ok(ok_tag(t), "IMAP: STARTTLS answered OK", repr((t, un)))
        c.starttls(ctx)
        tap.ok(c.sock.version() is not None,
               "IMAP: TLS after STARTTLS, certificate verified")
        t, un = c.cmd("CAPABILITY")
        after = caps_of(un) or []
        tap.ok(ok_tag(t) and after and "STARTTLS" not in after,
               "IMAP: capabilities sent anew after TLS, without STARTTLS",
               repr((t, un)))
        t, un = c.cmd("STARTTLS")
        tap.like(t, r"^t\d+ (BAD|NO)", "IMAP: a second STARTTLS is refused")
        t, _ = c.login("alice", "alice-pw")
        tap.ok(ok_tag(t), "IMAP: LOGIN after STARTTLS", repr(t))
        t, un = c.cmd("SELECT INBOX")
        f, subj = T.imap_subjects(c)
        tap.is_(subj, ["alice over TLS"], "IMAP: reads over STARTTLS")
        c.cmd("LOGOUT")


def test_stls_pop3(tap, env, m):
    ctx = T.tls_context(env.pki)
    with m.pop3() as p:
        r = p.cmd("CAPA")
        before = [x.strip().decode("latin-1").upper()
                  for x in (p.multiline() or [])] if \
            r.startswith(b"+OK") else []
        tap.ok("STLS" in before, "POP3: STLS advertised before TLS",
               repr(before))
        r = p.cmd("STLS")
        tap.like(r, r"^\+OK", "POP3: STLS answered +OK")
        p.starttls(ctx)
        r = p.cmd("CAPA")
        after = [x.strip().decode("latin-1").upper()
                 for x in (p.multiline() or [])] if \
            r.startswith(b"+OK") else []
        tap.ok(after and "STLS" not in after,
               "POP3: CAPA after TLS lists no STLS", repr((r, after)))
        tap.like(p.cmd("STLS"), r"^-ERR", "POP3: a second STLS is refused")
        r = p.login("bob", "bob-pw")
        tap.like(r, r"^\+OK", "POP3: USER/PASS after STLS")
        tap.ok(T.pop_subjects(p) == ["bob over TLS"],
               "POP3: reads over STLS")
        p.cmd("QUIT")


def test_injection(tap, env, m):
    ctx = T.tls_context(env.pki)
    before = store_logins(env, "victim")
    # 1. One write: STARTTLS and a LOGIN behind it.
    with m.imap() as c:
        c.send(b"a STARTTLS\r\nb LOGIN victim victim-pw\r\n")
        t = c.readline()
        tap.like(t, r"^a OK", "injection: STARTTLS with a pipelined LOGIN "
                 "answered OK")
        left = c.starttls(ctx)
        tap.is_(left, b"", "injection: nothing after STARTTLS's OK in "
                "plaintext")
        got = c.pending(1.0)
        tap.ok(not re.search(rb"(^|\n)b ", got),
               "injection: no answer to the pipelined LOGIN after the "
               "handshake", repr(got))
        t, un = c.cmd("NOOP")
        tap.ok(ok_tag(t) and not any(x.startswith(b"b ") for x in un),
               "injection: the session goes on, tag b never answered",
               repr((t, un)))
        t, un = c.cmd("SELECT INBOX")
        tap.like(t, r"^t\d+ (BAD|NO)", "injection: not logged in "
                 "(SELECT refused)")
    # 2. The LOGIN sent in plaintext after the OK, before the handshake.
    with m.imap() as c:
        c.send(b"a STARTTLS\r\n")
        tap.like(c.readline(), r"^a OK", "injection 2: STARTTLS OK")
        c.send(b"b LOGIN victim victim-pw\r\n")
        time.sleep(0.3)
        try:
            c.starttls(ctx)
            got = c.pending(1.0)
            t, un = c.cmd("NOOP")
            got += b"".join(un) + t
            how = "handshake done"
        except (ssl.SSLError, OSError) as e:
            got = b""
            how = "handshake failed: %s" % e
        tap.ok(not re.search(rb"(^|\n)b ", got),
               "injection 2: plaintext LOGIN between OK and handshake not "
               "answered (%s)" % how, repr(got))
    # 3. POP3: STLS with USER and PASS behind it.
    with m.pop3() as p:
        p.send(b"STLS\r\nUSER victim\r\nPASS victim-pw\r\n")
        tap.like(p.readline(), r"^\+OK", "injection POP3: STLS +OK")
        left = p.starttls(ctx)
        got = left + p.pending(1.0)
        tap.is_(got, b"", "injection POP3: no answer to the pipelined "
                "USER/PASS")
        tap.like(p.cmd("STAT"), r"^-ERR", "injection POP3: not logged in "
                 "(STAT refused)")
    time.sleep(0.3)
    tap.is_(store_logins(env, "victim"), before,
            "injection: the store never saw a login of the victim")
    tap.ok(not re.search(r'user "victim" logged in', m.log()),
           "injection: mmpd logged no login of the victim",
           "\n".join(x for x in m.log().splitlines() if "victim" in x))


# ---------------------------------------------------------------- Restrict

def test_restrict(tap, env):
    cert, key = env.pki.server()
    m2 = env.mmpd("restrict", tls=True,
                  imap={"RestrictPlainPasswords": "yes"},
                  pop={"RestrictPlainPasswords": "yes"}).start()
    ctx = T.tls_context(env.pki)
    with m2.imap() as c:
        t, un = c.cmd("CAPABILITY")
        caps = caps_of(un) or []
        tap.ok("LOGINDISABLED" in caps and "STARTTLS" in caps,
               "Restrict: plaintext IMAP advertises LOGINDISABLED and "
               "STARTTLS", repr(caps))
        t, _ = c.login("alice", "alice-pw")
        tap.like(t, r"^t\d+ NO \[PRIVACYREQUIRED\]",
                 "Restrict: LOGIN on plaintext refused [PRIVACYREQUIRED]")
        t, _ = c.cmd(b"AUTHENTICATE PLAIN " + T.sasl_plain("alice",
                                                           "alice-pw"))
        tap.like(t, r"^t\d+ (NO|BAD)",
                 "Restrict: AUTHENTICATE PLAIN on plaintext refused")
        t, _ = c.cmd("STARTTLS")
        c.starttls(ctx)
        t, un = c.cmd("CAPABILITY")
        caps = caps_of(un) or []
        tap.ok(caps and "LOGINDISABLED" not in caps,
               "Restrict: no LOGINDISABLED after STARTTLS", repr(caps))
        t, _ = c.login("alice", "alice-pw")
        tap.ok(ok_tag(t), "Restrict: LOGIN works after STARTTLS", repr(t))
    c = m2.imaps()
    typ, _ = c.login("alice", "alice-pw")
    tap.is_(typ, "OK", "Restrict: LOGIN works on IMAPS")
    c.logout()
    with m2.pop3() as p:
        tap.like(p.cmd("USER bob"), r"^-ERR",
                 "Restrict: POP3 USER refused without TLS")
        tap.like(p.cmd(b"AUTH PLAIN " + T.sasl_plain("bob", "bob-pw")),
                 r"^-ERR", "Restrict: POP3 AUTH PLAIN refused without TLS")
        p.cmd("STLS")
        p.starttls(ctx)
        tap.like(p.login("bob", "bob-pw"), r"^\+OK",
                 "Restrict: POP3 USER/PASS works after STLS")
    p = m2.pop3s()
    p.user("bob")
    tap.like(p.pass_("bob-pw"), r"^\+OK", "Restrict: POP3S login works")
    p.quit()
    m2.stop()


# ---------------------------------------------------------------- resumption

def socket_count(pid):
    n = 0
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(
                        "socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        return None
    return n


def test_resumption(tap, env, m):
    tlsds = m.child_pids("mmp-tlsd")
    tap.is_(len(tlsds), TLS_WORKERS, "TLSWorkers %d: that many mmp-tlsd" %
            TLS_WORKERS)
    for name, ver in (("TLS 1.2", ssl.TLSVersion.TLSv1_2),
                      ("TLS 1.3", ssl.TLSVersion.TLSv1_3)):
        ctx = T.tls_context(env.pki, version=ver)
        base = steady_counts(tlsds)
        held = []
        reused = []
        session = None
        try:
            for i in range(RESUME_CONNS):
                c = m.imap_tls(ctx=ctx, session=session)
                held.append(c)
                # The greeting came through: for TLS 1.3 the tickets did.
                if not c.greeting.startswith(b"* OK"):
                    reused.append("greeting %r" % c.greeting)
                if i > 0:
                    reused.append(c.sock.session_reused)
                session = c.sock.session
            tap.is_(held[0].sock.version(), ver.name.replace("_", "."),
                    "%s: negotiated" % name)
            tap.ok(reused and all(r is True for r in reused),
                   "%s: %d connections resume the session, whichever "
                   "mmp-tlsd takes them" % (name, RESUME_CONNS - 1),
                   repr(reused))
            now = {p: socket_count(p) for p in tlsds}
            tap.ok(all(now[p] is not None and base[p] is not None and
                       now[p] > base[p] for p in tlsds),
                   "%s: both mmp-tlsd serve some of them" % name,
                   "sockets before %r, with the sessions %r" % (base, now))
            t, _ = held[-1].login("alice", "alice-pw")
            tap.ok(ok_tag(t), "%s: a resumed session logs in" % name,
                   repr(t))
        finally:
            for c in held:
                c.close()
            # The next round counts from here: wait until every mmp-tlsd
            # has closed what this one held (a session may linger while
            # its last bytes flush).
            settle(tlsds, base)


def steady_counts(tlsds, timeout=10):
    """Socket counts once sessions of earlier tests stopped closing."""
    last = {p: socket_count(p) for p in tlsds}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = {p: socket_count(p) for p in tlsds}
        if now == last:
            break
        last = now
    return last


def settle(tlsds, base, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all((socket_count(p) or 0) <= base[p] for p in tlsds):
            return
        time.sleep(0.1)


# ---------------------------------------------------------------- SNI

def san_dns(c):
    cert = c.getpeercert()
    return sorted(v for k, v in cert.get("subjectAltName", ()) if
                  k == "DNS")


def test_sni(tap, env, m):
    for hostname, want in (("mail.example.test", [P.SNI_NAME]),
                           ("localhost", ["localhost"])):
        ctx = T.tls_context(env.pki)
        with socket.create_connection((m.host, m.imaps_ports[0]), 10) as s:
            with ctx.wrap_socket(s, server_hostname=hostname) as t:
                tap.is_(san_dns(t), want, "SNI %s: that certificate" %
                        hostname)
    ctx = T.tls_context(env.pki)
    ctx.check_hostname = False	# no name sent: nothing to check against
    with socket.create_connection((m.host, m.pop3s_ports[0]), 10) as s:
        with ctx.wrap_socket(s, server_hostname=None) as t:
            tap.is_(san_dns(t), ["localhost"],
                    "no SNI: the first certificate (POP3S)")
            tap.like(t.recv(100), r"^\+OK", "no SNI: greeting")
    c = m.imaps(server_hostname="mail.example.test")
    typ, _ = c.login("alice", "alice-pw")
    tap.is_(typ, "OK", "SNI mail.example.test: IMAPS login")
    c.logout()


# ---------------------------------------------------------------- 10 MiB

def test_big(tap, env, m):
    st = env.stores["store2"]
    data = T.message("big one", size=BIG, crlf=True)
    st.seed("big", data)
    with m.imap_tls(timeout=60) as c:
        t, _ = c.login("big", "big-pw")
        c.cmd("SELECT INBOX")
        t, un = c.cmd("FETCH 1 BODY.PEEK[]")
        body = b""
        for r in un:
            mm = re.match(rb"\* 1 FETCH \(BODY\[\] \{(\d+)\}\r\n", r)
            if mm:
                body = r[mm.end():mm.end() + int(mm.group(1))]
        tap.ok(ok_tag(t) and body == data,
               "IMAPS FETCH: %d bytes byte-exact" % len(data),
               "got %d bytes, tagged %r" % (len(body), t))
    with m.pop3_tls(timeout=60) as p:
        p.login("big", "big-pw")
        r = p.cmd("RETR 1")
        lines = p.multiline() if r.startswith(b"+OK") else None
        got = b"".join(lines or [])
        tap.ok(got == data, "POP3S RETR: %d bytes byte-exact" % len(data),
               "RETR %r, got %d bytes" % (r, len(got)))
        p.cmd("QUIT")
    up = T.message("appended big one", size=BIG, crlf=True)
    with m.imap_tls(timeout=60) as c:
        c.login("big", "big-pw")
        tag = c.tag()
        c.send(("%s APPEND INBOX {%d}\r\n" % (tag, len(up))).encode())
        cont = c.readline()
        tap.like(cont, r"^\+", "APPEND: continuation")
        c.send(up + b"\r\n")
        t, _ = c.read_until_tagged(tag)
        tap.ok(ok_tag(t), "IMAPS APPEND of %d bytes accepted" % len(up),
               repr(t))
    # Dovecot saves with LF line ends (mail_save_crlf = no).
    found = None
    for sub in ("new", "cur"):
        d = os.path.join(st.home("big"), sub)
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                content = fh.read()
            if b"Subject: appended big one" in content[:1000]:
                found = content
    tap.ok(found is not None and found.replace(b"\r\n", b"\n") ==
           up.replace(b"\r\n", b"\n"),
           "APPEND: the store's file holds the message byte-exact",
           "found %s bytes" % (None if found is None else len(found)))


def rss_kib(pid):
    return int(T.proc_status(pid).get("VmRSS", "0 kB").split()[0])


def test_slow_reader(tap, env, m):
    """A client that does not read: mmp-tlsd and the relays hold a bounded
    amount of the 10 MiB (backpressure to the store), not all of it."""
    procs = m.child_pids("mmp-tlsd", "relay")
    with m.imap_tls(timeout=60) as c:
        c.login("big", "big-pw")
        c.cmd("SELECT INBOX")
        before = {p: rss_kib(p) for p in procs}
        tag = c.tag()
        c.send(("%s FETCH 1 BODY.PEEK[]\r\n" % tag).encode())
        time.sleep(2)		# the store sends, nobody reads
        grew = {T.proc_cmdline(p): rss_kib(p) - before[p] for p in procs}
        if any(T.sanitized(p) for p in procs):
            tap.skip("a client that does not read: no process holds the "
                     "message", "AddressSanitizer's quarantine keeps freed "
                     "buffers resident")
        else:
            tap.ok(all(g < 2048 for g in grew.values()),
                   "a client that does not read: no process holds the "
                   "message (RSS growth under 2 MiB each)", repr(grew))
        t, un = c.read_until_tagged(tag)
        body = b""
        for r in un:
            mm = re.match(rb"\* 1 FETCH \(BODY\[\] \{(\d+)\}\r\n", r)
            if mm:
                body = r[mm.end():mm.end() + int(mm.group(1))]
        tap.ok(ok_tag(t) and len(body) >= BIG,
               "then it reads all %d bytes" % len(body), repr(t))


# ---------------------------------------------------------------- clients

def test_real_clients(tap, env, m):
    rc, out = T.s_client(m.imap_ports[0], env.pki, starttls="imap",
                         host=m.host,
                         data=b"a LOGIN alice alice-pw\r\nb SELECT INBOX\r\n"
                              b"c FETCH 1 BODY.PEEK[HEADER.FIELDS "
                              b"(SUBJECT)]\r\nd LOGOUT\r\n")
    tap.ok(re.search(r"^a OK", out, re.M) and
           "Subject: alice over TLS" in out,
           "openssl s_client -starttls imap: login and fetch", out[-2000:])
    rc, out = T.s_client(m.pop3s_ports[0], env.pki, host=m.host,
                         data=b"USER bob\r\nPASS bob-pw\r\nRETR 1\r\n"
                              b"QUIT\r\n")
    tap.ok("Subject: bob over TLS" in out,
           "openssl s_client on POP3S: login and RETR", out[-2000:])
    if not shutil.which("curl"):
        tap.skip("curl imaps", "curl is not installed")
        return
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert",
                        env.pki.ca(), "imaps://%s:%d/INBOX;UID=1" %
                        (m.host, m.imaps_ports[0]), "-u", "alice:alice-pw"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = r.stdout.decode("latin-1")
    tap.ok(r.returncode == 0 and "Subject: alice over TLS" in out,
           "curl --cacert CA imaps:// fetches alice's message", out[-2000:])
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--cacert",
                        env.pki.ca(), "pop3s://%s:%d/1" %
                        (m.host, m.pop3s_ports[0]), "-u", "bob:bob-pw"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = r.stdout.decode("latin-1")
    tap.ok(r.returncode == 0 and "Subject: bob over TLS" in out,
           "curl --cacert CA pop3s:// retrieves bob's message", out[-2000:])


def main(tap):
    T.need_root()
    T.need_tlsd()
    env, m = setup(tap)
    section(tap, "IMAPS/POP3S", test_imaps_pop3s, env, m)
    section(tap, "STARTTLS", test_starttls_imap, env, m)
    section(tap, "STLS", test_stls_pop3, env, m)
    section(tap, "injection", test_injection, env, m)
    section(tap, "RestrictPlainPasswords", test_restrict, env)
    section(tap, "resumption", test_resumption, env, m)
    section(tap, "SNI", test_sni, env, m)
    section(tap, "10 MiB", test_big, env, m)
    section(tap, "slow reader", test_slow_reader, env, m)
    section(tap, "real clients", test_real_clients, env, m)


T.run(main)
