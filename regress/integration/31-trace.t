#!/usr/bin/env python3
# Tracing a login across processes: every line any process writes about a
# session carries that session's id as the relay spells it ("session
# 0x1000000000003"), so one grep of it shows the whole path: accept, TLS
# (mmp-tlsd), lookup with filter, DN, mailHost and milliseconds
# (mmp-ldapd), store connect, login answer, close (the relay). Once
# mmp-ldapd's lines named no session and a login could not be followed.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

PROC_RE = r"\b(relay|tlsd|ldapd)(?: \d+)?: session "


def setup(tap):
    env = T.Env("trace", tap).setup()
    env.get_pki()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice traced"))
    env.start_backends()
    # LogLevel 7: mmp-tlsd's line of a good handshake is a debug one.
    m = env.mmpd(tls=True, aservice={"LogLevel": 7},
                 imap={"LogLevel": 7}).start()
    return env, m


def session_of(m, port):
    """The id of the session of the client on 127.0.0.1:port."""
    got = m.wait_log(r"session (0x[0-9a-f]+) 127\.0\.0\.1:%d: connected on"
                     % port)
    return got.group(1) if got else None


def trace(m, sid):
    """What one grep of the id finds, after the session's close."""
    m.wait_log(r"session %s \S+: closed: " % sid)
    # The processes' lines reach the log through the parent, each on its
    # own channel: give the others' the time to arrive too.
    m.wait_log(r"session %s: lookup " % sid, timeout=5)
    return [ln for ln in m.log().splitlines()
            if re.search(r"session %s[ :]" % sid, ln)]


def has(tap, lines, regex, name):
    tap.ok(any(re.search(regex, ln) for ln in lines), name,
           "no line matches %r among:\n%s" % (regex, "\n".join(lines)))


def procs(lines):
    out = set()
    for ln in lines:
        p = re.search(PROC_RE, ln)
        if p:
            out.add(p.group(1))
    return out


def check_path(tap, lines, sid, what):
    q = re.escape(sid)
    has(tap, lines, r"relay \d+: session %s \S+: connected on" % q,
        "%s: the relay's accept" % what)
    has(tap, lines, r'ldapd: session %s: lookup "alice" \(filter '
        r'\(uid=alice\)\) -> dn uid=alice,\S+ mailHost \S+ \(127\.\S+\) '
        r'\d+ ms' % q, "%s: mmp-ldapd's lookup with filter, DN, mailHost "
        "and milliseconds" % what)
    has(tap, lines, r"relay \d+: session %s \S+: store 127\.\S+: "
        r"connecting" % q, "%s: the relay's store connect" % what)
    has(tap, lines, r'relay \d+: session %s \S+: user "alice" logged in '
        r"to \S+ \(127\.[^;]+; password; domain -\)" % q,
        "%s: the relay's login answer" % what)
    has(tap, lines, r"relay \d+: session %s \S+: closed: " % q,
        "%s: the relay's close" % what)


def test_imap(tap, env, m):
    with m.imap() as c:
        port = c.sock.getsockname()[1]
        t, _ = c.login("alice", "alice-pw")
        tap.ok(re.match(rb"^\S+ OK", t or b""), "IMAP: alice logs in",
               repr(t))
    sid = session_of(m, port)
    tap.ok(sid is not None, "IMAP: the relay names the session")
    if sid is None:
        return
    lines = trace(m, sid)
    check_path(tap, lines, sid, "IMAP")
    tap.ok(procs(lines) >= {"relay", "ldapd"}, "IMAP: one grep shows the "
           "relay's and mmp-ldapd's lines", "\n".join(lines))


def test_imaps(tap, env, m):
    c = m.imaps()
    port = c.sock.getsockname()[1]
    typ, _ = c.login("alice", "alice-pw")
    tap.is_(typ, "OK", "IMAPS: alice logs in")
    c.logout()
    sid = session_of(m, port)
    tap.ok(sid is not None, "IMAPS: the relay names the session")
    if sid is None:
        return
    m.wait_log(r"tlsd: session %s: TLS handoff" % sid, timeout=5)
    lines = trace(m, sid)
    check_path(tap, lines, sid, "IMAPS")
    has(tap, lines, r"tlsd: session %s: TLS handoff 0x[0-9a-f]+ with "
        r"127\.0\.0\.1:%d: TLSv1\.[23] " % (re.escape(sid), port),
        "IMAPS: mmp-tlsd's handshake line")
    has(tap, lines, r"relay \d+: session %s \S+: TLS TLSv1\.[23] "
        % re.escape(sid), "IMAPS: the relay's TLS line")
    tap.ok(procs(lines) >= {"relay", "ldapd", "tlsd"}, "IMAPS: one grep "
           "shows the lines of the relay, mmp-tlsd and mmp-ldapd",
           "\n".join(lines))


def test_unknown(tap, env, m):
    with m.imap() as c:
        port = c.sock.getsockname()[1]
        t, _ = c.login("nobody", "nobody-pw")
        tap.ok(re.match(rb"^\S+ NO", t or b""), "unknown user: refused",
               repr(t))
    sid = session_of(m, port)
    tap.ok(sid is not None, "unknown user: the relay names the session")
    if sid is None:
        return
    lines = trace(m, sid)
    has(tap, lines, r'ldapd: session %s: lookup "nobody": no entry for '
        r"\(uid=nobody\)" % re.escape(sid),
        "unknown user: mmp-ldapd's line names the session and the filter")
    has(tap, lines, r'relay \d+: session %s \S+: login "nobody" refused: '
        r'unknown user'
        % re.escape(sid), "unknown user: the relay's line")


def main(tap):
    T.need_root()
    T.need_tlsd()
    env, m = setup(tap)
    test_imap(tap, env, m)
    test_imaps(tap, env, m)
    test_unknown(tap, env, m)


T.run(main)
