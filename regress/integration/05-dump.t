#!/usr/bin/env python3
# `mmpd -nn` prints every key with its effective value and where it came
# from; `mmpd -n` only checks. Runs them on small configurations in a temp
# directory and compares the lines that matter, including a re-read of the
# dump itself, and once more as on a machine where mmpd was never installed
# (no _mmp* users, no /var/empty: regress/tools/fresh-machine).

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MMPD = os.environ.get("MMPD", os.path.join(ROOT, "mmpd", "mmpd"))
FRESH = os.path.join(ROOT, "regress", "tools", "fresh-machine")
KEYS_H = os.path.join(ROOT, "lib", "config_keys.h")
FILES = {"A": "AService.cfg", "I": "ImapProxyAService.cfg",
         "P": "PopProxyAService.cfg"}
KEY_LINE = re.compile(r'^(AService|ImapProxyAService|PopProxyAService)\.cfg: '
                      r'default:(\w+) "((?:[^"\\]|\\.)*)"   # '
                      r'(default \(unset\)|default|[\w.]+:\d+)'
                      r'(, not in effect in this version|'
                      r', ignored: mmpd uses PEM files)?$')

AService = """\
# instance
default:ServiceList "imapproxy@1143|1993 popproxy@127.0.0.1:1110"
default:Workers 3
default:workers 4
default:LogLevel 6
default:NoSuchKey whatever
"""

IMAP = """\
default:ldapurl ldap://127.0.0.1/o=test\r
default:BindPass "top \\"secret\\" pw"\r
default:SSLEnable on\r
default:SSLPorts 1993\r
default:AdminPolicy group\r
default:Timeout 900\r
default:ServerDownAlert "say \\"hi\\" \\\\ later"\r
default:SSLCertFile "{d}/a.pem  {d}/b.pem"\r
default:SSLKeyFile "{d}/a.key {d}/b.key"\r
default:SSLCacheDir /var/mmp\r
"""

PEM = "-----BEGIN %s-----\nAAAA\n-----END %s-----\n"


def imap(d):
    """IMAP with two certificates: files that exist, in d."""
    for name, what in (("a.pem", "CERTIFICATE"), ("b.pem", "CERTIFICATE"),
                       ("a.key", "PRIVATE KEY"), ("b.key", "PRIVATE KEY")):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(PEM % (what, what))
        os.chmod(path, 0o600)
    return IMAP.replace("{d}", d)

POP = """\
default:LdapUrl ldap://127.0.0.1/o=test
default:BacksidePort 1110
"""

n = 0
failed = 0


def ok(cond, name, diag=None):
    global n, failed
    n += 1
    print("%sok %d - %s" % ("" if cond else "not ", n, name), flush=True)
    if not cond:
        failed += 1
        for line in str(diag if diag is not None else "").splitlines():
            print("# " + line, flush=True)
    return cond


def write(d, files):
    for name, text in files.items():
        with open(os.path.join(d, name), "w", newline="") as f:
            f.write(text)


def text(data, what):
    """A child's output as text: a byte that is not UTF-8 fails a test
    (with the bytes shown), never the script."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        ok(False, "%s is valid UTF-8" % what, "%s in %r" % (e, data))
        return data.decode("utf-8", errors="replace")


def mmpd(d, *args, wrap=()):
    p = subprocess.run(list(wrap) + [MMPD] + list(args) + ["-f", d],
                       capture_output=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    what = " ".join(["mmpd"] + list(args))
    return (p.returncode, text(p.stdout, what + " stdout"),
            text(p.stderr, what + " stderr"))


def keys_by_section():
    """Key names per file letter, from lib/config_keys.h."""
    keys = {"A": [], "I": [], "P": []}
    with open(KEYS_H) as f:
        for line in f:
            m = re.match(r'^CK\(\w+,\s*"(\w+)",\s*([CF_AIPV|]+),', line)
            if m:
                for letter in "AIP":
                    if "CF_" + letter in m.group(2):
                        keys[letter].append(m.group(1))
    return keys


def parse_dump(out):
    """{(file, key): (value, origin, later)} and the listener lines."""
    keys, listeners, bad = {}, [], []
    for line in out.splitlines():
        m = KEY_LINE.match(line)
        if m:
            k = (m.group(1) + ".cfg", m.group(2))
            if k in keys:
                bad.append("twice: " + line)
            keys[k] = (m.group(3), m.group(4), m.group(5) is not None)
        elif line.startswith("listener "):
            listeners.append(line)
        else:
            bad.append(line)
    return keys, listeners, bad


def test_dump(d):
    write(d, {"AService.cfg": AService, "ImapProxyAService.cfg": imap(d),
              "PopProxyAService.cfg": POP})
    rc, out, err = mmpd(d, "-nn")
    ok(rc == 0, "-nn exits 0", err)
    keys, listeners, bad = parse_dump(out)
    ok(not bad, "every line is a key or a listener", "\n".join(bad))
    want = {
        ("AService.cfg", "ServiceList"):
            ("imapproxy@1143|1993 popproxy@127.0.0.1:1110",
             "AService.cfg:2", False),
        ("AService.cfg", "Workers"): ("4", "AService.cfg:4", False),
        ("AService.cfg", "LogLevel"): ("6", "AService.cfg:5", False),
        ("AService.cfg", "DrainTimeout"): ("30", "default", False),
        ("AService.cfg", "LogDir"): ("", "default (unset)", False),
        ("AService.cfg", "TlsUser"): ("_mmptls", "default", False),
        ("AService.cfg", "SSLSessionLifetime"): ("7200", "default", False),
        ("ImapProxyAService.cfg", "SSLCertFile"):
            ("%s/a.pem %s/b.pem" % (d, d), "ImapProxyAService.cfg:8",
             False),
        ("ImapProxyAService.cfg", "SSLKeyFile"):
            ("%s/a.key %s/b.key" % (d, d), "ImapProxyAService.cfg:9",
             False),
        ("ImapProxyAService.cfg", "SSLProtocols"):
            ("TLSv1.2 TLSv1.3", "default", False),
        ("ImapProxyAService.cfg", "SSLCipherSpecs"):
            ("all", "default", False),
        ("ImapProxyAService.cfg", "StoreStartTLS"): ("no", "default", False),
        ("ImapProxyAService.cfg", "SSLBacksidePort"): ("0", "default", False),
        ("ImapProxyAService.cfg", "RestrictPlainPasswords"):
            ("no", "default", False),
        ("ImapProxyAService.cfg", "LdapUrl"):
            ("ldap://127.0.0.1/o=test", "ImapProxyAService.cfg:1", False),
        ("ImapProxyAService.cfg", "BindPass"):
            ("********", "ImapProxyAService.cfg:2", False),
        ("ImapProxyAService.cfg", "SSLEnable"):
            ("yes", "ImapProxyAService.cfg:3", False),
        ("ImapProxyAService.cfg", "AdminPolicy"):
            ("group", "ImapProxyAService.cfg:5", True),
        ("ImapProxyAService.cfg", "CRAMs"): ("no", "default", False),
        ("ImapProxyAService.cfg", "PreAuth"): ("no", "default", False),
        ("ImapProxyAService.cfg", "Timeout"):
            ("900", "ImapProxyAService.cfg:6", False),
        ("ImapProxyAService.cfg", "ServerDownAlert"):
            ('say \\"hi\\" \\\\ later', "ImapProxyAService.cfg:7", False),
        ("ImapProxyAService.cfg", "BacksidePort"): ("143", "default", False),
        ("PopProxyAService.cfg", "BacksidePort"):
            ("1110", "PopProxyAService.cfg:2", False),
        ("PopProxyAService.cfg", "Timeout"): ("600", "default", False),
        ("PopProxyAService.cfg", "ServerDownAlert"):
            ("Your POP server appears to be temporarily out of service.",
             "default", False),
    }
    for k, v in want.items():
        ok(keys.get(k) == v, "%s %s = %r from %s%s" % (
            k[0], k[1], v[0], v[1], ", later" if v[2] else ""),
            "got: %r" % (keys.get(k),))
    ok(sorted(listeners) == sorted([
        "listener *:1143 imap plain", "listener *:1993 imap tls",
        "listener 127.0.0.1:1110 pop plain"]), "listeners",
        "\n".join(listeners))
    ok("secret" not in out and "secret" not in err,
       "BindPass appears nowhere", out + err)
    names = keys_by_section()
    for letter, fname in FILES.items():
        got = sorted(k for (f, k) in keys if f == fname)
        ok(got == sorted(names[letter]) and len(got) > 0,
           "%s: each of its %d keys exactly once" % (fname, len(got)),
           "missing: %s\nextra: %s" % (
               sorted(set(names[letter]) - set(got)),
               sorted(set(got) - set(names[letter]))))
    ok("AService.cfg:4: Workers already set at line 3, line 4 wins" in err,
       "warning for a key set twice", err)
    ok(re.search(r'AService\.cfg:6: unknown key "?NoSuchKey"? ignored',
                 err) is not None,
       "warning for an unknown key, with file:line", err)
    ok("ImapProxyAService.cfg: set but not in effect in this version: "
       "AdminPolicy" in err, "notice for keys not in effect", err)
    ok("not available in this version" not in err and "next step" not in err,
       "no warning for the TLS listener any more", err)
    ok("ImapProxyAService.cfg:10: mmpd uses PEM files; SSLCacheDir is "
       "ignored" in err, "warning for an NSS key", err)
    ok(re.search(r'ImapProxyAService\.cfg: default:SSLCacheDir "/var/mmp"   '
                 r'# ImapProxyAService\.cfg:10, ignored: mmpd uses PEM '
                 r'files$', out, re.M) is not None, "NSS key marked ignored "
       "in the dump", out)
    return out


def test_reread(d, out):
    """The dump's set values, written back as files, give the same dump."""
    files = {"AService.cfg": "", "ImapProxyAService.cfg": "",
             "PopProxyAService.cfg": ""}
    for line in out.splitlines():
        m = KEY_LINE.match(line)
        if m and m.group(4) not in ("default", "default (unset)"):
            text = line.split(": ", 1)[1].rsplit("   # ", 1)[0]
            if m.group(2) == "BindPass":
                text = 'default:BindPass "x"'
            files[m.group(1) + ".cfg"] += text + "\n"
    write(d, files)
    rc, out2, err = mmpd(d, "-nn")
    ok(rc == 0, "the dump's lines read back", err)
    first, _, _ = parse_dump(out)
    second, _, _ = parse_dump(out2)
    differ = sorted(k for k in set(first) | set(second)
                    if k[1] != "BindPass" and
                    first.get(k, ("",))[0] != second.get(k, ("",))[0])
    ok(set(first) == set(second) and not differ,
       "same values after reading the dump", "differ: %s" % differ)


def test_check(d):
    write(d, {"AService.cfg": AService, "ImapProxyAService.cfg": imap(d),
              "PopProxyAService.cfg": POP})
    rc, out, err = mmpd(d, "-n")
    ok(rc == 0 and out == "", "-n exits 0 and prints nothing on stdout",
       "rc %d\n%s" % (rc, out))
    ok("configuration OK" in err, "-n says the configuration is OK", err)


def test_error(d):
    write(d, {"ImapProxyAService.cfg": imap(d) + "default:Timeout abc\n"})
    for flag in ("-n", "-nn"):
        rc, out, err = mmpd(d, flag)
        ok(rc == 1 and out == "", "%s: invalid value exits 1" % flag,
           "rc %d\n%s" % (rc, out))
        ok(re.search(r'^mmpd: ImapProxyAService\.cfg:11: Timeout: .*abc',
                     err, re.M) is not None,
           "%s: error names file, line and key" % flag, err)


def test_unlisted(d):
    """A service ServiceList does not name: its file is not read."""
    write(d, {"AService.cfg": 'default:ServiceList "imapproxy@1143"\n',
              "PopProxyAService.cfg": "this is not a configuration\n",
              "ImapProxyAService.cfg": POP})
    rc, out, err = mmpd(d, "-nn")
    ok(rc == 0, "a file of an unlisted service is not read", err)
    ok("PopProxyAService.cfg:" not in out, "nor dumped", out)
    ok("PopProxyAService.cfg: default:" not in out and
       "ImapProxyAService.cfg: default:BacksidePort \"1110\"   # "
       "ImapProxyAService.cfg:2" in out, "listed service dumped", out)


def test_system(d):
    """-n: a bad HostsFile line, a missing user or ChrootDir only warn."""
    hosts = os.path.join(d, "hosts")
    with open(hosts, "w") as f:
        f.write("# static\n127.0.0.1 localhost\n300.1.1.1 bad\n"
                "10.0.0.1 good bad!name\n\n10.0.0.2\n::1 ip6-localhost"
                "  # ok\n" + "10.0.0.3 " + "x" * 1100 + "\n"
                "fe80::1%eth0 scoped\n")
    write(d, {"AService.cfg": 'default:ServiceList "imapproxy@1143"\n'
              "default:HostsFile %s\n"
              "default:RelayUser no-such-user-mmpd\n"
              "default:ChrootDir %s/no-such-dir\n" % (hosts, d),
              "ImapProxyAService.cfg": POP})
    rc, out, err = mmpd(d, "-n")
    ok(rc == 0, "-n: system and HostsFile problems are warnings", err)
    for line, why in ((3, "not an IPv4 or IPv6 address"),
                      (4, "invalid host name"),
                      (6, "address without a name"),
                      (8, "line too long"),
                      (9, "not an IPv4 or IPv6 address")):
        ok("%s:%d: %s" % (hosts, line, why) in err,
           "HostsFile line %d: %s" % (line, why), err)
    ok(not re.search(r"hosts:(1|2|5|7):", err), "good lines pass", err)
    ok(re.search(r"RelayUser no-such-user-mmpd \(AService\.cfg:3\) does "
                 r"not exist: run 'make install' or: useradd", err)
       is not None, "missing RelayUser named with file:line and fix", err)
    ok(re.search(r"ChrootDir \S+/no-such-dir \(AService\.cfg:4\) does "
                 r"not exist", err) is not None, "missing ChrootDir", err)
    os.unlink(hosts)
    rc, out, err = mmpd(d, "-n")
    ok(rc == 0 and "HostsFile %s: cannot open" % hosts in err,
       "unreadable HostsFile: a warning", err)


def test_fresh(d):
    """As on a new machine: users and ChrootDir missing, keys at default.
    Their origin reads "default" (once it printed uninitialized bytes)."""
    if os.geteuid() != 0:
        ok(True, "# SKIP a fresh machine's namespace needs root")
        return
    write(d, {"AService.cfg": 'default:ServiceList "imapproxy@1143"\n',
              "ImapProxyAService.cfg": POP})
    for flag in ("-n", "-nn"):
        rc, out, err = mmpd(d, flag, wrap=[FRESH])
        ok(rc == 0, "fresh machine: %s exits 0" % flag, err)
        for line in ("ChrootDir /var/empty (default) does not exist: run "
                     "'make install' or: mkdir -m 755 /var/empty",
                     "RelayUser _mmpd (default) does not exist: run 'make "
                     "install' or: useradd --system --home-dir /var/empty "
                     "--shell /usr/sbin/nologin _mmpd",
                     "LdapUser _mmpldap (default) does not exist"):
            ok(line in err, "fresh machine: %s says: %s" % (flag, line[:40]),
               err)
        bad = [ln for ln in err.splitlines()
               if re.search(r"[^\x20-\x7e]", ln)]
        ok(not bad, "fresh machine: %s warnings are printable ASCII" % flag,
           "\n".join(repr(x) for x in bad))
    keys, listeners, bad = parse_dump(out)
    ok(not bad and keys, "fresh machine: the dump is every key and "
       "listener", "\n".join(bad))


def main():
    if not os.access(MMPD, os.X_OK):
        print("Bail out! %s not built" % MMPD)
        return 1
    with tempfile.TemporaryDirectory(prefix="mmpd-dump.") as d:
        out = test_dump(d)
        test_check(d)
        test_reread(d, out)
    with tempfile.TemporaryDirectory(prefix="mmpd-dump.") as d:
        write(d, {"AService.cfg": AService, "PopProxyAService.cfg": POP})
        test_error(d)
    with tempfile.TemporaryDirectory(prefix="mmpd-dump.") as d:
        test_unlisted(d)
    with tempfile.TemporaryDirectory(prefix="mmpd-dump.") as d:
        test_system(d)
    with tempfile.TemporaryDirectory(prefix="mmpd-dump.") as d:
        test_fresh(d)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
