#!/usr/bin/env python3
# Certificate mapping end to end against a real slapd: mmp-ldapd receives
# a service's certmap.conf mappings with its configuration (played here as
# mmpd's parent would send them), and a relay's IMSG_CERTMAP is answered
# like a lookup, the entry's uid as the replay name. Subject values are
# matched literally ('*' and ')' escaped), an issuer's own mapping wins
# over default, and a malformed request loses the relay its channel.
# mmpd -n refuses a broken CertMapFile with file:line.

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import ldapdharness as H  # noqa: E402

STORE = "store1.mmp.test"
STORE_ADDR = T.STORE_ADDRS["store1"]
PEOPLE = "ou=people,%s" % T.SUFFIX
IMAP = H.DEF["SVC_IMAP"]
SRCH = re.compile(rb'SRCH base="([^"]*)" scope=\d+ deref=\d+ '
                  rb'filter="([^"]*)"')

MAPPINGS = [
    # The seed's example: the subject's ou searched as uid, anywhere.
    H.certmap_payload(IMAP, "default", "default", [], [("ou", "uid")]),
    # A CA whose certificates carry "sn": two entries share one.
    H.certmap_payload(IMAP, "twins", "CN=Twin CA, O=Test\\, Inc.", [],
                      [("sn", "sn")]),
    # Base from the subject's ou and o, filter from its cn.
    H.certmap_payload(IMAP, "siroe", "CN=Siroe CA, O=Siroe", [("ou", "ou"),
                      ("o", "o")], [("cn", "uid")]),
    # Nothing given: the subject's own DN is the base.
    H.certmap_payload(IMAP, "plain", "CN=Plain CA"),
]


def entry(uid, sn="x", cn=None, mailhost=STORE):
    return ("dn: uid=%s,%s\nobjectClass: inetOrgPerson\n"
            "objectClass: mmpTestMailUser\nuid: %s\ncn: %s\nsn: %s\n"
            "mailHost: %s\n" % (T.dn_escape(uid), PEOPLE, uid, cn or uid,
                                sn, mailhost))


class SlapdLog:
    def __init__(self, slapd):
        self.path = slapd.logpath
        self.offset = os.path.getsize(self.path)

    def searches(self, want=1, timeout=5):
        import time
        end = time.monotonic() + timeout
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
            data = data[:data.rfind(b"\n") + 1]
            found = SRCH.findall(data)
            if len(found) >= want or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.offset += len(data)
        return found


def expect(tap, r, reqid, status, what, **fields):
    good = r is not None and r.reqid == reqid and r.status == status
    for k, v in fields.items():
        good = good and getattr(r, k) == v
    tap.ok(good, "%s: %s%s" % (what, status, "".join(
        " %s=%s" % kv for kv in sorted(fields.items()))), "got %r" % (r,))


def test_found(tap, ld, relay, slog):
    since = len(ld.log)
    reqid, r = relay.certmap([("O", "siroe.com"), ("OU", "pilar"),
                              ("CN", "Pilar Lorca")],
                             issuer="CN=Unknown CA")
    expect(tap, r, reqid, "LOOKUP_OK", "default, ou=uid finds pilar",
           dn="uid=pilar,%s" % PEOPLE, user="pilar", mailhost=STORE,
           addrs=[STORE_ADDR])
    tap.is_(slog.searches(), [(T.SUFFIX.encode(), b"(uid=pilar)")],
            "slapd searched (uid=pilar) under the LdapUrl's base")
    tap.ok(ld.wait_log(r'certmap "CN=Pilar Lorca,OU=pilar,O=siroe.com" '
                       r'issuer "CN=Unknown CA" from relay 0: mapping '
                       r'default, base of LdapUrl, filter \(uid=pilar\)',
                       since), "the mapping and filter are logged",
           ld.log_text(since))
    tap.ok(ld.wait_log(r'certmap "CN=Pilar Lorca,OU=pilar,O=siroe.com" '
                       r'\(filter \(uid=pilar\)\) -> dn uid=pilar,ou=people,'
                       r'o=example uid pilar mailHost ', since),
           "the answer is logged", ld.log_text(since))


def test_issuers(tap, ld, relay, slog):
    reqid, r = relay.certmap([("O", "Test"), ("SN", "Twin"), ("OU", "pilar")],
                             issuer="CN=Twin CA,O=Test\\2C Inc.")
    expect(tap, r, reqid, "LOOKUP_AMBIGUOUS",
           "the twins CA's mapping (not default's ou=uid): sn=Twin twice")
    got = [(b, f.lower()) for b, f in slog.searches()]
    tap.is_(got, [(T.SUFFIX.encode(), b"(sn=twin)")],
            "slapd searched (sn=Twin)")
    reqid, r = relay.certmap([("O", "example"), ("OU", "people"),
                              ("CN", "pilar")], issuer="cn=Siroe CA,o=Siroe")
    expect(tap, r, reqid, "LOOKUP_OK", "siroe: base from ou and o, uid=cn",
           user="pilar")
    tap.is_(slog.searches(), [(b"ou=people,o=example", b"(uid=pilar)")],
            "slapd searched (uid=pilar) under ou=people,o=example")
    reqid, r = relay.certmap([("O", "example"), ("OU", "people"),
                              ("UID", "pilar")], issuer="CN=Plain CA")
    expect(tap, r, reqid, "LOOKUP_OK", "plain: the subject DN is the base",
           dn="uid=pilar,%s" % PEOPLE, user="pilar")
    tap.is_(slog.searches(), [(b"uid=pilar,ou=people,o=example",
                               b"(objectClass=*)")],
            "slapd searched the subject's entry")
    reqid, r = relay.certmap([("O", "example"), ("CN", "pilar")],
                             issuer="CN=Siroe CA,O=Siroe")
    expect(tap, r, reqid, "LOOKUP_OK", "siroe: no ou, the base is o alone",
           user="pilar")
    tap.is_(slog.searches(), [(b"o=example", b"(uid=pilar)")],
            "slapd searched (uid=pilar) under o=example")
    reqid, r = relay.certmap([("C", "US"), ("CN", "pilar")],
                             issuer="CN=Siroe CA,O=Siroe")
    expect(tap, r, reqid, "LOOKUP_NOUSER", "siroe: neither ou nor o",
           detail="mapping siroe: the subject has none of the DNComps")


def test_nouser(tap, ld, relay, slog):
    reqid, r = relay.certmap([("OU", "nobody"), ("CN", "x")])
    expect(tap, r, reqid, "LOOKUP_NOUSER", "ou=nobody maps to nobody",
           user="", dn="", addrs=[])
    slog.searches()
    reqid, r = relay.certmap([("CN", "x")])
    expect(tap, r, reqid, "LOOKUP_NOUSER", "no ou: nothing to search",
           detail="mapping default: the subject has none of the "
           "FilterComps")
    reqid, r = relay.certmap([("OU", "pilar")], svc=H.DEF["SVC_POP"])
    expect(tap, r, reqid, "LOOKUP_NOUSER", "POP has no CertMapFile",
           detail="no CertMapFile")
    reqid, r = relay.certmap([("SN", "Lonely")],
                             issuer="CN=Twin CA, O=Test\\, Inc.")
    expect(tap, r, reqid, "LOOKUP_NOUSER", "an entry without uid",
           detail="entry cn=lonely,%s has no uid" % PEOPLE)
    slog.searches()


def test_escaped(tap, ld, relay, slog):
    reqid, r = relay.certmap([("OU", "st*r"), ("CN", "y")])
    expect(tap, r, reqid, "LOOKUP_OK", "ou=st*r finds only st*r",
           user="st*r", dn="uid=st*r,%s" % PEOPLE)
    got = slog.searches()
    tap.ok(len(got) == 1 and got[0][1].lower() == b"(uid=st\\2ar)",
           "slapd was asked for the literal '*'", "got %r" % (got,))
    reqid, r = relay.certmap([("OU", "star)(uid=*"), ("CN", "y")])
    expect(tap, r, reqid, "LOOKUP_NOUSER", "ou=star)(uid=* matches nothing")
    got = slog.searches()
    tap.ok(len(got) == 1 and got[0][1].lower() ==
           b"(uid=star\\29\\28uid=\\2a)", "slapd was asked for one "
           "literal value", "got %r" % (got,))
    reqid, r = relay.certmap([("OU", "pilar,ou=x"), ("CN", "y")])
    expect(tap, r, reqid, "LOOKUP_NOUSER", "a ',' stays in its value")


def test_malformed(tap, ld, slog):
    keep = ld.relay(1)
    ok = H.Relay.certmap_payload(9, [("OU", "pilar")])
    cases = [("CERTMAP truncated", ok[:-1]),
             ("CERTMAP with a trailing byte", ok + b"x"),
             ("CERTMAP with LF in a value",
              H.Relay.certmap_payload(9, [("OU", "pil\nar")])),
             ("CERTMAP without fields", H.Relay.certmap_payload(9, [])),
             ("CERTMAP for service 0",
              H.Relay.certmap_payload(9, [("OU", "pilar")], svc=0))]
    for idx, (what, payload) in enumerate(cases, 2):
        relay = ld.relay(idx)
        since = len(ld.log)
        relay.send(H.IMSG["IMSG_CERTMAP"], payload)
        tap.ok(relay.closed(), "%s: mmp-ldapd closes relay %d's channel" %
               (what, idx))
        tap.ok(ld.wait_log(r"relay %d sent a malformed CERTMAP: channel "
                           r"closed" % idx, since),
               "%s: mmp-ldapd logs it" % what, ld.log_text(since))
        tap.ok(ld.alive(), "%s: mmp-ldapd is alive" % what)
    reqid, r = keep.certmap([("OU", "pilar")])
    expect(tap, r, reqid, "LOOKUP_OK", "relay 1 is still answered",
           user="pilar")


def test_check(tap, env):
    """mmpd -n: the parent reads the CertMapFile and says where it is
    wrong."""
    d = env.path("check")
    os.makedirs(d)
    cm = os.path.join(d, "certmap.conf")
    files = {"AService.cfg": 'default:ServiceList "ImapProxyAService@'
             '127.0.0.1:1143"\n',
             "ImapProxyAService.cfg": 'default:LdapUrl "ldap://127.0.0.1:'
             '389/o=example"\ndefault:CertMapFile %s\n' % cm}
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    for text, rc, want, what in [
            ("certmap default default\ndefault:DNComps\n"
             "default:FilterComps ou=uid\ndefault:VerifyCert on\n", 0,
             r"certmap\.conf:4: VerifyCert is not supported",
             "a good file passes, VerifyCert warned"),
            ("certmap default default\ndefault:Library /x.so\n", 1,
             r"certmap\.conf:2: Library: certmap plug-ins are not "
             r"supported", "Library is refused with its line"),
            ("certmap other cn=x\n", 1, r"certmap\.conf:1: the first "
             r"mapping must be", "default must come first")]:
        with open(cm, "w") as f:
            f.write(text)
        r = subprocess.run([T.MMPD_BIN, "-n", "-f", d],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        out = r.stdout.decode("latin-1")
        tap.ok(r.returncode == rc and re.search(want, out),
               "mmpd -n: %s (exit %d)" % (what, rc), out)
    os.unlink(cm)
    r = subprocess.run([T.MMPD_BIN, "-n", "-f", d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode("latin-1")
    tap.ok(r.returncode == 1 and re.search(
        r"ImapProxyAService\.cfg:2: CertMapFile .*certmap\.conf: No such "
        r"file", out), "mmpd -n: a missing CertMapFile names the key's "
        "line", out)


def main(tap):
    T.need_root()
    if not os.access(H.LDAPD_BIN, os.X_OK):
        raise RuntimeError("%s is not built (make all)" % H.LDAPD_BIN)
    T.ensure_users()
    env = T.Env("certmap", tap)
    env.slapd = T.Slapd(env)
    for e in (entry("pilar", cn="Pilar Lorca"), entry("twin1", sn="Twin"),
              entry("twin2", sn="Twin"), entry("st*r"), entry("star"),
              entry("stxr")):
        env.slapd.entries.append(e)
    # An entry a certificate finds, without a uid to replay.
    env.slapd.entries.append(
        "dn: cn=lonely,%s\nobjectClass: organizationalPerson\n"
        "objectClass: mmpTestMailUser\ncn: lonely\nsn: Lonely\n"
        "mailHost: %s\n" % (PEOPLE, STORE))
    env.slapd.start()
    slog = SlapdLog(env.slapd)
    ld = H.Ldapd(env, tap).start(H.ldapd_conf(env.slapd),
                                 hosts=[(STORE, STORE_ADDR)],
                                 certmaps=MAPPINGS)
    relay = ld.relay(0)
    test_found(tap, ld, relay, slog)
    test_issuers(tap, ld, relay, slog)
    test_nouser(tap, ld, relay, slog)
    test_escaped(tap, ld, relay, slog)
    test_malformed(tap, ld, slog)
    test_check(tap, env)
    tap.ok(not re.search(r"fatal|dropped", ld.log_text(), re.I),
           "mmp-ldapd logged nothing fatal", ld.log_text())
    status = ld.stop()
    tap.ok(status is not None and os.WIFEXITED(status) and
           os.WEXITSTATUS(status) == 0, "mmp-ldapd exits 0",
           "%s; stderr: %s" % (ld.how(), ld.stderr()))


if __name__ == "__main__":
    T.run(main)
