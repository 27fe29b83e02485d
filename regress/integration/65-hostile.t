#!/usr/bin/env python3
# Hostile clients on every listener: one mmpd with plain, implicit TLS,
# STARTTLS and PROXY protocol listeners for IMAP and POP3 (hostile.py),
# and a table of cases x listeners: over-long lines and literals, NUL and
# bare CR, CR/LF smuggled into names and passwords, LDAP filter
# metacharacters in names, pipelining before the greeting and after a
# login, STARTTLS injection, malformed base64 and SASL, 8-bit names, bad
# PROXY headers. Each case on each listener: the protocol's error or a
# clean close, then a normal login on the same listener works; after
# each case nobody logged in but who should have (mmpd's log and the
# stores'), and mmpd's children are the same processes. The filters
# reached slapd escaped (its stats log), CR/LF and NUL were refused by
# mmpd itself, and the victim whose password the attackers send never
# got near LDAP or a store. Slowloris, idle floods and resets are in
# 66-hostile-load.t.

import base64
import collections
import os
import re
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import hostile as H  # noqa: E402
from hostile import drain, Problems  # noqa: E402

IMAP_NO = rb"NO \[AUTHENTICATIONFAILED\] Authentication failed\."
POP_NO = rb"-ERR \[AUTH\] Authentication failed\."
META_NAMES = ["*", ")(uid=*", "\\2a", "al*", "*)(|(uid=*", "alice)(uid=bob",
              "(uid=alice)"]


def b64(raw):
    return base64.b64encode(raw)


def answer(c, tag):
    """Everything up to and including the line tagged tag (b"" ends it at
    EOF)."""
    out = b""
    t = tag.encode() + b" "
    while True:
        line = c.readline()
        out += line
        if not line or line.startswith(t):
            return out
        m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
        if m:
            out += c.read_exact(int(m.group(1)))


def imap_each(c, p, cmds):
    """cmds: (tag, command bytes, regex of the tagged answer); each sent
    and answered in turn."""
    for tag, cmd, want in cmds:
        c.send(tag.encode() + b" " + cmd + b"\r\n")
        got = answer(c, tag)
        p.want(got, rb"(?m)^" + tag.encode() + b" " + want,
               "%s %r" % (tag, cmd[:60]))


def pop_each(c, p, cmds):
    """cmds: (line bytes, regex of the one-line answer)."""
    for cmd, want in cmds:
        c.send(cmd + b"\r\n")
        p.want(c.readline(), b"^" + want, repr(cmd[:60]))


def error_then_close(p, c, regex, what, strict=True):
    """The error line(s), then the close. strict=False: the server may
    close with the client's bytes unread, and a reset may beat its last
    words."""
    data, closed = drain(c, 5)
    p.true(closed, "%s: closed (got %r)" % (what, data[:200]))
    if strict or data:
        p.want(data, regex, what)
    c.close()


# ---------------------------------------------------------------- cases

def case_long_line(t, p):
    c = t.open()
    if t.imap:
        c.send(b"a1 NOOP " + b"x" * 9000 + b"\r\n")
        error_then_close(p, c, rb"^a1 BAD line too long\r\n\* BYE [^\r]*"
                         rb"\r\n$", "a 9000-byte line")
    else:
        c.send(b"NOOP " + b"x" * 3000 + b"\r\n")
        error_then_close(p, c, rb"^-ERR Line too long\r\n$",
                         "a 3000-byte line")
    c = t.open()
    try:
        c.send(b"y" * 30000)
    except OSError:
        pass
    error_then_close(p, c, rb"^(\* BAD line too long\r\n\* BYE [^\r]*|"
                     rb"-ERR Line too long)\r\n$", "30000 bytes without a "
                     "line end", strict=False)
    if not t.imap:
        c = t.open()
        pop_each(c, p, [(b"USER " + b"u" * 300, rb"-ERR USER needs one "
                         rb"name"), (b"NOOP", rb"\+OK")])
        c.close()


def case_long_literal(t, p):
    if not t.imap:
        # POP3 has no literals: its long thing is a SASL response.
        c = t.open()
        c.send(b"AUTH PLAIN\r\n")
        p.want(c.readline(), rb"^\+ \r\n$", "AUTH PLAIN: go ahead")
        c.send(b"A" * 3000 + b"\r\n")
        error_then_close(p, c, rb"^-ERR Line too long\r\n$",
                         "a 3000-byte SASL response")
        return
    c = t.open()
    imap_each(c, p, [("a1", b"LOGIN {100000}", rb"BAD literal too large"),
                     ("a2", b"NOOP", rb"OK")])
    c.send(b"a3 LOGIN {100000+}\r\n")
    error_then_close(p, c, rb"^a3 BAD literal too large\r\n\* BYE [^\r]*"
                     rb"\r\n$", "a LITERAL+ over the limit")
    c = t.open()
    c.send(b"a4 LOGIN {8190+}\r\n" + b"u" * 8190 + b" {8190+}\r\n")
    error_then_close(p, c, rb"^a4 BAD command too long\r\n\* BYE [^\r]*"
                     rb"\r\n$", "two literals over the command's limit")
    c = t.open()
    c.send(b"a5 AUTHENTICATE PLAIN\r\n")
    p.want(c.readline(), rb"^\+ \r\n$", "AUTHENTICATE PLAIN: go ahead")
    c.send(b"A" * 9000 + b"\r\n")
    got, closed = drain(c, 5, until=rb"a5 ")
    p.want(got, rb"^(a5 " + IMAP_NO + rb"|\* BYE )", "a 9000-byte SASL "
           "response: refused")
    c.close()


def case_nul_cr(t, p):
    c = t.open()
    if t.imap:
        imap_each(c, p, [
            ("a1", b'LOGIN "vic\x00tim" victim-pw',
             rb"BAD NUL in quoted string"),
            ("a2", b"LOGIN victim {14}\r\nvictim-pw\x00junk",
             rb"BAD NUL in literal"),
            ("a3", b"LOGIN vic\x00tim victim-pw", rb"BAD "),
            ("a4", b"NOOP\rb4 LOGIN victim victim-pw", rb"BAD "),
            ("a5", b'LOGIN "victim\rx" victim-pw', rb"BAD "),
            ("a6", b"NOOP", rb"OK")])
        p.true(b"b4 " not in c.pending(0.2), "b4 after a bare CR answered")
    else:
        pop_each(c, p, [
            (b"USER vic\x00tim", rb"-ERR NUL in command"),
            (b"USER victim\rPASS victim-pw", rb"-ERR CR or LF in command"),
            (b"USER victim", rb"\+OK"),
            (b"PASS victim-pw\x00junk", rb"-ERR NUL in command"),
            (b"NOOP", rb"\+OK")])
        p.true(c.pending(0.2) == b"", "nothing more answered")
    c.close()


def case_crlf(t, p):
    """Names and passwords with CR or LF, where the syntax can carry them
    (literals, SASL): refused by mmpd, never looked up."""
    c = t.open()
    if t.imap:
        imap_each(c, p, [
            ("c1", b"LOGIN {8}\r\nvictim\r\n victim-pw", IMAP_NO),
            ("c2", b"LOGIN victim {11}\r\nvictim-pw\r\n", IMAP_NO),
            ("c3", b"AUTHENTICATE PLAIN " +
             b64(b"\0victim\0victim-pw\r\nc9 NOOP"), IMAP_NO),
            ("c4", b"AUTHENTICATE PLAIN " +
             b64(b"\0victim\r\n\0victim-pw"), IMAP_NO),
            ("c5", b"NOOP", rb"OK")])
        want = 4
    else:
        pop_each(c, p, [
            (b"AUTH PLAIN " + b64(b"\0victim\0victim-pw\r\nSTAT"), POP_NO),
            (b"AUTH PLAIN " + b64(b"\0victim\r\nUSER x\0victim-pw"),
             POP_NO),
            (b"USER victim", rb"\+OK"),
            (b"PASS victim-pw\r\r", rb"-ERR CR or LF in command"),
            (b"NOOP", rb"\+OK")])
        want = 2
    c.close()
    t.want_badrequest = want


def case_ldap_meta(t, p):
    c = t.open()
    for i, name in enumerate(META_NAMES):
        if t.imap:
            imap_each(c, p, [("m%d" % i, b"LOGIN " + T.imap_quote(name) +
                              b" alice-pw", IMAP_NO)])
        else:
            pop_each(c, p, [(b"USER " + name.encode(), rb"\+OK"),
                            (b"PASS alice-pw", POP_NO)])
    c.close()


def case_pipeline_greeting(t, p):
    """Commands sent before the greeting are answered after it, in order;
    with a STARTTLS among them, what follows it is dropped."""
    if t.kind == "starttls":
        return pipeline_greeting_starttls(t, p)
    if t.imap:
        cmds = (b"p1 CAPABILITY\r\np2 LOGIN nosuchuser wrong\r\n"
                b"p3 NOOP\r\n")
        want = (rb"^\* OK [^\r]*\r\n\* CAPABILITY [^\r]*\r\np1 OK [^\r]*"
                rb"\r\np2 " + IMAP_NO + rb"\r\np3 OK [^\r]*\r\n$")
        until = rb"p3 OK[^\r]*\r\n"
    else:
        cmds = b"CAPA\r\nUSER nosuchuser\r\nPASS wrong\r\nNOOP\r\n"
        want = (rb"^\+OK [^\r]*\r\n\+OK Capability list follows\r\n"
                rb"(?:[^\r]*\r\n)*?\.\r\n\+OK\r\n" + POP_NO +
                rb"\r\n\+OK\r\n$")
        until = POP_NO + rb"\r\n\+OK\r\n"
    if t.kind == "tls":
        c = t.raw()
        c.send(cmds)
    else:
        c = t.raw(pre=cmds)
    got, closed = drain(c, 5, until=until)
    p.want(got, want, "answers of the pipelined commands")
    c.close()


def pipeline_greeting_starttls(t, p):
    cmds = b"p1 STARTTLS\r\np2 LOGIN victim victim-pw\r\n" if t.imap else \
        b"STLS\r\nUSER victim\r\nPASS victim-pw\r\n"
    c = t.raw(pre=cmds)
    p.want(c.readline(), rb"^(\* OK|\+OK) ", "greeting")
    p.want(c.readline(), rb"^(p1 OK|\+OK) Begin TLS", "STARTTLS answered")
    p.true(c.starttls(t.ctx) == b"", "nothing else in the clear")
    after_injection(t, p, c)


def after_injection(t, p, c):
    """In TLS after a STARTTLS with commands behind it: none of them is
    answered, and the session is not logged in."""
    p.true(c.pending(0.3) == b"", "nothing answered after the handshake")
    if t.imap:
        c.send(b"q1 NOOP\r\nq2 SELECT INBOX\r\n")
        got = answer(c, "q2")
        p.want(got, rb"^q1 OK [^\r]*\r\nq2 BAD ", "only q1 and q2 answered, "
               "q2 not logged in")
    else:
        c.send(b"NOOP\r\nSTAT\r\n")
        got = c.readline() + c.readline()
        p.want(got, rb"^\+OK\r\n-ERR ", "only NOOP and STAT answered, STAT "
               "not logged in")
    c.close()


def case_pipeline_login(t, p):
    """Commands after a failed login meet mmpd; after a good one they go
    to the store, none lost."""
    c = t.open()
    if t.imap:
        c.send(b"a LOGIN nosuchuser wrong\r\nb SELECT INBOX\r\n"
               b"c LOGIN alice alice-pw\r\nd SELECT INBOX\r\ne LOGOUT\r\n")
        for tag, want in (("a", IMAP_NO), ("b", rb"BAD "), ("c", rb"OK "),
                          ("d", rb"OK "), ("e", rb"OK ")):
            p.want(answer(c, tag), rb"(?m)^" + tag.encode() + b" " + want,
                   "pipelined %s" % tag)
        who = "alice"
    else:
        c.send(b"USER nosuchuser\r\nPASS wrong\r\nSTAT\r\nUSER bob\r\n"
               b"PASS bob-pw\r\nSTAT\r\nQUIT\r\n")
        for i, want in enumerate((rb"\+OK", POP_NO, rb"-ERR", rb"\+OK",
                                  rb"\+OK", rb"\+OK \d+ \d+", rb"\+OK")):
            p.want(c.readline(), b"^" + want, "pipelined line %d" % (i + 1))
        who = "bob"
    c.close()
    return {who: 1}


def case_starttls_inject(t, p):
    c = t.open()
    if not t.can_starttls:
        # In TLS already: STARTTLS is refused and the next one is read.
        if t.imap:
            c.send(b"s STARTTLS\r\nb NOOP\r\n")
            p.want(answer(c, "s"), rb"(?m)^s BAD ", "STARTTLS in TLS")
            p.want(answer(c, "b"), rb"(?m)^b OK ", "the next command")
        else:
            c.send(b"STLS\r\nNOOP\r\n")
            p.want(c.readline(), rb"^-ERR ", "STLS in TLS")
            p.want(c.readline(), rb"^\+OK", "the next command")
        c.close()
        return
    if t.imap:
        c.send(b"s STARTTLS\r\nb LOGIN victim victim-pw\r\n")
        p.want(c.readline(), rb"^s OK Begin TLS", "STARTTLS answered")
    else:
        c.send(b"STLS\r\nUSER victim\r\nPASS victim-pw\r\n")
        p.want(c.readline(), rb"^\+OK Begin TLS", "STLS answered")
    p.true(c.starttls(t.ctx) == b"", "nothing else in the clear")
    after_injection(t, p, c)


SASL_BAD = [
    (b"!!!!", "not base64"),
    (b"QUJD", "no NUL"),
    (b"QUJDRA", "not whole quanta"),
    (b"QQ==QUJD", "padding inside"),
    (b"QR==", "padding bits set"),
    (b64(b"victim\0alice\0alice-pw"), "authzid of another user"),
    (b64(b"\0alice\0alice-pw\0"), "three NULs"),
    (b64(b"\0alice\0"), "empty password"),
    (b64(b"\0\0alice-pw"), "empty user"),
    (b"=", "empty response"),
]


def case_bad_sasl(t, p):
    c = t.open()
    if t.imap:
        cmds = [("x%d" % i, b"AUTHENTICATE PLAIN " + ir, IMAP_NO)
                for i, (ir, _) in enumerate(SASL_BAD)]
        cmds += [("y1", b"AUTHENTICATE GSSAPI", rb"NO Unsupported"),
                 ("y2", b'AUTHENTICATE PLAIN "AGFsaWNlAGFsaWNlLXB3"',
                  rb"BAD "),
                 ("y3", b"AUTHENTICATE PLAIN a b", rb"BAD ")]
        imap_each(c, p, cmds)
        for tag, line, want in (("z1", b"*", rb"BAD AUTHENTICATE cancelled"),
                                ("z2", b"@@@@", IMAP_NO),
                                ("z3", b64(b"alice\0\0alice-pw"), IMAP_NO)):
            c.send(tag.encode() + b" AUTHENTICATE PLAIN\r\n")
            p.want(c.readline(), rb"^\+ \r\n$", "%s: go ahead" % tag)
            c.send(line + b"\r\n")
            p.want(answer(c, tag), rb"(?m)^" + tag.encode() + b" " + want,
                   "%s: %r" % (tag, line))
        imap_each(c, p, [("y9", b"NOOP", rb"OK")])
    else:
        cmds = [(b"AUTH PLAIN " + ir, POP_NO) for ir, _ in SASL_BAD]
        cmds += [(b"AUTH GSSAPI", rb"-ERR Unsupported"),
                 (b"AUTH PLAIN a b", rb"-ERR ")]
        pop_each(c, p, cmds)
        for line, want in ((b"*", rb"-ERR Authentication cancelled"),
                           (b"@@@@", POP_NO),
                           (b64(b"alice\0\0alice-pw"), POP_NO)):
            c.send(b"AUTH PLAIN\r\n")
            p.want(c.readline(), rb"^\+ \r\n$", "go ahead")
            c.send(line + b"\r\n")
            p.want(c.readline(), b"^" + want, repr(line))
        pop_each(c, p, [(b"NOOP", rb"\+OK")])
    c.close()


def case_eight_bit(t, p):
    """An 8-bit name that exists logs in; other 8-bit bytes are refused
    by the syntax or look up nobody."""
    utf8 = H.UTF8_USER.encode()
    latin = H.UTF8_USER.encode("latin-1")
    c = t.open()
    if t.imap:
        imap_each(c, p, [
            ("e1", b'LOGIN "' + latin + b'" juergen-pw',
             rb"BAD invalid UTF-8"),
            ("e2", b"LOGIN {%d}\r\n" % len(latin) + latin + b" juergen-pw",
             IMAP_NO),
            ("e3", b"LOGIN " + utf8 + b" juergen-pw", rb"BAD "),
            ("e4", b'LOGIN "' + utf8 + b'" wrong-pw', IMAP_NO),
            ("e5", b'LOGIN "j\xc3" juergen-pw', rb"BAD invalid UTF-8"),
            ("e6", b'LOGIN "' + utf8 + b'" juergen-pw', rb"OK "),
            ("e7", b"LOGOUT", rb"OK ")])
    else:
        pop_each(c, p, [(b"USER " + latin, rb"\+OK"),
                        (b"PASS juergen-pw", POP_NO),
                        (b"USER " + utf8, rb"\+OK"),
                        (b"PASS juergen-pw", rb"\+OK"),
                        (b"QUIT", rb"\+OK")])
    c.close()
    return {H.UTF8_USER: 1}


def case_bad_proxy(t, p):
    spoof = H.v1("203.0.113.66", "127.0.0.1", 6666, t.port)
    if t.kind == "proxy":
        # A client behind the balancer sends a header of its own: it is
        # a bad command, and the session keeps the balancer's address.
        c = t.open()
        c.send(spoof)
        p.want(c.readline(), rb"^(PROXY BAD|-ERR) ", "a second header")
        c.close()
        for data, what in (
                (H.v2("203.0.113.9", "127.0.0.1", 5, t.port, length=65535),
                 "v2 with 65535 bytes of addresses"),
                (b"PROXY TCP4 203.0.113.9\x00 127.0.0.1 5 143\r\n",
                 "v1 with a NUL"),
                (b"PROXY TCP4 203.0.113.9 127.0.0.1 5 143\r\r\n",
                 "v1 with a bare CR"),
                (b"PROXY TCP4 203.0.113.9 127.0.0.1 5 143 6\r\n",
                 "v1 with a field too many")):
            c = T.Conn(t.m.host, t.port, source=H.LB, pre=data)
            got, closed = drain(c, 5)
            p.true(closed, "%s: closed" % what)
            p.true(got == b"" or (got.startswith(b"* OK") or
                                  got.startswith(b"+OK")),
                   "%s: nothing but a greeting (got %r)" % (what, got))
            c.close()
        return
    if t.kind == "tls":
        # Before TLS: no ClientHello, the handshake fails, no word.
        c = t.raw(pre=spoof, handshake=False)
        got, closed = drain(c, 5)
        p.true(closed, "a PROXY header on a TLS port: closed")
        p.true(got == b"" or got.startswith(b"\x15"),
               "nothing but a TLS alert (got %r)" % got[:40])
        c.close()
        return
    c = t.open() if t.kind == "starttls" else t.raw(pre=spoof)
    if t.kind == "starttls":
        c.send(spoof)
    else:
        p.want(c.readline(), rb"^(\* OK|\+OK) ", "greeted")
    p.want(c.readline(), rb"^(PROXY BAD|-ERR) ", "a PROXY header where "
           "none is expected: a bad command")
    c.close()
    c = t.open() if t.kind == "starttls" else t.raw(pre=H.v2(
        "203.0.113.66", "127.0.0.1", 6666, t.port))
    if t.kind == "starttls":
        c.send(H.v2("203.0.113.66", "127.0.0.1", 6666, t.port))
    got, closed = drain(c, 2)
    ok = rb"(\* OK [^\r]*|\* BAD [^\r]*|\S+ BAD [^\r]*|\+OK [^\r]*|-ERR [^\r]*)"
    p.want(got, rb"^(" + ok + rb"\r\n)*$", "a v2 header where none is "
           "expected: greeting, errors, maybe QUIT's goodbye")
    c.close()


CASES = [
    ("over-long lines", case_long_line),
    ("over-long literals and SASL responses", case_long_literal),
    ("NUL and bare CR", case_nul_cr),
    ("CR/LF in names and passwords", case_crlf),
    ("LDAP filter metacharacters in names", case_ldap_meta),
    ("pipelining before the greeting", case_pipeline_greeting),
    ("pipelining after the login", case_pipeline_login),
    ("STARTTLS injection", case_starttls_inject),
    ("malformed base64 and SASL", case_bad_sasl),
    ("8-bit names", case_eight_bit),
    ("bad PROXY headers", case_bad_proxy),
]


# ---------------------------------------------------------------- checks

def run_case(tap, env, m, name, fn, tgts):
    """fn on every listener, each followed by a normal login there; then
    who logged in and mmpd's children. Returns the Watch of the case."""
    w = H.Watch(env, m)
    want = collections.Counter()
    for t in tgts:
        p = Problems()
        try:
            want.update(fn(t, p) or {})
        except Exception:
            p.bad.append("exception:\n" + traceback.format_exc())
        err = t.login()
        p.true(err is None, "the next normal login: %s" % err)
        want[H.NORMAL[t.proto][0]] += 1
        tap.ok(not p.bad, "%s: %s, then a normal login" % (t, name),
               p.text())
    err = w.logins(want)
    tap.ok(err is None, "%s: nobody else logged in (mmpd, stores)" % name,
           err)
    err = w.same_children()
    tap.ok(err is None, "%s: mmpd's children are the same processes" %
           name, err)
    return w


def check_filters(tap, w):
    """The names with filter metacharacters reached slapd escaped."""
    filters = re.findall(r'SRCH base="[^"]*" .*filter="([^"]*)"',
                         w.slapd_log())
    low = [f.lower() for f in filters]
    escaped = [("(uid=%s)" % H.filter_escape(n)).lower() for n in META_NAMES]
    for name, esc in zip(META_NAMES, escaped):
        tap.ok(any(esc in f for f in low), "slapd's filter for %r is %s" %
               (name, esc), "filters seen: %r" % filters[-40:])
        # Unescaped, "\2a" is the escaped "*": that one says nothing.
        raw = "(uid=%s)" % name
        if raw.lower() not in escaped:
            tap.ok(not any(raw in f for f in filters), "and never %s" %
                   raw, "filters seen: %r" % filters[-40:])


def check_crlf(tap, env, m, w, tgts):
    log = w.mmpd_log()
    n = len(re.findall(r'refused: bad request \(domain [^)]*\): empty, too '
                       r'long or with CR, LF or NUL|refused: bad request '
                       r'\(domain [^)]*\): CR or LF in credentials', log))
    want = sum(t.want_badrequest for t in tgts)
    tap.is_(n, want, "CR/LF: every such login refused by mmpd itself as a "
            "bad request")
    tap.ok('login "victim\\r\\n" refused: bad request' in log,
           "CR/LF: the log shows the name with CR LF escaped")


def check_victim(tap, env):
    """The victim's password was sent by attackers only: mmpd never
    looked it up, no store saw it."""
    slog = env.slapd.log()
    tap.ok("victim" not in slog,
           "the victim was never searched for in LDAP",
           "\n".join(ln for ln in slog.splitlines()
                     if "victim" in ln)[-2000:])
    seen = [ln for s in env.stores.values() for ln in s.log().splitlines()
            if "victim" in ln]
    tap.ok(not seen, "no store saw the victim's name",
           "\n".join(seen)[-2000:])


def main(tap):
    env = H.setup(tap, "hostile")
    m = H.start(env)
    tgts = H.targets(m)
    for t in tgts:
        err = t.login()
        tap.ok(err is None, "%s: a normal login (control)" % t, err)
    for name, fn in CASES:
        w = run_case(tap, env, m, name, fn, tgts)
        if fn is case_ldap_meta:
            check_filters(tap, w)
        elif fn is case_crlf:
            check_crlf(tap, env, m, w, tgts)
    check_victim(tap, env)
    tap.ok(not re.search(r"session 0x[0-9a-f]+ 203\.0\.113\.66:", m.log()),
           "no session ever had the address of a header sent where none "
           "is read")
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
