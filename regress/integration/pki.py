#!/usr/bin/env python3
# pki: a throwaway PKI for the TLS tests and the demo, made with the openssl
# command line in a temp dir: a test CA with server, store and client
# certificates, a rogue CA with a client certificate of its own, and one
# server key encrypted with a passphrase. EC P-256 keys: fast. Made once per
# process (pki()), removed at exit; every function returns paths.

import atexit
import os
import re
import shutil
import subprocess
import tempfile

DAYS = 30
PASSPHRASE = "mmptest key passphrase"

# Client certificates of the test CA: name -> subject in openssl's -subj
# form (most significant first: O, OU, CN; RFC 4514 reverses it).
CLIENTS = {
    "pilar": "/O=siroe.com/OU=pilar/CN=Pilar Lorca",
    "quentin": "/O=siroe.com/OU=quentin/CN=Quentin Test",
    # certmap "FilterComps ou=uid" finds nobody for this one ...
    "nouser": "/O=siroe.com/OU=nobody-here/CN=No User",
    # ... and two entries for this one (the tests make uid=twin twice).
    "twin": "/O=siroe.com/OU=twin/CN=Twin User",
}
# Stores: name -> the address mmptest gives it (mmptest.STORE_ADDRS).
STORES = {"store1": "127.0.0.11", "store2": "127.0.0.12",
          "store3": "127.0.0.13"}
SNI_NAME = "mail.example.test"


class PkiError(RuntimeError):
    pass


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl"] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise PkiError("openssl %s: %s" % (" ".join(args),
                                           r.stderr.decode("latin-1")))
    return r.stdout


class Pki:
    """Everything in one directory; files are made in __init__."""

    def __init__(self, directory=None):
        self.own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="mmptest-pki.")
        os.makedirs(self.dir, exist_ok=True)
        # Dovecot's config parser and mmpd's parent read these as root;
        # a world-readable directory also lets a tester inspect them.
        os.chmod(self.dir, 0o755)
        self.serial = 0
        self._ca("ca", "/O=mmptest/CN=mmptest test CA")
        self._ca("rogue-ca", "/O=rogue/CN=mmptest rogue CA")
        self._leaf("ca", "server", "/O=mmptest/CN=localhost",
                   "DNS:localhost,IP:127.0.0.1", "serverAuth")
        self._leaf("ca", "sni", "/O=mmptest/CN=" + SNI_NAME,
                   "DNS:" + SNI_NAME, "serverAuth")
        for name, addr in STORES.items():
            self._leaf("ca", name, "/O=mmptest/CN=%s.mmp.test" % name,
                       "DNS:%s.mmp.test,DNS:%s,IP:%s" % (name, name, addr),
                       "serverAuth")
        for name, subj in CLIENTS.items():
            self._leaf("ca", "client-" + name, subj, None, "clientAuth")
        self._leaf("rogue-ca", "rogue-client", CLIENTS["pilar"], None,
                   "clientAuth")
        # The rogue CA's server certificate for localhost and the stores:
        # a store that is not the one SSLStoreCAFile vouches for.
        for name, addr in STORES.items():
            self._leaf("rogue-ca", "rogue-" + name,
                       "/O=rogue/CN=%s.mmp.test" % name,
                       "DNS:%s.mmp.test,DNS:%s,IP:%s" % (name, name, addr),
                       "serverAuth")
        with open(self.path("passphrase"), "w") as f:
            f.write(PASSPHRASE + "\n")
        openssl("pkey", "-in", self.path("server.key"), "-aes256",
                "-passout", "file:" + self.path("passphrase"),
                "-out", self.path("server-enc.key"))
        if self.own_dir:
            atexit.register(self.remove)

    def path(self, name):
        return os.path.join(self.dir, name)

    def remove(self):
        if self.dir and os.path.isdir(self.dir):
            if os.environ.get("MMPTEST_KEEP") != "1":
                shutil.rmtree(self.dir, ignore_errors=True)

    def _key(self, name):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", self.path(name + ".key"))
        os.chmod(self.path(name + ".key"), 0o600)

    def _ca(self, name, subj):
        self._key(name)
        openssl("req", "-x509", "-new", "-key", self.path(name + ".key"),
                "-subj", subj, "-days", str(DAYS), "-sha256",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-out", self.path(name + ".pem"))

    def _leaf(self, ca, name, subj, san, eku):
        self._key(name)
        csr = self.path(name + ".csr")
        openssl("req", "-new", "-key", self.path(name + ".key"), "-subj",
                subj, "-out", csr)
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature\n"
                    "extendedKeyUsage = %s\n" % eku)
            if san:
                f.write("subjectAltName = %s\n" % san)
        self.serial += 1
        openssl("x509", "-req", "-in", csr, "-CA", self.path(ca + ".pem"),
                "-CAkey", self.path(ca + ".key"), "-set_serial",
                str(1000 + self.serial), "-days", str(DAYS), "-sha256",
                "-extfile", ext, "-out", self.path(name + ".pem"))
        os.unlink(csr)
        os.unlink(ext)

    # --- what the tests ask for

    def ca(self):
        """The test CA's certificate (PEM)."""
        return self.path("ca.pem")

    def rogue_ca(self):
        return self.path("rogue-ca.pem")

    def server(self):
        """(cert, key) for "localhost", SAN DNS:localhost, IP:127.0.0.1."""
        return self.path("server.pem"), self.path("server.key")

    def server_encrypted(self):
        """(cert, encrypted key, passphrase file) of the localhost
        certificate: AES-256, the passphrase on the file's first line."""
        return (self.path("server.pem"), self.path("server-enc.key"),
                self.path("passphrase"))

    def sni(self):
        """(cert, key) for mail.example.test (SNI tests)."""
        return self.path("sni.pem"), self.path("sni.key")

    def store(self, name):
        """(cert, key) of a Dovecot store: SAN DNS:NAME.mmp.test, IP."""
        return self.path(name + ".pem"), self.path(name + ".key")

    def rogue_store(self, name):
        """(cert, key) for a store, issued by the rogue CA."""
        return self.path("rogue-%s.pem" % name), \
            self.path("rogue-%s.key" % name)

    def client(self, name="pilar"):
        """(cert, key) of a client certificate of the test CA."""
        return self.path("client-%s.pem" % name), \
            self.path("client-%s.key" % name)

    def rogue_client(self):
        """(cert, key): pilar's subject, issued by the rogue CA."""
        return self.path("rogue-client.pem"), self.path("rogue-client.key")


_PKI = None


def pki():
    """The PKI of this process, made at the first call."""
    global _PKI
    if _PKI is None:
        _PKI = Pki()
    return _PKI


def key_secrets(keypath, passfile=None):
    """Byte strings that betray the private key of keypath (PEM, maybe
    encrypted with passfile): the lines of its unencrypted PEM text, its
    PKCS#8 DER, the private scalar big-endian and in the little-endian
    limb order of an OpenSSL BIGNUM on this machine."""
    pw = ["-passin", "file:" + passfile] if passfile else []
    pem = openssl("pkey", "-in", keypath, *pw)
    der = openssl("pkey", "-in", keypath, "-outform", "DER", *pw)
    text = openssl("pkey", "-in", keypath, "-noout", "-text", *pw)
    text = text.decode("latin-1")
    m = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    if not m:
        raise PkiError("no private scalar in openssl pkey -text:\n" + text)
    scalar = bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
    # openssl prints a leading 00 when the top bit is set; the key is 32.
    scalar = scalar[-32:].rjust(32, b"\0")
    lines = [ln for ln in pem.splitlines()
             if ln and not ln.startswith(b"-----")]
    return {"pem-lines": lines, "der": der, "scalar": scalar,
            "scalar-le": scalar[::-1]}


def cert_text(certpath):
    return openssl("x509", "-in", certpath, "-noout", "-text").decode(
        "latin-1")


if __name__ == "__main__":
    import sys
    p = Pki(sys.argv[1] if len(sys.argv) > 1 else None)
    print(p.dir)
    if len(sys.argv) <= 1:
        atexit.unregister(p.remove)
