"""SCRAM-SHA-256 (RFC 5802, RFC 7677) and SCRAM-SHA-256-PLUS (channel
binding: tls-exporter, RFC 9266, on TLS 1.3; tls-unique, RFC 5929, on
TLS 1.2) for IMAP AUTHENTICATE, POP3 AUTH and SMTP AUTH.

The clients: Cyrus SASL's sample client (sasl2-bin, with the SCRAM plugin
of libsasl2-modules), a real SASL client that the test only carries lines
for; and a SCRAM client written here (auth_util.Scram, checked against the
RFC 7677 §3 example) for -PLUS, which needs the TLS connection's binding.
Both are first shown to work against Debian's Dovecot configured with
SCRAM-SHA-256 and the keys mailhub stored (so the stored form also moves
to Dovecot), then against mailhub."""

import base64
import os
import shutil
import sqlite3
import ssl
import tempfile
import unittest

import dovecot_util
import tap
from auth_util import (SAMPLE_CLIENT, TLS_PORTS, Login, PyOpenSSLLogin, Scram,
                       cyrus_sample_login, sasl_login, scram_self_test)
from mailhub_fixture import Mailhub

DOMAIN = "example.org"
ALICE, ALICE_PW = f"alice@{DOMAIN}", "alice scram secret"
OLD, OLD_PW = f"old@{DOMAIN}", "old hash only"


def have_sample_client():
    return os.access(SAMPLE_CLIENT, os.X_OK)


def have_pyopenssl():
    try:
        import OpenSSL  # noqa: F401
        return True
    except ImportError:
        return False


def stored_scram(mh, address):
    db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"))
    try:
        row = db.execute("SELECT scram FROM users WHERE address = ?",
                         (address,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


class Scram_(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(config_extra="\n[auth]\nblock_after = 4\ndelay_max_ms = 0\n")
        cls.mh.cli("domain", "add", DOMAIN)
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.add_user(OLD, OLD_PW)
        # a user whose password was set before SCRAM keys were stored
        db = sqlite3.connect(os.path.join(cls.mh.data_dir, "mailhub.db"))
        db.execute("UPDATE users SET scram = NULL WHERE address = ?", (OLD,))
        db.commit()
        db.close()
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def login(self, protocol, **kw):
        return Login(protocol, self.mh.port(TLS_PORTS[protocol]), **kw)

    # ---- first against Dovecot -----------------------------------------------

    @unittest.skipUnless(dovecot_util.available(), "dovecot is not installed")
    def test_01_clients_against_dovecot(self):
        """The clients work against Dovecot's SCRAM-SHA-256, with the keys
        mailhub stored for alice in a Dovecot passwd-file."""
        scram_self_test()
        stored = stored_scram(self.mh, ALICE)
        self.assertRegex(stored, r"^\{SCRAM-SHA-256\}4096,[^,]+,[^,]+,[^,]+$")
        # Dovecot's auth process runs as its own user: a readable folder
        pw_dir = tempfile.mkdtemp(prefix="mailhub-scram.")
        self.addCleanup(shutil.rmtree, pw_dir, True)
        os.chmod(pw_dir, 0o755)
        passwd = os.path.join(pw_dir, "passwd")
        with open(passwd, "w") as f:
            f.write(f"{ALICE}:{stored}\n")
        os.chmod(passwd, 0o644)
        d = dovecot_util.Dovecot(mechanisms="plain scram-sha-256", passwd_file=passwd)
        d.start()
        try:
            c = Login("imap", d.port, tls=False)
            self.assertIn("AUTH=SCRAM-SHA-256", c.greeting)
            verdict, final = sasl_login(c, "SCRAM-SHA-256", Scram(ALICE, ALICE_PW))
            c.close()
            self.assertEqual(verdict, "ok", d.log())
            self.assertTrue(final.startswith("v="))
            c = Login("imap", d.port, tls=False)
            self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(ALICE, "wrong"))[0],
                             "failed")
            c.close()
            if have_sample_client():
                c = Login("imap", d.port, tls=False)
                verdict, transcript = cyrus_sample_login(c, "SCRAM-SHA-256", ALICE,
                                                         ALICE_PW)
                c.close()
                self.assertEqual(verdict, "ok", "\n".join(transcript) + d.log())
                self.assertIn("Negotiation complete", "\n".join(transcript))
            self.assertRegex(d.log(), r"Login: user=<alice@example.org>.*method=SCRAM-SHA-256")
        finally:
            d.stop()

    # ---- then against mailhub -------------------------------------------------

    @unittest.skipUnless(have_sample_client(), "sasl2-bin is not installed")
    def test_cyrus_sample_client(self):
        for protocol in ("imap", "pop3", "smtp"):
            with self.subTest(protocol=protocol):
                c = self.login(protocol)
                verdict, transcript = cyrus_sample_login(c, "SCRAM-SHA-256", ALICE,
                                                         ALICE_PW)
                c.close()
                self.assertEqual(verdict, "ok", "\n".join(transcript))
                # the client checked the server's signature and finished
                self.assertIn("Negotiation complete", "\n".join(transcript))
        self.assertRegex(self.mh.log(),
                         r"submissions\[\d+\] auth ok user=alice@example.org .*mech=SCRAM-SHA-256")
        # a wrong password fails with the client's proof
        c = self.login("imap", source="127.0.46.9")
        verdict, _ = cyrus_sample_login(c, "SCRAM-SHA-256", ALICE, "not it")
        c.close()
        self.assertEqual(verdict, "failed")

    def test_advertised(self):
        c = self.login("imap")
        c.send("c CAPABILITY")
        caps = c.line()
        c.close()
        self.assertIn("AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-256-PLUS", caps)
        c = self.login("smtp")
        self.assertIn("250-AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS", c.ehlo)
        c.close()

    def test_python_client_each_protocol(self):
        for protocol in ("imap", "pop3", "smtp"):
            for initial in (True, False):
                with self.subTest(protocol=protocol, initial=initial):
                    client = Scram(ALICE, ALICE_PW)
                    c = self.login(protocol)
                    verdict, final = sasl_login(c, "SCRAM-SHA-256", client, initial)
                    c.close()
                    self.assertEqual(verdict, "ok")
                    # the server proved it holds the keys
                    self.assertTrue(client.check_final(final), final)

    @unittest.skipUnless(have_pyopenssl(), "python3-openssl is not installed")
    def test_plus_tls13_exporter(self):
        for protocol in ("imap", "pop3", "smtp"):
            with self.subTest(protocol=protocol):
                c = PyOpenSSLLogin(protocol, self.mh.port(TLS_PORTS[protocol]))
                client = Scram(ALICE, ALICE_PW, "tls-exporter", c.tls_exporter())
                verdict, final = sasl_login(c, "SCRAM-SHA-256-PLUS", client)
                c.close()
                self.assertEqual(verdict, "ok")
                self.assertTrue(client.check_final(final))
        # a binding from another TLS connection (a man in the middle) fails
        other = PyOpenSSLLogin("imap", self.mh.port("imaps"), source="127.0.46.2")
        c = PyOpenSSLLogin("imap", self.mh.port("imaps"), source="127.0.46.2")
        verdict, _ = sasl_login(c, "SCRAM-SHA-256-PLUS",
                                Scram(ALICE, ALICE_PW, "tls-exporter", other.tls_exporter()))
        self.assertNotEqual(verdict, "ok")
        # tls-unique is not defined for TLS 1.3 (RFC 9266 §1)
        verdict, _ = sasl_login(c, "SCRAM-SHA-256-PLUS",
                                Scram(ALICE, ALICE_PW, "tls-unique", b"x" * 12))
        self.assertNotEqual(verdict, "ok")
        c.close()
        other.close()

    def test_plus_tls12_unique(self):
        c = self.login("imap", tls_version=ssl.TLSVersion.TLSv1_2)
        client = Scram(ALICE, ALICE_PW, "tls-unique",
                       c.sock.get_channel_binding("tls-unique"))
        verdict, final = sasl_login(c, "SCRAM-SHA-256-PLUS", client)
        c.close()
        self.assertEqual(verdict, "ok")
        self.assertTrue(client.check_final(final))

    def test_downgrade_refused(self):
        # "y": the client could bind but thinks the server cannot; over TLS
        # the server can, so someone removed -PLUS (RFC 5802 §6)
        c = self.login("imap")
        verdict, _ = sasl_login(c, "SCRAM-SHA-256", Scram(ALICE, ALICE_PW, flag="y"))
        c.close()
        self.assertEqual(verdict, "refused")

    def test_old_hash_cannot_use_scram(self):
        """A user whose password predates SCRAM keys cannot use SCRAM (the
        exchange looks the same and fails at the proof) but PLAIN works;
        after the next password change SCRAM works too."""
        c = self.login("imap", source="127.0.46.3")
        self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(OLD, OLD_PW))[0], "failed")
        c.close()
        c = self.login("imap", source="127.0.46.3")
        self.assertEqual(c.login(OLD, OLD_PW), "ok")
        c.close()
        self.mh.cli("user", "passwd", OLD, "--password-stdin", input="new old password\n")
        c = self.login("imap", source="127.0.46.3")
        self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(OLD, "new old password"))[0],
                         "ok")
        c.close()

    def test_unknown_user_looks_alike(self):
        """The server-first message of an unknown user carries a salt that
        stays the same, like a real user's."""
        def salt(user):
            first = base64.b64encode(Scram(user, "x").first().encode()).decode()
            c = self.login("imap", source="127.0.46.4")
            c.send(f"a AUTHENTICATE SCRAM-SHA-256 {first}")
            line = c.line()
            c.send("*")
            c.line()
            c.close()
            text = base64.b64decode(line[2:]).decode()
            return dict(a.split("=", 1) for a in text.split(","))["s"]
        self.assertEqual(salt("nobody@example.org"), salt("nobody@example.org"))
        self.assertNotEqual(salt("nobody@example.org"), salt("nobody2@example.org"))

    def test_scram_failures_are_throttled(self):
        """Wrong SCRAM proofs count like wrong passwords: after block_after
        of them the address is refused, the right password included."""
        source = "127.0.46.5"
        verdicts = []
        for _ in range(6):
            c = self.login("pop3", source=source)
            verdicts.append(sasl_login(c, "SCRAM-SHA-256", Scram(ALICE, "guess"))[0])
            c.close()
        self.assertEqual(verdicts[:4], ["failed"] * 4)
        self.assertEqual(verdicts[4:], ["refused"] * 2)
        c = self.login("smtp", source=source)
        self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(ALICE, ALICE_PW))[0],
                         "refused")
        c.close()


if __name__ == "__main__":
    tap.main()
