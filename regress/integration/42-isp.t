#!/usr/bin/env python3
# A directory built like an ISP's behind the product's own sample
# ImapProxyAService.cfg (file paths, hosts, ports and the NSS databases
# aside, line for line): a domain tree with two hosted domains whose user
# ids overlap, two slapd replicas in LdapUrl, a vdmap giving the second
# address its own domain, TLS to the stores on SSLBacksidePort as the
# sample has it. "joe" reaches Siroe.com's joe (DefaultDomain) on the
# first address, varrius.com's joe (vdmap) on the second; a typed domain
# wins; the first replica killed, a user not seen before still logs in.
# Then PreAuth yes, as an ISP turns it on: every login leaves exactly one
# audit line, a wrong password one failure line and nothing at the store.

import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADDR_S, ADDR_V = "127.0.0.2", "127.0.0.3"
SAMPLE = os.path.join(T.SHARED_REF, "ImapProxyAService.cfg.sample")
USERS = (
    # uid, domain, password, store, name on the store
    ("joe", "siroe.com", "joe-siroe-pw", "store1", "joe"),
    ("joe", "varrius.com", "joe-varrius-pw", "store2", "joe@varrius.com"),
    ("dana", "siroe.com", "dana-pw", "store1", "dana"),
    ("ken", "varrius.com", "ken-pw", "store2", "ken@varrius.com"),
)


def isp_base(dom):
    return "o=%s,%s" % (dom, T.ISP_SUFFIX)


def setup(tap):
    env = T.Env("isp", tap).setup(store_tls=True)
    sl = env.slapd
    for dom in ("siroe.com", "varrius.com"):
        sl.add_domain(dom, isp_base(dom))
    for uid, dom, pw, store, name in USERS:
        sl.add_user(uid, pw, "%s.mmp.test" % store, base=isp_base(dom))
        env.stores[store].add_user(name, pw)
        env.stores[store].seed(name, T.message("%s at %s" % (uid, dom)))
    replica = T.Slapd(env, name="ldap2")
    for attr in ("entries", "domain_entries", "isp_entries"):
        setattr(replica, attr, list(getattr(sl, attr)))
    replica.made = set(sl.made)
    env.start_backends()
    replica.start()
    env.replica = replica
    return env


class SampleMmpd(T.Mmpd):
    """mmpd whose ImapProxyAService.cfg is the product's sample, its
    lines changed only where a path, host, port or NSS database is named
    (and PreAuth/AuditLog when the test turns them on)."""

    preauth = False

    def write_config(self):
        lines = super().write_config()
        env, pki = self.env, self.env.get_pki()
        cert, key = pki.server()
        urls = "%s/%s %s/%s" % (env.slapd.url, T.SUFFIX, env.replica.url,
                                T.SUFFIX)
        subst = {
            "LdapUrl": urls,
            "LogDir": self.env.path("log"),
            "BindPass": T.DM_PW,
            "BacksidePort": str(env.store_imap_port),
            "SSLPorts": str(self.imaps_ports[0]),
            "SSLCertFile": cert,
            "SSLKeyFile": key,
            "SSLSecmodFile": env.path("secmod.db"),
            "SSLCacheDir": env.path("log"),
            "SSLBacksidePort": str(env.store_imaps_port),
            "VirtualDomainFile": env.path("vdmap.cfg"),
            "BGExcluded": env.path("bgexcl.cfg"),
            "PreAuth": "yes" if self.preauth else "no",
        }
        out = []
        with open(SAMPLE, encoding="utf-8") as f:
            for line in f:
                m = re.match(r"default:(\w+)\s", line)
                if m and m.group(1) in subst:
                    line = "default:%s %s\n" % (m.group(1),
                                                T.conf_quote(subst[m.group(
                                                    1)]))
                out.append(line)
        # what mmpd adds: the stores' CA, where they may be, the audit file
        out.append("default:SSLStoreCAFile %s\n" % pki.ca())
        out.append("default:StoreNetworks 127.0.0.0/8\n")
        out.append("default:AuditLog %s\n" % env.path("audit.log"))
        os.makedirs(env.path("log"), exist_ok=True)
        with open(env.path("vdmap.cfg"), "w") as f:
            f.write("vdmap varrius %s\nvarrius:DefaultDomain varrius.com\n"
                    % ADDR_V)
        with open(env.path("bgexcl.cfg"), "w") as f:
            f.write("# webmail front ends\n192.0.2.0|255.255.255.0\n")
        with open(os.path.join(self.confdir, "ImapProxyAService.cfg"),
                  "w") as f:
            f.write("".join(out))
        return lines


def make_mmpd(env):
    port = T.free_port((ADDR_S, ADDR_V))
    tport = T.free_port((ADDR_S, ADDR_V))
    sl = "ImapProxyAService@%s" % "|".join(
        "%s:%d" % (a, p) for a in (ADDR_S, ADDR_V) for p in (port, tport))
    m = SampleMmpd(env, "mmpd", imap_ports=[port], pop_ports=[],
                   host=ADDR_S, aservice={"ServiceList": sl})
    m.imaps_ports = [tport]
    env.mmpds.append(m)
    return m


def route(tap, m, addr, user, pw, subject, what):
    t, subj, d = T.imap_route(T.At(m, addr), user, pw)
    tap.ok(b" OK" in t and subject in subj, what, d)


def test_routes(tap, env, m):
    route(tap, m, ADDR_S, "joe", "joe-siroe-pw", "joe at siroe.com",
          "joe on the first address: Siroe.com's joe (DefaultDomain)")
    route(tap, m, ADDR_V, "joe", "joe-varrius-pw", "joe at varrius.com",
          "joe on the second address: varrius.com's joe (vdmap)")
    route(tap, m, ADDR_S, "joe@varrius.com", "joe-varrius-pw",
          "joe at varrius.com", "a typed domain wins over DefaultDomain")
    t, _, d = T.imap_route(T.At(m, ADDR_S), "joe", "joe-varrius-pw")
    tap.ok(b" OK" not in t, "varrius.com's password is not Siroe.com's "
           "joe's", d)
    env.stores["store1"].wait_log(r"Login: user=<joe>")
    env.stores["store2"].wait_log(r"Login: user=<joe@varrius\.com>")
    s1 = re.findall(r"Login: user=<([^>]*)>", env.stores["store1"].log())
    s2 = re.findall(r"Login: user=<([^>]*)>", env.stores["store2"].log())
    tap.ok("joe" in s1 and "joe@varrius.com" in s2 and
           "joe@varrius.com" not in s1,
           "each store sees its own joe (DefaultDomain not replayed, the "
           "vdmap's domain replayed)", repr((s1, s2)))
    tap.ok(re.search(r"TLS", env.stores["store1"].log()) is not None,
           "the stores are reached over TLS (SSLBacksidePort)")


def test_replica(tap, env, m):
    env.slapd.stop(signal.SIGKILL)
    route(tap, m, ADDR_S, "dana", "dana-pw", "dana at siroe.com",
          "the first replica dead: a user not seen before logs in")
    tap.ok(re.search(r'filter="\(uid=dana\)"', env.replica.log()),
           "the second replica answered the search")
    env.slapd.start()


def audit(env):
    try:
        with open(env.path("audit.log"), encoding="latin-1") as f:
            return f.read().splitlines()
    except OSError:
        return []


def test_preauth(tap, env, m):
    m.preauth = True
    m.write_config()
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"configuration 2 in effect in every process", off)
           is not None, "PreAuth yes: the reload is taken")
    n0 = len(audit(env))
    sids = []
    for addr, user, pw in ((ADDR_S, "ken@varrius.com", "ken-pw"),
                           (ADDR_V, "ken", "ken-pw"),
                           (ADDR_V, "ken", "ken-pw"),
                           (ADDR_S, "dana", "dana-pw")):
        loff = m.log_size()
        t, _, d = T.imap_route(T.At(m, addr), user, pw)
        tap.ok(b" OK" in t, "PreAuth: %s on %s logs in" % (user, addr), d)
        got = m.wait_log(r'session (0x[0-9a-f]+) \S+: user "[^"]*" '
                         r'logged in', loff)
        sids.append(got.group(1) if got else None)
    time.sleep(0.5)
    lines = audit(env)[n0:]
    ok = [ln for ln in lines if "pre-authenticated" in ln]
    tap.is_(len(ok), 4, "exactly one audit line per login, cached or not")
    tap.ok(all(re.search(r"\(sid %s\) " % s, "\n".join(ok)) for s in sids),
           "each names its session", "%r %r" % (sids, ok))
    tap.ok(all(re.match(r"^\d{8} \d{6} \(sid 0x[0-9a-f]+\) user \S+ "
                        r"pre-authenticated - 127\.0\.0\.1$", ln)
               for ln in ok), "in the product's format", repr(ok))
    tap.ok(sum("user ken@varrius.com pre" in ln for ln in ok) == 3,
           "the name has its virtual domain", repr(ok))
    store = env.stores["store1"]
    before = store.log().count("dana")
    t, _, d = T.imap_route(T.At(m, ADDR_S), "dana", "not-dana-pw")
    tap.ok(b" OK" not in t, "PreAuth: a wrong password is refused", d)
    time.sleep(0.5)
    tap.is_(store.log().count("dana"), before,
            "the store saw nothing of it")
    fail = [ln for ln in audit(env)[n0:] if "failed" in ln]
    tap.is_(len(fail), 1, "one failure line")


def main(tap):
    if not os.path.exists(SAMPLE):
        raise T.SkipAll("%s not present" % SAMPLE)
    env = setup(tap)
    m = make_mmpd(env)
    rc, out = m.check() if m.write_config() is not None else (1, "")
    tap.is_(rc, 0, "mmpd -n takes the product's sample (paths aside)") \
        or tap.diag(out)
    m.start()
    test_routes(tap, env, m)
    test_replica(tap, env, m)
    test_preauth(tap, env, m)
    m.stop()
    T.check_children(tap)


if __name__ == "__main__":
    T.run(main)
