#!/usr/bin/env python3
# Statistics (StatsListen): the page read over HTTP by urllib and raw
# sockets, every line parsed as Prometheus text (format 0.0.4) by a strict
# parser below; counters that move with real logins (ok, wrong password,
# unknown user, store down), sessions by state while one is open, bytes
# after a FETCH, TLS handshakes, cache hits, child restarts after kill -9,
# a relay that does not answer left out with a comment; bad, oversized
# and slow requests, the cap on scrapers; the process's sandbox.

import os
import pwd
import re
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

WORKERS = 2
CLIENT_SEC = 10		# STATS_CLIENT_SEC
CLIENTS_MAX = 4		# STATS_CLIENTS_MAX
BIG = 200 * 1024	# a message body, to see bytes relayed

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class PromError(Exception):
    pass


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z", text):
        raise PromError("bad value %r" % text)
    return float(text)


def parse_labels(text):
    """{a="x",b="y"} -> tuple of pairs; escapes \\\\ \\" \\n only."""
    labels = []
    i = 1
    if text == "{}":
        raise PromError("empty label set written as {}")
    while True:
        m = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="').match(text, i)
        if not m:
            raise PromError("bad label at %r" % text[i:])
        name = m.group(1)
        i = m.end()
        val = []
        while True:
            if i >= len(text):
                raise PromError("unterminated label value")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise PromError("bad escape \\%s" % nxt)
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise PromError("newline in a label value")
            else:
                val.append(c)
                i += 1
        if name in dict(labels):
            raise PromError("label %s twice" % name)
        labels.append((name, "".join(val)))
        if text[i] == ",":
            i += 1
            continue
        if text[i] == "}" and i == len(text) - 1:
            return tuple(labels)
        raise PromError("junk after a label: %r" % text[i:])


def family_of(name, types):
    """The family a sample belongs to: itself, or a histogram's base."""
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[:-len(suf)]) == \
                "histogram":
            return name[:-len(suf)]
    return name


def parse(text):
    """Strict Prometheus text 0.0.4: {(name, labels): value}, types,
    comment lines. Raises PromError on the first thing wrong."""
    if not text.endswith("\n"):
        raise PromError("the page does not end in a newline")
    types, helps, samples, comments = {}, {}, {}, []
    done = set()		# families whose samples are over
    current = None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d %r: " % (n, line[:120])
        if line == "":
            raise PromError(where + "empty line")
        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (\S+) (.*)\Z", line)
            if not m:
                comments.append(line)
                continue
            kind, name, rest = m.groups()
            if not NAME_RE.match(name):
                raise PromError(where + "bad metric name")
            if name in done or (current is not None and current != name
                                and name in types):
                raise PromError(where + "family seen before")
            if kind == "HELP":
                if name in helps:
                    raise PromError(where + "second HELP")
                if name in types:
                    raise PromError(where + "HELP after TYPE")
                helps[name] = rest
            else:
                if name in types:
                    raise PromError(where + "second TYPE")
                if rest not in TYPES:
                    raise PromError(where + "unknown type")
                types[name] = rest
            if current is not None and current != name:
                done.add(current)
            current = name
            continue
        m = re.match(r"([^{ ]+)(\{.*\})? (\S+)( -?[0-9]+)?\Z", line)
        if not m:
            raise PromError(where + "not a sample")
        name, labels, value = m.group(1), m.group(2), m.group(3)
        if not NAME_RE.match(name):
            raise PromError(where + "bad metric name")
        fam = family_of(name, types)
        if fam not in types:
            raise PromError(where + "sample before its TYPE")
        if fam != current or fam in done:
            raise PromError(where + "sample outside its family's block")
        key = (name, parse_labels(labels) if labels else ())
        for ln, _ in key[1]:
            if not LABEL_RE.match(ln) or ln.startswith("__"):
                raise PromError(where + "bad label name")
        if key in samples:
            raise PromError(where + "the same series twice")
        samples[key] = parse_value(value)
    check_families(types, helps, samples)
    return samples, types, comments


def check_families(types, helps, samples):
    for name, typ in types.items():
        if not name.startswith("mmpd_"):
            raise PromError("%s: not an mmpd_ name" % name)
        if name not in helps:
            raise PromError("%s: no HELP" % name)
        if typ == "counter":
            if not name.endswith("_total"):
                raise PromError("%s: counter without _total" % name)
            for (n, _), v in samples.items():
                if n == name and v < 0:
                    raise PromError("%s: negative counter" % name)
        if typ == "histogram":
            check_histogram(name, samples)


def check_histogram(name, samples):
    series = {}
    for (n, labels), v in samples.items():
        if n == name + "_bucket":
            le = dict(labels).get("le")
            if le is None:
                raise PromError("%s: bucket without le" % name)
            rest = tuple(p for p in labels if p[0] != "le")
            series.setdefault(rest, []).append((parse_value(le), v))
        elif n == name:
            raise PromError("%s: a bare sample of a histogram" % name)
    if not series:
        raise PromError("%s: no buckets" % name)
    for rest, buckets in series.items():
        buckets.sort()
        if buckets[-1][0] != float("inf"):
            raise PromError("%s%r: no +Inf bucket" % (name, rest))
        counts = [c for _, c in buckets]
        if counts != sorted(counts):
            raise PromError("%s%r: buckets not cumulative: %r" %
                            (name, rest, buckets))
        cnt = samples.get((name + "_count", rest))
        sm = samples.get((name + "_sum", rest))
        if cnt is None or sm is None:
            raise PromError("%s%r: no _count or _sum" % (name, rest))
        if cnt != counts[-1]:
            raise PromError("%s%r: +Inf %r != _count %r" %
                            (name, rest, counts[-1], cnt))
        if sm < 0:
            raise PromError("%s%r: negative _sum" % (name, rest))


def self_test(tap):
    """The parser itself must refuse what is wrong, or it proves nothing."""
    good = ("# HELP mmpd_x_total X.\n# TYPE mmpd_x_total counter\n"
            'mmpd_x_total{a="1"} 3\n'
            "# HELP mmpd_h H.\n# TYPE mmpd_h histogram\n"
            'mmpd_h_bucket{le="1"} 1\nmmpd_h_bucket{le="+Inf"} 2\n'
            "mmpd_h_sum 0.5\nmmpd_h_count 2\n")
    bad = {
        "no TYPE": "# HELP mmpd_y_total Y.\nmmpd_y_total 1\n",
        "TYPE after a sample": "mmpd_y_total 1\n# TYPE mmpd_y_total "
                               "counter\n",
        "bad name": "# HELP 9x X.\n# TYPE 9x counter\n9x 1\n",
        "bad value": good.replace(" 3\n", " three\n"),
        "bad escape": good.replace('a="1"', 'a="\\t"'),
        "unterminated": good.replace('a="1"', 'a="1'),
        "decreasing buckets": good.replace('le="+Inf"} 2', 'le="+Inf"} 0')
                              .replace("_count 2", "_count 0"),
        "+Inf != count": good.replace("_count 2", "_count 3"),
        "no +Inf": good.replace('mmpd_h_bucket{le="+Inf"} 2\n', ""),
        "duplicate": good + 'mmpd_h_bucket{le="1"} 1\n',
        "no final newline": good[:-1],
        "HELP twice": good.replace("# TYPE mmpd_x_total",
                                   "# HELP mmpd_x_total Z.\n"
                                   "# TYPE mmpd_x_total"),
        "counter without _total": good.replace("mmpd_x_total",
                                               "mmpd_x"),
        "family split": good + 'mmpd_x_total{a="2"} 1\n',
    }
    try:
        parse(good)
        tap.ok(True, "the test's parser takes a good page")
    except PromError as e:
        tap.ok(False, "the test's parser takes a good page", str(e))
    for what, text in sorted(bad.items()):
        try:
            parse(text)
            tap.ok(False, "the test's parser refuses: %s" % what)
        except PromError:
            tap.ok(True, "the test's parser refuses: %s" % what)


class Stats:
    def __init__(self, tap, port):
        self.tap = tap
        self.port = port
        self.url = "http://127.0.0.1:%d/metrics" % port

    def scrape(self, name="scrape"):
        """The parsed page; a failed test (and {}) if it does not parse."""
        try:
            with urllib.request.urlopen(self.url, timeout=10) as r:
                ctype = r.headers.get("Content-Type", "")
                body = r.read().decode("utf-8")
        except Exception as e:
            self.tap.ok(False, "%s: HTTP GET /metrics" % name, repr(e))
            return {}, [], ""
        if not ctype.startswith("text/plain; version=0.0.4"):
            self.tap.ok(False, "%s: Content-Type" % name, ctype)
        try:
            samples, _, comments = parse(body)
        except PromError as e:
            self.tap.ok(False, "%s: the page is Prometheus text" % name,
                        "%s\n%s" % (e, body[:3000]))
            return {}, [], body
        return samples, comments, body


def val(samples, name, **labels):
    """The value of the series name{labels}, labels in any order."""
    for (n, ls), v in samples.items():
        if n == name and dict(ls) == labels:
            return v
    return None


def login(m, user, pw):
    with m.imap() as c:
        t, _ = c.login(user, pw)
        c.cmd("LOGOUT")
    return t


def delta(before, after, name, **labels):
    """How far a series moved; one that was not there yet (a store's
    first login) counts from 0."""
    a = val(after, name, **labels)
    b = val(before, name, **labels)
    if b is None and before != {} and name.startswith("mmpd_store_"):
        b = 0
    return None if a is None or b is None else a - b


def raw_http(port, data, timeout=5, shut=False):
    """Send data, read to EOF: (bytes read, seconds until EOF)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    t0 = time.monotonic()
    got = b""
    try:
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except (socket.timeout, ConnectionResetError) as e:
        got += ("<%s>" % type(e).__name__).encode()
    finally:
        s.close()
    return got, time.monotonic() - t0


def section(tap, name, fn, *a):
    try:
        fn(tap, *a)
    except Exception as e:
        import traceback
        tap.ok(False, "%s ran to its end" % name, "%s: %s\n%s" % (
            type(e).__name__, e, traceback.format_exc()))


# ---------------------------------------------------------------- sections

def test_page(tap, env, m, st):
    samples, comments, body = st.scrape("first scrape")
    tap.ok(samples != {}, "the page parses as Prometheus text",
           body[:2000])
    for fam in ("mmpd_sessions", "mmpd_logins_total",
                "mmpd_store_logins_total", "mmpd_relayed_bytes_total",
                "mmpd_refused_total", "mmpd_store_login_seconds_count",
                "mmpd_ldap_lookup_seconds_count",
                "mmpd_cache_lookups_total", "mmpd_tls_handshakes_total",
                "mmpd_child_restarts_total", "mmpd_scrape_answered"):
        tap.ok(any(n == fam for n, _ in samples), "the page has %s" % fam)
    for rule in ("connlimit", "tcpaccess", "relaycap", "preauthcap",
                 "badguy"):
        tap.ok(val(samples, "mmpd_refused_total", rule=rule) is not None,
               "mmpd_refused_total{rule=%s} is there" % rule)
    tap.is_(val(samples, "mmpd_scrape_answered", kind="relay"), WORKERS,
            "both relays answered")
    tap.is_(val(samples, "mmpd_scrape_answered", kind="mmp-ldapd"), 1,
            "mmp-ldapd answered")
    tap.is_(val(samples, "mmpd_scrape_answered", kind="mmp-tlsd"), 1,
            "mmp-tlsd answered")
    tap.is_(comments, [], "no one left out")


def test_logins(tap, env, m, st):
    b, _, _ = st.scrape("before logins")
    tap.like(login(m, "alice", "alice-pw"), r"^t\d+ OK", "alice logs in")
    tap.like(login(m, "alice", "alice-pw"), r"^t\d+ OK", "alice again")
    # One session, two failures: each counted under its own reason.
    with m.imap() as c:
        t1, _ = c.login("nobody", "x")
        t2, _ = c.login("alice", "wrong")
    tap.like(t1, r"^t\d+ NO", "an unknown user")
    tap.like(t2, r"^t\d+ NO", "then a wrong password, same session")
    a, _, _ = st.scrape("after logins")
    L = "mmpd_logins_total"
    tap.is_(delta(b, a, L, protocol="imap", result="ok", reason="ok"), 2,
            "logins ok +2")
    tap.is_(delta(b, a, L, protocol="imap", result="failed",
                  reason="auth_failed"), 1, "auth_failed +1")
    tap.is_(delta(b, a, L, protocol="imap", result="failed",
                  reason="unknown_user"), 1, "unknown_user +1")
    tap.is_(delta(b, a, L, protocol="pop3", result="ok", reason="ok"), 0,
            "no POP3 login counted")
    S = "mmpd_store_logins_total"
    tap.is_(delta(b, a, S, store="store1.mmp.test", result="ok",
                  reason="ok"), 2, "store1: ok +2")
    tap.is_(delta(b, a, S, store="store1.mmp.test", result="failed",
                  reason="auth_failed"), 1, "store1: auth_failed +1 (the "
            "store refused the password)")
    tap.is_(delta(b, a, "mmpd_store_login_seconds_count"), 3,
            "store login latency: 3 answers observed")
    tap.ok((delta(b, a, "mmpd_ldap_lookup_seconds_count") or 0) >= 4,
           "LDAP lookup latency: 4 lookups observed")
    C = "mmpd_cache_lookups_total"
    hits = delta(b, a, C, cache="ldap", result="hit")
    miss = delta(b, a, C, cache="ldap", result="miss")
    tap.ok(hits is not None and hits >= 1,
           "LdapCache: the second login of alice is a hit", repr(hits))
    tap.ok(miss is not None and miss >= 1, "LdapCache: misses counted",
           repr(miss))
    # POP3 has PreAuth: the AuthCache answers the second login.
    r, _ = T.pop_route(m, "bob", "bob-pw")
    r2, _ = T.pop_route(m, "bob", "bob-pw")
    tap.ok(r.startswith(b"+OK") and r2.startswith(b"+OK"),
           "bob logs in twice over POP3", repr((r, r2)))
    c, _, _ = st.scrape("after POP3 logins")
    tap.is_(delta(a, c, L, protocol="pop3", result="ok", reason="ok"), 2,
            "POP3 logins ok +2")
    tap.is_(delta(a, c, C, cache="auth", result="miss"), 1,
            "AuthCache: the first PreAuth login is a miss")
    tap.is_(delta(a, c, C, cache="auth", result="hit"), 1,
            "AuthCache: the second is a hit")


def first_line(m, source):
    """Connect to IMAP from source; the first line mmpd sends."""
    s = socket.create_connection(("127.0.0.1", m.imap_ports[0]), 10,
                                 source_address=(source, 0))
    try:
        return s.makefile("rb").readline().decode("latin-1")
    finally:
        s.close()


def test_refusals(tap, env, m, st):
    """Each rule's refusals land in mmpd_refused_total: ConnLimits allows
    127.0.0.7 one connection, TCPAccess denies 127.0.0.8, and BadGuy
    delays the second failure of 127.0.0.9."""
    R = "mmpd_refused_total"
    b, _, _ = st.scrape("before refusals")
    held = m.imap(source="127.0.0.7")
    over = first_line(m, "127.0.0.7")
    denied = first_line(m, "127.0.0.8")
    held.close()
    tap.like(over, r"^\* BYE \[UNAVAILABLE\]", "127.0.0.7's second "
             "connection: over its ConnLimits realm")
    tap.like(denied, r"^\* BYE \[CONTACTADMIN\]", "127.0.0.8: denied by "
             "TCPAccess")
    with m.imap(source="127.0.0.9") as c:
        t1, _ = c.login("alice", "wrong")
        t2, _ = c.login("alice", "wrong")
    tap.like(t1, r"^t\d+ NO", "127.0.0.9: a wrong password")
    tap.like(t2, r"^t\d+ NO", "127.0.0.9: a wrong password again")
    a, _, _ = st.scrape("after refusals")
    tap.is_(delta(b, a, R, rule="connlimit"), 1, "refused by connlimit +1")
    tap.is_(delta(b, a, R, rule="tcpaccess"), 1, "refused by tcpaccess +1")
    tap.is_(delta(b, a, R, rule="badguy"), 1, "badguy: the second failure "
            "of 127.0.0.9 answered later, +1")


def test_sessions_bytes(tap, env, m, st):
    b, _, _ = st.scrape("before sessions")
    idle = m.pop3()
    c = m.imap()
    t, _ = c.login("alice", "alice-pw")
    s, _ = c.cmd("SELECT INBOX")
    a, _, _ = st.scrape("with sessions open")
    tap.is_(delta(b, a, "mmpd_sessions", protocol="pop3", state="preauth"),
            1, "a POP3 session before its login: preauth +1")
    tap.is_(delta(b, a, "mmpd_sessions", protocol="imap",
                  state="relaying"), 1, "a logged-in IMAP session: "
            "relaying +1")
    f, un = c.cmd("FETCH 2 BODY.PEEK[]")
    tap.like(f, r"^t\d+ OK", "FETCH of the big message")
    a2, _, _ = st.scrape("after FETCH")
    down = delta(a, a2, "mmpd_relayed_bytes_total", protocol="imap",
                 direction="down")
    up = delta(a, a2, "mmpd_relayed_bytes_total", protocol="imap",
               direction="up")
    tap.ok(down is not None and BIG <= down < BIG + 4096,
           "bytes relayed down counted while the session is open "
           "(%r for a %d-byte body)" % (down, BIG))
    tap.ok(up is not None and 0 < up < 100, "bytes relayed up: the FETCH "
           "command (%r)" % up)
    c.cmd("LOGOUT")
    c.close()
    idle.close()
    time.sleep(0.3)
    e, _, _ = st.scrape("after the sessions closed")
    for proto, state in (("pop3", "preauth"), ("imap", "relaying")):
        tap.is_(delta(b, e, "mmpd_sessions", protocol=proto, state=state),
                0, "%s %s back to where it was" % (proto, state))


def test_store_down(tap, env, m, st):
    b, _, _ = st.scrape("before store down")
    env.stores["store2"].stop()
    with m.imap() as c:
        t, _ = c.login("bob", "bob-pw")
    tap.like(t, r"^t\d+ NO", "bob's store is down: NO")
    a, _, _ = st.scrape("after store down")
    tap.is_(delta(b, a, "mmpd_logins_total", protocol="imap",
                  result="failed", reason="store_down"), 1,
            "store_down +1")
    tap.is_(delta(b, a, "mmpd_store_logins_total", store="store2.mmp.test",
                  result="failed", reason="store_down"), 1,
            "store2: store_down +1")


def test_tls(tap, env, m, st):
    b, _, _ = st.scrape("before TLS")
    c = m.imaps()
    typ, _ = c.login("alice", "alice-pw")
    c.logout()
    tap.is_(typ, "OK", "IMAPS login")
    # A session resumed: the greeting came, so did TLS 1.3's ticket.
    ctx = T.tls_context(env.pki)
    c1 = m.imap_tls(ctx=ctx)
    session = c1.sock.session
    c2 = m.imap_tls(ctx=ctx, session=session)
    resumed = c2.sock.session_reused
    c1.close()
    c2.close()
    tap.ok(resumed, "the second connection resumed the first's session")
    # Plain text on the TLS port: a failed handshake.
    got, _ = raw_http(m.imaps_ports[0], b"a LOGIN x y\r\n" * 4, shut=True)
    a, _, _ = st.scrape("after TLS")
    tap.is_(delta(b, a, "mmpd_tls_handshakes_total", result="full"), 2,
            "TLS full handshakes +2")
    tap.is_(delta(b, a, "mmpd_tls_handshakes_total", result="resumed"), 1,
            "TLS resumed handshakes +1")
    tap.is_(delta(b, a, "mmpd_tls_handshakes_total", result="failed"), 1,
            "TLS failed handshakes +1 (plain text on IMAPS)")


def test_silent_and_restart(tap, env, m, st):
    pids = m.child_pids("relay")
    T.stop(pids[0])
    try:
        t0 = time.monotonic()
        a, comments, _ = st.scrape("with a stopped relay")
        dt = time.monotonic() - t0
    finally:
        os.kill(pids[0], signal.SIGCONT)
    tap.ok(dt < 3, "a stopped relay is not waited for (%.2f s)" % dt)
    tap.is_(val(a, "mmpd_scrape_answered", kind="relay"), WORKERS - 1,
            "one relay answered")
    tap.ok(any(re.match(r"# relay \d+ did not answer in time", x)
               for x in comments), "a comment line names the silent relay",
           repr(comments))
    time.sleep(0.2)
    b, comments, _ = st.scrape("the relay back")
    tap.is_(val(b, "mmpd_scrape_answered", kind="relay"), WORKERS,
            "it answers again once continued")
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = m.child_pids("relay")
        if len(now) == WORKERS and pids[0] not in now:
            break
    time.sleep(0.5)
    c, _, _ = st.scrape("after kill -9 of a relay")
    tap.is_(delta(b, c, "mmpd_child_restarts_total", kind="relay"), 1,
            "child restarts{relay} +1")
    tap.is_(val(c, "mmpd_scrape_answered", kind="relay"), WORKERS,
            "the restarted relay answers too")


def test_http(tap, env, m, st):
    p = st.port
    for req, want, what in (
            (b"GET / HTTP/1.0\r\n\r\n", 404, "another path"),
            (b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405,
             "another method"),
            (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\0" * 40,
             400, "a TLS hello"),
            (b"GET /metrics HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
            (b"GET /metrics HTTP/3.0\r\n\r\n", 505, "HTTP/3.0"),
            (b"GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
             400, "a body")):
        got, _ = raw_http(p, req)
        tap.like(got.decode("latin-1"), r"^HTTP/1\.1 %d " % want,
                 "%s: %d" % (what, want))
    got, _ = raw_http(p, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    tap.ok(got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\n"),
           "HEAD: 200 without a body", repr(got[-60:]))
    got, _ = raw_http(p, b"GET /" + b"a" * 5000 + b" HTTP/1.0\r\n\r\n")
    tap.like(got.decode("latin-1"), r"^HTTP/1\.1 414 |<ConnectionReset",
             "an oversized request line: 414 (or reset)")
    got, _ = raw_http(p, b"GET /metrics HTTP/1.0\r\n" +
                      b"X-Big: " + b"b" * 5000 + b"\r\n\r\n")
    tap.like(got.decode("latin-1"), r"^HTTP/1\.1 431 |<ConnectionReset",
             "oversized headers: 431 (or reset)")
    got, dt = raw_http(p, b"GET /metr", timeout=CLIENT_SEC + 5)
    tap.ok(got == b"" and CLIENT_SEC - 1 <= dt < CLIENT_SEC + 3,
           "a slow client is closed after %d s (%.1f s)" % (CLIENT_SEC, dt),
           repr(got))
    # The cap: CLIENTS_MAX idle scrapers hold every place; one more waits.
    idle = [socket.create_connection(("127.0.0.1", p), 5)
            for _ in range(CLIENTS_MAX)]
    time.sleep(0.3)
    extra = socket.create_connection(("127.0.0.1", p), 5)
    extra.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    extra.settimeout(1.5)
    try:
        first = extra.recv(100)
    except socket.timeout:
        first = None
    tap.is_(first, None, "with %d scrapers served, one more waits" %
            CLIENTS_MAX)
    idle[0].close()
    extra.settimeout(5)
    try:
        first = extra.recv(100)
    except socket.timeout:
        first = b"<timeout>"
    tap.ok(first.startswith(b"HTTP/1.1 200 "), "served once a place is "
           "free", repr(first))
    extra.close()
    for s in idle[1:]:
        s.close()
    samples, _, _ = st.scrape("after the bad requests")
    tap.ok(samples != {}, "still serving after all that")


def test_sandbox(tap, env, m, st, stats_pid):
    tap.ok(stats_pid is not None, "the statistics process runs")
    if stats_pid is None:
        return
    tap.ok(T.proc_cmdline(stats_pid).split()[:3] == ["mmpd", "-P",
                                                      "stats"],
           "it is mmpd -P stats", T.proc_cmdline(stats_pid))
    T.check_sandboxed(tap, stats_pid, pwd.getpwnam("_mmpstat").pw_uid,
                      "stats")
    tap.ok(T.pid_alive(stats_pid) and stats_pid in m.children(),
           "the same statistics process after every test (no seccomp "
           "kill, no crash)")


def test_reload(tap, env, m, st, stats_pid):
    """A reload reaches the statistics process (its READY), keeps it and
    its port, and says that a new StatsListen waits for a restart."""
    m.conf_a["StatsListen"] = "127.0.0.1:%d" % T.free_port()
    m.write_config()
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"StatsListen changed; it takes effect when mmpd "
                      r"restarts \(statistics stay on 127\.0\.0\.1:%d "
                      r"until then\)" % st.port, off),
           "a changed StatsListen: the reload says it waits for a restart")
    tap.ok(m.wait_log(r"configuration 2 in effect in every process", off),
           "every process, the statistics process too, applied it")
    samples, _, _ = st.scrape("after the reload")
    tap.ok(samples != {} and m.child_pid("stats") == stats_pid,
           "the same process serves on the same port after the reload")


def main(tap):
    self_test(tap)
    env = T.Env("stats", tap).setup()
    env.get_pki()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice 1"))
    env.stores["store1"].seed("alice", T.message("alice big", size=BIG))
    env.user("bob", "bob-pw", "store2")
    env.stores["store2"].seed("bob", T.message("bob 1"))
    env.start_backends()
    port = T.free_port()
    # BadGuy for 127.0.0.9 only (test_refusals), not to slow the rest.
    m = env.mmpd(tls=True, aservice={"Workers": WORKERS, "TLSWorkers": 1,
                                     "StatsListen": "127.0.0.1:%d" % port},
                 imap={"ConnLimits": "0.0.0.0|0.0.0.0:100,"
                                     "127.0.0.7|255.255.255.255:1",
                       "TCPAccess": "-imap:127.0.0.8",
                       "BGPenalty": "1",
                       "BGExcluded": "127.0.0.1|255.255.255.255"},
                 pop={"PreAuth": "yes"}).start()
    T.wait_listen("127.0.0.1", port)
    st = Stats(tap, port)
    stats_pid = m.child_pid("stats")
    section(tap, "page", test_page, env, m, st)
    section(tap, "logins", test_logins, env, m, st)
    section(tap, "refusals", test_refusals, env, m, st)
    section(tap, "sessions", test_sessions_bytes, env, m, st)
    section(tap, "tls", test_tls, env, m, st)
    section(tap, "http", test_http, env, m, st)
    section(tap, "silent", test_silent_and_restart, env, m, st)
    section(tap, "store down", test_store_down, env, m, st)
    section(tap, "reload", test_reload, env, m, st, stats_pid)
    section(tap, "sandbox", test_sandbox, env, m, st, stats_pid)


T.run(main)
