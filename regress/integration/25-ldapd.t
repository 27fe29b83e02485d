#!/usr/bin/env python3
# mmp-ldapd checks what a relay asks for by itself, because a relay parses
# hostile client input and may be compromised: names with CR, LF or NUL,
# empty or too long, and a service that does not exist are refused without
# a search, and a malformed request closes only that relay's channel. The
# relay refuses such names first, so a real relay cannot show this; the
# test plays mmpd's parent and a relay to a real mmp-ldapd and slapd.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import ldapdharness as H  # noqa: E402

STORE = "store1.mmp.test"
STORE_ADDR = T.STORE_ADDRS["store1"]
USER_MAX = H.DEF["MMP_USER_BYTES"]
SRCH = re.compile(rb'SRCH base="[^"]*" scope=\d+ deref=\d+ filter="([^"]*)"')

# (what, name sent, service, detail of the TEMPFAIL)
NAME_BAD = "user name contains CR, LF or NUL"
REFUSED = [
    ("CR LF", b"dave\r\nx", None, NAME_BAD),
    ("LF", b"dave\nx", None, NAME_BAD),
    ("CR", b"dave\rx", None, NAME_BAD),
    ("NUL", b"dave\x00x", None, NAME_BAD),
    ("NUL at the end", b"dave\x00", None, NAME_BAD),
    ("CR LF, POP", b"dave\r\nx", H.DEF["SVC_POP"], NAME_BAD),
    ("empty name", b"", None, "empty user name"),
    ("%d bytes" % (USER_MAX + 1), b"d" * (USER_MAX + 1), None,
     "user name too long"),
    ("service 0 (AService)", b"dave", H.DEF["CONF_GLOBAL"],
     "invalid service %d" % H.DEF["CONF_GLOBAL"]),
    ("service %d" % H.DEF["CONF_NSECT"], b"dave", H.DEF["CONF_NSECT"],
     "invalid service %d" % H.DEF["CONF_NSECT"]),
    ("service 255", b"dave", 255, "invalid service 255"),
]


def log_name(name):
    """A name as mmp-ldapd's log shows it (lib/escape.c escape_log)."""
    out = ""
    for c in name:
        out += {0x5c: "\\\\", 0x0d: "\\r", 0x0a: "\\n", 0x09: "\\t"}.get(
            c, chr(c) if 0x20 <= c < 0x7f else "\\x%02x" % c)
    return out


class SlapdLog:
    """slapd -d stats output, read as bytes: the filters it was asked to
    search since the last look."""

    def __init__(self, slapd):
        self.path = slapd.logpath
        self.offset = os.path.getsize(self.path)

    def _new_lines(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        return data[:data.rfind(b"\n") + 1]

    def filters(self, want, timeout=5):
        """Filters searched since the last call, once there are at least
        want of them or timeout passed (slapd logs a search as it takes
        it, before its answer, but the log is a file: poll)."""
        end = time.monotonic() + timeout
        while True:
            data = self._new_lines()
            found = SRCH.findall(data)
            if len(found) >= want or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.offset += len(data)
        return found


def check_alive(tap, ld, what):
    if not tap.ok(ld.alive(), "%s: mmp-ldapd is alive" % what):
        raise RuntimeError("mmp-ldapd %s" % ld.how())


def good_lookup(tap, relay, what):
    reqid, r = relay.ask("dave")
    tap.ok(r is not None and r.reqid == reqid and
           r.status == "LOOKUP_OK" and r.addrs == [STORE_ADDR] and
           r.mailhost == STORE,
           "%s: dave answers LOOKUP_OK with %s (%s)" %
           (what, STORE, STORE_ADDR), "got %r" % (r,))
    return r


def test_control(tap, ld, relay, slog):
    r = good_lookup(tap, relay, "control")
    tap.ok(r is not None and r.dn == "uid=dave,ou=people,%s" % T.SUFFIX,
           "control: the answer carries dave's DN", "got %r" % (r,))
    got = slog.filters(1)
    tap.is_(got, [b"(uid=dave)"], "control: slapd searched (uid=dave)")
    m = ld.wait_log(r'lookup "dave" \(filter \(uid=dave\)\) -> dn ')
    tap.ok(m, "control: mmp-ldapd logs the lookup", ld.log_text()[-2000:])
    reqid, r = relay.ask("d" * USER_MAX)
    tap.ok(r is not None and r.reqid == reqid and
           r.status == "LOOKUP_NOUSER",
           "control: a %d-byte name is searched (LOOKUP_NOUSER)" % USER_MAX,
           "got %r" % (r,))
    tap.is_(slog.filters(1), [b"(uid=%s)" % (b"d" * USER_MAX)],
            "control: slapd searched the %d-byte name" % USER_MAX)


def test_refused(tap, ld, relay, slog, what, name, svc, detail):
    since = len(ld.log)
    reqid, r = relay.ask(name, svc)
    tap.ok(r is not None and r.reqid == reqid and
           r.status == "LOOKUP_TEMPFAIL" and r.detail == detail and
           r.dn == "" and r.mailhost == "" and r.addrs == [],
           "%s: LOOKUP_TEMPFAIL, \"%s\"" % (what, detail), "got %r" % (r,))
    want = r'lookup "%s" from relay %d: %s' % (
        re.escape(log_name(name)), relay.index, re.escape(detail))
    tap.ok(ld.wait_log(want, since), "%s: mmp-ldapd logs the refusal" %
           what, "want /%s/ in:\n%s" % (want, ld.log_text(since)))
    check_alive(tap, ld, what)
    # A good lookup after it: still answering, and its search is the only
    # one slapd saw since the last mark.
    good_lookup(tap, relay, "after %s" % what)
    tap.is_(slog.filters(1), [b"(uid=dave)"],
            "%s: slapd saw no search for it" % what)


def test_malformed(tap, ld, slog):
    """A relay that breaks the protocol loses its channel, only that one."""
    keep = ld.relay(1)
    good_lookup(tap, keep, "relay 1")
    ok = H.Relay.lookup_payload(99, "dave")
    # The one rule of lib/chan.c, end to end: a bad payload, a type a
    # relay does not send, a descriptor where none is due.
    rd, wr = os.pipe()
    cases = [("LOOKUP truncated", "IMSG_LOOKUP", ok[:-2], None,
              "sent a malformed LOOKUP", 2),
             ("LOOKUP with a trailing byte", "IMSG_LOOKUP", ok + b"x", None,
              "sent a malformed LOOKUP", 3),
             ("CONF_START from a relay", "IMSG_CONF_START",
              b"\x01\x00\x00\x00", None, "sent unexpected CONF_START", 5),
             ("LOOKUP with a descriptor", "IMSG_LOOKUP", ok, wr,
              "sent a descriptor with LOOKUP", 6)]
    for what, type_, payload, fd, why, idx in cases:
        relay = ld.relay(idx)
        good_lookup(tap, relay, "relay %d" % idx)
        since = len(ld.log)
        relay.send(H.IMSG[type_], payload, fd=fd)
        tap.ok(relay.closed(), "%s: mmp-ldapd closes relay %d's "
               "channel" % (what, idx))
        tap.ok(ld.wait_log(r"relay %d %s: channel closed" % (
            idx, re.escape(why)), since),
               "%s: mmp-ldapd logs it" % what, ld.log_text(since))
        check_alive(tap, ld, what)
        good_lookup(tap, keep, "relay 1 after relay %d's %s" % (idx, what))
    os.close(rd)
    os.close(wr)
    fresh = ld.relay(4)
    good_lookup(tap, fresh, "a new channel after the malformed LOOKUPs")
    good = 2 + 2 * len(cases)
    tap.is_(slog.filters(good), [b"(uid=dave)"] * good,
            "slapd saw only the good lookups' searches")


def main(tap):
    T.need_root()
    if not os.access(H.LDAPD_BIN, os.X_OK):
        raise RuntimeError("%s is not built (make all)" % H.LDAPD_BIN)
    T.ensure_users()
    env = T.Env("ldapd", tap)
    env.slapd = T.Slapd(env)
    env.user("dave", "dave-pw", mailhost=STORE)
    env.slapd.start()
    slog = SlapdLog(env.slapd)

    # Each request must reach slapd: no LdapCache (38-cache.t tests it).
    ld = H.Ldapd(env, tap).start(H.ldapd_conf(env.slapd, LdapCacheSize=0),
                                 hosts=[(STORE, STORE_ADDR)])
    relay = ld.relay(0)
    test_control(tap, ld, relay, slog)
    for case in REFUSED:
        test_refused(tap, ld, relay, slog, *case)
    test_malformed(tap, ld, slog)

    tap.ok(not re.search(r"fatal|dropped", ld.log_text(), re.I),
           "mmp-ldapd logged nothing fatal and dropped no lines",
           ld.log_text())
    status = ld.stop()
    tap.ok(status is not None and os.WIFEXITED(status) and
           os.WEXITSTATUS(status) == 0,
           "mmp-ldapd exits 0 when its parent channel closes",
           "%s; stderr: %s" % (ld.how(), ld.stderr()))


if __name__ == "__main__":
    T.run(main)
