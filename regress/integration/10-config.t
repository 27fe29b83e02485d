#!/usr/bin/env python3
# mmpd -n: the product's sample files load with PEM files in place of its
# NSS databases (and as they are are refused, saying so), an unknown key is a
# warning with file:line, a bad value refuses the configuration with
# file:line; mmpd -nn never prints a secret.

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

SAMPLE_SL = "ImapProxyAService@143|993 PopProxyAService@110"


def confdir(env, name, aservice, imap=None, pop=None):
    d = env.path(name)
    os.makedirs(d)
    for fname, text in (("AService.cfg", aservice),
                        ("ImapProxyAService.cfg", imap),
                        ("PopProxyAService.cfg", pop)):
        if text is not None:
            with open(os.path.join(d, fname), "w") as f:
                f.write(text)
    return d


def check(d, *extra):
    r = subprocess.run([T.MMPD_BIN] + list(extra) + ["-n", "-f", d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return r.returncode, r.stdout.decode("latin-1")


def minimal(port_imap=1143, port_pop=1110, extra_imap=""):
    a = 'default:ServiceList "ImapProxyAService@127.0.0.1:%d ' \
        'PopProxyAService@127.0.0.1:%d"\n' % (port_imap, port_pop)
    i = ("# IMAP\n"
         "default:LdapUrl \"ldap://127.0.0.1:389/o=example\"\n"
         "default:BindDN \"cn=Directory Manager\"\n"
         "default:BindPass secret\n"
         "default:BacksidePort 1143\n" + extra_imap)
    p = ("default:LdapUrl \"ldap://127.0.0.1:389/o=example\"\n"
         "default:BacksidePort 1110\n")
    return a, i, p


PEM = "-----BEGIN %s-----\nAAAA\n-----END %s-----\n"


def pem_files(d):
    """A certificate, a key and a CA bundle, PEM, in d."""
    paths = {}
    for name, what in (("cert.pem", "CERTIFICATE"), ("key.pem",
                       "PRIVATE KEY"), ("ca.pem", "CERTIFICATE")):
        paths[name] = os.path.join(d, name)
        with open(paths[name], "w") as f:
            f.write(PEM % (what, what))
        os.chmod(paths[name], 0o600)
    return paths


# The product guide's vdmap example, for the samples' VirtualDomainFile.
VDMAP = "vdmap siroe 192.168.1.10\nsiroe:DefaultDomain siroe.com\n"


def with_vdmap(sample, d):
    """The sample's text with its VirtualDomainFile in d (file paths
    aside, the samples load as they are); the lines keep their numbers."""
    path = os.path.join(d, "vdmap.cfg")
    with open(path, "w") as f:
        f.write(VDMAP)
    return re.sub(r"(?m)^default:VirtualDomainFile\s+\S+$",
                  "default:VirtualDomainFile %s" % path, sample)


def with_pem(sample, paths):
    """The sample's text with PEM files where it names NSS databases; the
    lines keep their numbers."""
    out = []
    for line in sample.splitlines(True):
        for key, name in (("SSLCertFile", "cert.pem"),
                          ("SSLKeyFile", "key.pem")):
            if re.match(r"default:%s\b" % key, line):
                line = "default:%s %s\n" % (key, paths[name])
        out.append(line)
    # The sample speaks TLS to its stores: a CA bundle of our own.
    out.append("default:SSLStoreCAFile %s\n" % paths["ca.pem"])
    return "".join(out)


def test_samples(tap, env):
    imap = os.path.join(T.SHARED_REF, "ImapProxyAService.cfg.sample")
    pop = os.path.join(T.SHARED_REF, "PopProxyAService.cfg.sample")
    names = ["product sample files as they are: refused, NSS database",
             "product sample files: mmpd -n exits 0",
             "product sample files: NSS keys warned as ignored",
             "product sample files: mmpd -nn shows BindPass as ********",
             "product sample files: mmpd -nn never prints a secret"]
    if not (os.path.exists(imap) and os.path.exists(pop)):
        for n in names:
            tap.skip(n, "%s not present" % T.SHARED_REF)
        return
    d = confdir(env, "sample-as-is", 'default:ServiceList "%s"\n' %
                SAMPLE_SL)
    shutil.copy(imap, os.path.join(d, "ImapProxyAService.cfg"))
    shutil.copy(pop, os.path.join(d, "PopProxyAService.cfg"))
    rc, out = check(d)
    tap.ok(rc == 1 and re.search(
        r"ImapProxyAService\.cfg:13: SSLCertFile: \"\S+/cert7\.db\" is an "
        r"NSS database; mmpd needs PEM files: export them with pk12util",
        out), names[0], out)
    d = confdir(env, "sample", 'default:ServiceList "%s"\n' % SAMPLE_SL)
    with open(imap, encoding="utf-8") as f:
        text = with_vdmap(with_pem(f.read(), pem_files(d)), d)
    with open(os.path.join(d, "ImapProxyAService.cfg"), "w",
              encoding="utf-8") as f:
        f.write(text)
    with open(pop, encoding="utf-8") as f:
        text = with_vdmap(f.read(), d)
    with open(os.path.join(d, "PopProxyAService.cfg"), "w",
              encoding="utf-8") as f:
        f.write(text)
    rc, out = check(d)
    tap.is_(rc, 0, names[1]) or tap.diag(out)
    tap.ok("ImapProxyAService.cfg:12: mmpd uses PEM files; SSLSecmodFile "
           "is ignored" in out and "ImapProxyAService.cfg:17: mmpd uses PEM "
           "files; SSLCertNicknames is ignored" in out, names[2], out)
    rc, out = check(d, "-n")
    tap.like(out, r'BindPass\s+"\*{8}"', names[3])
    tap.ok(rc == 0 and not re.search(r'"(secret|password)"', out), names[4],
           "rc %d, output:\n%s" % (rc, out[-2000:]))


def test_unknown_key(tap, env):
    a, i, p = minimal()
    i += "default:NoSuchKeyAtAll 17\n"
    line = i.count("\n")
    d = confdir(env, "unknown", a, i, p)
    rc, out = check(d)
    tap.is_(rc, 0, "unknown key: mmpd -n exits 0")
    tap.like(out, r"ImapProxyAService\.cfg:%d:.*NoSuchKeyAtAll" % line,
             "unknown key: warning names file:line and the key")


def test_bad_value(tap, env):
    a, i, p = minimal(extra_imap="default:Timeout abc\n")
    line = i.count("\n")
    d = confdir(env, "badvalue", a, i, p)
    rc, out = check(d)
    tap.is_(rc, 1, "Timeout abc: mmpd -n exits 1")
    tap.like(out, r"ImapProxyAService\.cfg:%d:.*Timeout" % line,
             "Timeout abc: message names file:line and the key")

    a, i, p = minimal(extra_imap="default:BacksidePort 70000\n")
    line = i.count("\n")
    d = confdir(env, "badport", a, i, p)
    rc, out = check(d)
    tap.ok(rc == 1 and re.search(r"ImapProxyAService\.cfg:%d:" % line, out),
           "BacksidePort 70000: refused with file:line", out)

    d = confdir(env, "smtp", 'default:ServiceList "SmtpProxyAService@25"\n')
    rc, out = check(d)
    tap.ok(rc == 1 and re.search(r"AService\.cfg:1:", out),
           "SmtpProxyAService in ServiceList: refused with file:line", out)


def test_valid(tap, env):
    a, i, p = minimal()
    d = confdir(env, "valid", a, i, p)
    rc, out = check(d)
    tap.is_(rc, 0, "minimal valid configuration: mmpd -n exits 0") or \
        tap.diag(out)
    d = confdir(env, "nopop", a, i, None)
    rc, out = check(d)
    tap.ok(rc == 1 and "PopProxyAService.cfg" in out,
           "listed service without its file: refused, names the file", out)


def main(tap):
    T.need_binaries()
    env = T.Env("config", tap)
    test_samples(tap, env)
    test_unknown_key(tap, env)
    test_bad_value(tap, env)
    test_valid(tap, env)


T.run(main)
