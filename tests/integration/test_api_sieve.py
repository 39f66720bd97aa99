"""The REST routes of the users' Sieve scripts (/api/v1/sieve): each user
lists, reads, stores (compiled first: errors come back as 422 with the
compiler's line numbers), activates, deactivates and deletes their own
scripts; the active one cannot be deleted; another user sees none of them;
a script stored here is what ManageSieve and delivery see."""

import os
import smtplib
import sqlite3
import unittest

import tap
from api_util import Client, q
from mailhub_fixture import Mailhub, free_port
from smtp_util import inbox_rows

DOMAIN = "example.org"
ALICE, ALICE_PW = "alice@example.org", "alice-secret-1"
BOB, BOB_PW = "bob@example.org", "bob-secret-1"
DAVE, DAVE_PW = "dave@example.org", "dave-secret-1"

GOOD = 'require ["fileinto", "mailbox"];\nif header :contains "subject" "invoice" {\n' \
       '    fileinto :create "Bills";\n}\n'
BAD = 'require "fileinto";\nif true {\n  fileinto "A"\n}\n'


class ApiSieve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # mail for remote domains stays queued: the resolver is a closed
        # loopback port
        cls.mh = Mailhub(listeners=("smtp", "admin"), plaintext_on_loopback=True,
                         config_extra=f"\n[dns]\nresolver = 127.0.0.1:{free_port()}\n")
        cls.mh.cli("domain", "add", DOMAIN)
        cls.mh.add_user(ALICE, ALICE_PW)
        cls.mh.add_user(BOB, BOB_PW)
        cls.mh.add_user(DAVE, DAVE_PW)
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def session(self, user, password):
        c = Client(self.mh.port("admin"))
        r = c.login(user, password)
        self.assertEqual(r.status, 200, r)
        return c

    def test_scripts(self):
        alice = self.session(ALICE, ALICE_PW)
        self.assertEqual(alice.get("/sieve").json, [])
        r = alice.call("PUT", "/sieve/" + q("my rules"), {"script": GOOD})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json, {"name": "my rules", "active": False, "script": GOOD})
        r = alice.call("PUT", "/sieve/" + q("my rules"), {"script": GOOD, "active": True})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["active"])
        # a script with errors is refused with its line number, nothing stored
        r = alice.call("PUT", "/sieve/broken", {"script": BAD})
        self.assertEqual(r.status, 422, r)
        self.assertIn("line 4: error", r.detail)
        self.assertEqual(alice.get("/sieve/broken").status, 404)
        r = alice.call("PUT", "/sieve/x", {"script": GOOD, "other": 1})
        self.assertEqual(r.status, 422, r)
        r = alice.call("PUT", "/sieve/x", {"active": True})
        self.assertEqual(r.status, 422, r)
        listing = alice.get("/sieve").json
        self.assertEqual([(s["name"], s["active"]) for s in listing], [("my rules", True)])
        self.assertRegex(listing[0]["updated"], r"^\d{4}-\d\d-\d\dT")
        # the active script stays; deactivated, it can go
        self.assertEqual(alice.delete("/sieve/" + q("my rules")).status, 409)
        self.assertEqual(alice.post("/sieve/nope/activate").status, 404)
        # Bob sees nothing of Alice's
        bob = self.session(BOB, BOB_PW)
        self.assertEqual(bob.get("/sieve").json, [])
        self.assertEqual(bob.get("/sieve/" + q("my rules")).status, 404)
        self.assertEqual(bob.delete("/sieve/" + q("my rules")).status, 404)
        # delivery runs the active script
        msg = (f"From: shop@remote.example\r\nTo: {ALICE}\r\nSubject: your invoice\r\n\r\nhi\r\n")
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            s.sendmail("shop@remote.example", [ALICE], msg)
        self.assertEqual(len(inbox_rows(self.mh, ALICE, "Bills")), 1)
        # and the CLI (as ManageSieve) sees the same scripts
        self.assertEqual(self.mh.cli("sieve", "list", ALICE).stdout.split(),
                         ["my", "rules", "(active)"])
        self.assertEqual(alice.post("/sieve/" + q("my rules") + "/deactivate").status, 204)
        self.assertFalse(alice.get("/sieve/" + q("my rules")).json["active"])
        self.assertEqual(alice.post("/sieve/" + q("my rules") + "/activate").status, 204)
        self.assertTrue(alice.get("/sieve/" + q("my rules")).json["active"])
        self.assertEqual(alice.post("/sieve/" + q("my rules") + "/deactivate").status, 204)
        self.assertEqual(alice.delete("/sieve/" + q("my rules")).status, 204)
        self.assertEqual(alice.get("/sieve").json, [])

    def test_redirect_with_srs(self):
        """A Sieve redirect leaves as an alias forward does: the sender
        SRS-rewritten into the user's domain (smtp/srs.h)."""
        dave = self.session(DAVE, DAVE_PW)
        r = dave.call("PUT", "/sieve/fwd", {"script": 'redirect "friend@remote.example";\n',
                                            "active": True})
        self.assertEqual(r.status, 201, r)
        msg = f"From: shop@shop.example\r\nTo: {DAVE}\r\nSubject: deal\r\n\r\nhi\r\n"
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            s.sendmail("news@shop.example", [DAVE], msg)
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            rows = db.execute(
                "SELECT m.sender FROM queue_messages m JOIN queue_recipients r"
                " ON r.message_id = m.id WHERE r.address = 'friend@remote.example'").fetchall()
        self.assertEqual(len(rows), 1, rows)
        self.assertRegex(rows[0][0], r"^SRS0=[^=]{4}=[^=]{2}=shop\.example=news@example\.org$")
        self.assertEqual(inbox_rows(self.mh, DAVE), [])   # redirected, not kept
        dave.post("/sieve/fwd/deactivate")

    def test_changed_script_at_once(self):
        """Delivery keeps scripts compiled (sieve/cache.h): a script changed
        through the API, or by the CLI in another process, or deactivated,
        rules the very next message."""
        bob = self.session(BOB, BOB_PW)

        def script(folder):
            return f'require ["fileinto", "mailbox"];\nfileinto :create "{folder}";\n'

        def send(n):
            msg = f"From: a@remote.example\r\nTo: {BOB}\r\nSubject: n{n}\r\n\r\nhi\r\n"
            with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
                s.sendmail("a@remote.example", [BOB], msg)

        r = bob.call("PUT", "/sieve/rules", {"script": script("One"), "active": True})
        self.assertEqual(r.status, 201, r)
        send(1)
        send(2)
        self.assertEqual(len(inbox_rows(self.mh, BOB, "One")), 2)
        # the same script (row) with another text, through the API
        r = bob.call("PUT", "/sieve/rules", {"script": script("Two")})
        self.assertEqual(r.status, 200, r)
        send(3)
        self.assertEqual(len(inbox_rows(self.mh, BOB, "Two")), 1)
        # by the CLI: the daemon is not told, the text's hash differs
        path = os.path.join(self.mh.dir, "bob.sieve")
        with open(path, "w") as f:
            f.write(script("Three"))
        self.mh.cli("sieve", "put", BOB, "rules", path)
        send(4)
        self.assertEqual(len(inbox_rows(self.mh, BOB, "Three")), 1)
        self.assertEqual(len(inbox_rows(self.mh, BOB, "Two")), 1)
        # deactivated: the INBOX
        self.assertEqual(bob.post("/sieve/rules/deactivate").status, 204)
        send(5)
        self.assertEqual(len(inbox_rows(self.mh, BOB)), 1)
        self.assertEqual(len(inbox_rows(self.mh, BOB, "Three")), 1)
        self.assertEqual(bob.delete("/sieve/rules").status, 204)

    def test_csrf_and_auth(self):
        anon = Client(self.mh.port("admin"))
        self.assertEqual(anon.get("/sieve").status, 401)
        alice = self.session(ALICE, ALICE_PW)
        r = alice.call("PUT", "/sieve/x", {"script": GOOD}, csrf=False)
        self.assertEqual(r.status, 403, r)


if __name__ == "__main__":
    tap.main()
