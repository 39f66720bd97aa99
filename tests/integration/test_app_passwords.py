"""App passwords: made by the server through the REST API and the CLI,
good for IMAP, POP3 and SMTP AUTH (PLAIN and SCRAM-SHA-256) and never for
the panel, revocable, with their last use shown; a user sees and revokes
only their own, an admin anyone's."""

import re
import unittest

import tap
from api_util import Client
from auth_util import TLS_PORTS, Login, Scram, sasl_login
from mailhub_fixture import Mailhub

DOMAIN = "example.org"
ALICE, ALICE_PW = f"alice@{DOMAIN}", "alice main password"
BOB, BOB_PW = f"bob@{DOMAIN}", "bob main password"
ADMIN, ADMIN_PW = f"admin@{DOMAIN}", "admin main password"
SHAPE = re.compile(r"^[a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4}$")


class AppPasswords(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # a generous throttle: the tests fail logins on purpose
        cls.mh = Mailhub(config_extra="\n[auth]\nblock_after = 100\ndelay_max_ms = 0\n")
        cls.mh.cli("domain", "add", DOMAIN)
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.add_user(BOB, BOB_PW)
        cls.mh.add_user(ADMIN, ADMIN_PW, admin=True)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def session(self, user, password):
        c = Client(self.mh.port("admin"))
        r = c.login(user, password)
        self.assertEqual(r.status, 200, r)
        return c

    def create(self, client, name):
        r = client.post("/app-passwords", {"name": name})
        self.assertEqual(r.status, 201, r)
        self.assertRegex(r.json["password"], SHAPE)
        return r.json

    def mail_login(self, protocol, user, password):
        c = Login(protocol, self.mh.port(TLS_PORTS[protocol]))
        try:
            return c.login(user, password)
        finally:
            c.close()

    def test_mail_clients_yes_panel_no(self):
        alice = self.session(ALICE, ALICE_PW)
        ap = self.create(alice, "Phone")
        self.assertEqual(ap["user"], ALICE)
        self.assertIsNone(ap["last_used"])
        self.assertIsNone(ap["last_protocol"])
        pw = ap["password"]
        # IMAP LOGIN, POP3 AUTH PLAIN, SMTP AUTH PLAIN
        for protocol in ("imap", "pop3", "smtp"):
            with self.subTest(protocol=protocol):
                self.assertEqual(self.mail_login(protocol, ALICE, pw), "ok")
        # as a person may type it: capitals, spaces instead of dashes
        self.assertEqual(self.mail_login("imap", ALICE, pw.upper().replace("-", " ")), "ok")
        # SCRAM-SHA-256 with the password as shown
        c = Login("imap", self.mh.port("imaps"))
        client = Scram(ALICE, pw)
        verdict, final = sasl_login(c, "SCRAM-SHA-256", client)
        c.close()
        self.assertEqual(verdict, "ok")
        self.assertTrue(client.check_final(final))
        # the last use is shown, with the protocol
        mine = {p["id"]: p for p in alice.get("/app-passwords").json}
        self.assertIsNotNone(mine[ap["id"]]["last_used"])
        self.assertEqual(mine[ap["id"]]["last_protocol"], "imap")
        self.assertNotIn("password", mine[ap["id"]])
        # never the panel, never another user, and the main password still works
        r = Client(self.mh.port("admin")).login(ALICE, pw)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.mail_login("imap", BOB, pw), "failed")
        self.assertEqual(self.mail_login("imap", ALICE, ALICE_PW), "ok")
        # the log says which app password it was, never the password
        self.assertRegex(self.mh.log(), rf"auth ok user={ALICE} .*app-password={ap['id']}")
        self.assertNotIn(pw, self.mh.log())

    def test_revoked_stops_working(self):
        alice = self.session(ALICE, ALICE_PW)
        ap = self.create(alice, "Laptop")
        self.assertEqual(self.mail_login("pop3", ALICE, ap["password"]), "ok")
        r = alice.delete(f"/app-passwords/{ap['id']}")
        self.assertEqual(r.status, 204, r)
        for protocol in ("imap", "pop3", "smtp"):
            self.assertEqual(self.mail_login(protocol, ALICE, ap["password"]), "failed")
        c = Login("smtp", self.mh.port("submissions"))
        self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(ALICE, ap["password"]))[0],
                         "failed")
        c.close()
        self.assertEqual(alice.delete(f"/app-passwords/{ap['id']}").status, 404)

    def test_own_only_admin_any(self):
        alice = self.session(ALICE, ALICE_PW)
        bob = self.session(BOB, BOB_PW)
        admin = self.session(ADMIN, ADMIN_PW)
        ap = self.create(alice, "Tablet")
        # bob neither sees nor revokes alice's
        self.assertNotIn(ap["id"], [p["id"] for p in bob.get("/app-passwords").json])
        self.assertEqual(bob.get(f"/app-passwords?user={ALICE}").status, 404)
        self.assertEqual(bob.delete(f"/app-passwords/{ap['id']}").status, 404)
        self.assertEqual(self.mail_login("imap", ALICE, ap["password"]), "ok")
        # an admin lists and revokes them
        listed = admin.get(f"/app-passwords?user={ALICE}")
        self.assertEqual(listed.status, 200, listed)
        self.assertIn(ap["id"], [p["id"] for p in listed.json])
        self.assertEqual(admin.get("/app-passwords?user=nobody@example.org").status, 404)
        self.assertEqual(admin.delete(f"/app-passwords/{ap['id']}").status, 204)
        self.assertEqual(self.mail_login("imap", ALICE, ap["password"]), "failed")

    def test_names(self):
        bob = self.session(BOB, BOB_PW)
        self.create(bob, "Watch")
        self.assertEqual(bob.post("/app-passwords", {"name": "Watch"}).status, 409)
        for bad in ("", "x" * 65, "tab\there"):
            self.assertEqual(bob.post("/app-passwords", {"name": bad}).status, 422, bad)
        self.assertEqual(bob.post("/app-passwords", {}).status, 422)
        self.assertEqual(bob.post("/app-passwords", {"name": "a", "password": "x"}).status, 422)
        # a unicode name is fine
        self.create(bob, "Téléphone de Bob")

    def test_cli(self):
        pw = self.mh.cli("user", "app-password", "add", BOB, "Mutt").stdout.strip()
        self.assertRegex(pw, SHAPE)
        self.assertEqual(self.mail_login("smtp", BOB, pw), "ok")
        listing = self.mh.cli("user", "app-password", "list", BOB).stdout
        line = next(x for x in listing.splitlines() if "\tMutt\t" in x)
        self.assertIn("protocol=smtp", line)
        ap_id = line.split("\t")[0]
        # the id must be that user's
        r = self.mh.cli("user", "app-password", "del", ALICE, ap_id, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.mh.cli("user", "app-password", "del", BOB, ap_id)
        self.assertEqual(self.mail_login("smtp", BOB, pw), "failed")
        self.assertEqual(self.mh.cli("user", "app-password", "add", "nobody@example.org",
                                     "x", check=False).returncode, 1)
        self.assertEqual(self.mh.cli("user", "app-password", "list", check=False).returncode, 2)
        r = self.mh.cli("user", "--help", check=False)
        self.assertIn("user app-password add ADDRESS NAME", r.stdout + r.stderr)

    def test_password_change_revokes_app_passwords(self):
        """A new password revokes the app passwords (whoever knew the old
        one may have made some), and SCRAM works with the new password and
        with app passwords made after it (they share its salt)."""
        admin = self.session(ADMIN, ADMIN_PW)
        old = self.create(admin, "Desktop")
        new_pw = "admin new password 2"
        r = admin.patch(f"/users/{ADMIN}", {"password": new_pw,
                                            "current_password": ADMIN_PW})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.mail_login("imap", ADMIN, old["password"]), "failed")
        admin = self.session(ADMIN, new_pw)
        self.assertEqual(admin.get("/app-passwords").json, [])
        ap = self.create(admin, "Desktop")
        for password in (ap["password"], new_pw):
            c = Login("imap", self.mh.port("imaps"))
            self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(ADMIN, password))[0], "ok")
            c.close()
        c = Login("imap", self.mh.port("imaps"))
        self.assertEqual(sasl_login(c, "SCRAM-SHA-256", Scram(ADMIN, ADMIN_PW))[0], "failed")
        c.close()
        # disabling the user revokes them too
        bob = self.session(BOB, BOB_PW)
        bob_ap = self.create(bob, "Old phone")
        self.assertEqual(admin.patch(f"/users/{BOB}", {"enabled": False}).status, 200)
        self.assertEqual(admin.patch(f"/users/{BOB}", {"enabled": True}).status, 200)
        self.assertEqual(self.mail_login("pop3", BOB, bob_ap["password"]), "failed")
        self.assertEqual(self.mail_login("pop3", BOB, BOB_PW), "ok")
        self.mh.cli("user", "passwd", ADMIN, "--password-stdin", input=ADMIN_PW + "\n")


if __name__ == "__main__":
    tap.main()
