"""The panel's import from a remote IMAP account (POST/GET/DELETE
/api/v1/users/{address}/import), against Debian's Dovecot as the old
server: the import runs in the daemon's background with its progress to
poll, ends with every folder, flag, date and UID of the source; run again
it brings nothing twice; SIGKILL of the daemon half-way, then a restart,
resumes it to the end with every message once; a cancel stops it; the
password is used for the job only (sealed while it runs, wiped after,
never in the log); and a plain user may import for themself only, from a
public host unless [fetch] allow_private_hosts."""

import imaplib
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import dovecot_util  # noqa: E402
from api_util import Client  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402
from test_import import folder_state, folders, message  # noqa: E402

PASSWORD = "Import-Panel-Pass-42"
ADMIN = "admin@example.org"
BIG = 900        # messages in frank's INBOX (enough to kill half-way)
LISTS = 60       # ... and in Lists/Debian


class PanelImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not dovecot_util.available():
            raise unittest.SkipTest("dovecot is not installed")
        cls.dv = dovecot_util.Dovecot()
        cls.dv.start()
        cls.mh = Mailhub(listeners=("imap", "admin"), plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ADMIN, PASSWORD, admin=True)
        for u in ("carol", "dave", "erin", "gina"):
            cls.mh.add_user(f"{u}@example.org", PASSWORD)
        cls.admin_token = cls.mh.cli("token", "create", ADMIN).stdout.strip().split()[-1]
        cls.gina_token = cls.mh.cli("token", "create", "gina@example.org").stdout.strip().split()[-1]
        imap = cls.dovecot_imap("frank")
        imap.create("Lists/Debian")
        for i in range(BIG):
            imap.append("INBOX", r"(\Seen Work)" if i % 3 else "",
                        imaplib.Time2Internaldate(1600000000 + i * 60), message(i))
        for i in range(LISTS):
            imap.append("Lists/Debian", r"(\Flagged NonJunk)", None, message(i, "Lists"))
        imap.select("INBOX")
        imap.uid("STORE", "5", "+FLAGS", r"(\Deleted)")
        imap.expunge()          # a gap in the UIDs
        imap.logout()
        cls.total = BIG - 1 + LISTS
        cls.start()
        cls.admin = Client(cls.mh.port("admin"), cls.admin_token)

    @classmethod
    def start(cls):
        """The daemon, up to its background workers (imports start there,
        after the listeners)."""
        cls.mh.start()
        deadline = time.monotonic() + 60
        while "serve started" not in cls.mh.log().split("import job")[-1]:
            if time.monotonic() > deadline:
                raise AssertionError("mailhub serve did not start:\n" + cls.mh.log())
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "mh", None):
            cls.mh.close()
        if getattr(cls, "dv", None):
            cls.dv.stop()

    @classmethod
    def dovecot_imap(cls, user):
        imap = imaplib.IMAP4("127.0.0.1", cls.dv.port, timeout=30)
        imap.login(user, dovecot_util.PASSWORD)
        return imap

    def source(self, **kw):
        body = {"host": "127.0.0.1", "port": self.dv.port, "tls": "none",
                "username": "frank", "password": dovecot_util.PASSWORD}
        body.update(kw)
        return body

    def wait(self, client, address, states=("done", "failed", "cancelled"), timeout=90):
        deadline = time.monotonic() + timeout
        seen_running = None
        while time.monotonic() < deadline:
            r = client.get(f"/users/{address}/import")
            self.assertEqual(r.status, 200, r)
            if r.json["state"] == "running" and r.json["progress"]["messages_total"]:
                seen_running = r.json
            if r.json["state"] in states:
                return r.json, seen_running
            time.sleep(0.1)
        self.fail(f"the import of {address} did not end: {r.json}")

    def db(self):
        return sqlite3.connect(f"file:{os.path.join(self.mh.data_dir, 'mailhub.db')}?mode=ro",
                               uri=True, timeout=10)

    def compare(self, mh_user):
        """Every folder of frank at Dovecot and of mh_user at mailhub: the
        same UIDVALIDITY, UIDs, flags, dates and bytes."""
        dv = self.dovecot_imap("frank")
        mh = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
        mh.login(mh_user, PASSWORD)
        names = folders(dv)
        self.assertEqual(names, [f for f in folders(mh) if f in names])
        n = 0
        for f in names:
            a, b = folder_state(dv, f), folder_state(mh, f)
            self.assertEqual(a, b, f)
            n += len(a["messages"])
        dv.logout()
        mh.logout()
        return n

    def no_duplicates(self):
        c = self.db()
        dup = c.execute("SELECT count(*) FROM (SELECT blob, mailbox_id FROM messages"
                        " GROUP BY blob, mailbox_id HAVING count(*) > 1)").fetchone()[0]
        c.close()
        self.assertEqual(dup, 0)

    def test_background_import_with_progress(self):
        r = self.admin.post("/users/carol@example.org/import", self.source())
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json["state"], "running")
        self.assertNotIn("password", r.json)
        job, running = self.wait(self.admin, "carol@example.org")
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(job["errors"], [])
        self.assertEqual(job["imported"], self.total)
        self.assertEqual(job["progress"], {"folders_done": 2, "folders_total": 2,
                                           "messages_done": self.total,
                                           "messages_total": self.total})
        self.assertEqual(job["started_by"], ADMIN)
        self.assertIsNotNone(job["finished"])
        if running is not None:     # polled while it ran: a total known early
            self.assertEqual(running["progress"]["messages_total"], self.total)
        self.assertEqual(self.compare("carol@example.org"), self.total)
        # the password is gone with the job, and never reached the log
        c = self.db()
        row = c.execute("SELECT password_sealed FROM import_jobs j JOIN users u"
                        " ON u.id = j.user_id WHERE u.address = ?",
                        ("carol@example.org",)).fetchone()
        c.close()
        self.assertIsNone(row[0])
        self.assertNotIn(dovecot_util.PASSWORD, self.mh.log())
        # again: nothing twice
        r = self.admin.post("/users/carol@example.org/import", self.source())
        self.assertEqual(r.status, 202, r)
        job, _ = self.wait(self.admin, "carol@example.org")
        self.assertEqual((job["state"], job["imported"], job["skipped"]),
                         ("done", 0, self.total), job)
        self.assertEqual(self.compare("carol@example.org"), self.total)
        self.no_duplicates()

    def test_sigkill_then_resume(self):
        r = self.admin.post("/users/dave@example.org/import", self.source())
        self.assertEqual(r.status, 202, r)
        c = self.db()
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline:
            done = c.execute("SELECT count(*) FROM import_keys k JOIN mailboxes m"
                             " ON m.id = k.mailbox_id JOIN users u ON u.id = m.user_id"
                             " WHERE u.address = 'dave@example.org'").fetchone()[0]
            if done >= 250:
                break
            time.sleep(0.02)
        self.mh.kill()
        row = c.execute("SELECT state, password_sealed FROM import_jobs j JOIN users u"
                        " ON u.id = j.user_id WHERE u.address = 'dave@example.org'").fetchone()
        c.close()
        self.assertLess(done, self.total, "the import ended before it could be killed")
        self.assertEqual(row[0], "running")
        self.assertTrue(row[1].startswith("v1:"), "the password is kept sealed")
        self.start()
        try:
            # resumed; then a clean stop (SIGTERM) half-way pauses it, and
            # the next start resumes it again
            resumes = 1
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r = self.admin.get("/users/dave@example.org/import")
                if r.json["state"] != "running" or r.json["progress"]["messages_done"] > 0:
                    break
                time.sleep(0.02)
            self.assertEqual(r.json["resumed"], 1, r.json)
            if r.json["state"] == "running":
                self.mh.stop()      # fails on an unclean exit
                c = self.db()
                state = c.execute("SELECT state FROM import_jobs j JOIN users u"
                                  " ON u.id = j.user_id"
                                  " WHERE u.address = 'dave@example.org'").fetchone()[0]
                c.close()
                if state == "running":
                    resumes = 2
                    self.assertIn("resumes at the next start", self.mh.log())
                self.start()
            job, _ = self.wait(self.admin, "dave@example.org")
            self.assertEqual(job["state"], "done", job)
            self.assertEqual(job["resumed"], resumes)
            self.assertEqual(job["imported"] + job["skipped"], self.total)
            self.assertGreater(job["skipped"], 0)
            self.assertEqual(self.compare("dave@example.org"), self.total)
            self.no_duplicates()
        finally:
            self.assertNotIn(dovecot_util.PASSWORD, self.mh.log())

    def test_cancel_and_one_at_a_time(self):
        r = self.admin.post("/users/erin@example.org/import", self.source())
        self.assertEqual(r.status, 202, r)
        r = self.admin.post("/users/erin@example.org/import", self.source())
        self.assertEqual(r.status, 409, r)
        r = self.admin.delete("/users/erin@example.org/import")
        self.assertEqual(r.status, 202, r)
        job, _ = self.wait(self.admin, "erin@example.org")
        self.assertEqual(job["state"], "cancelled", job)
        self.assertEqual(job["errors"], [])
        self.assertLess(job["imported"], self.total)
        self.assertEqual(self.admin.delete("/users/erin@example.org/import").status, 409)
        # started again, it brings the rest and nothing twice
        r = self.admin.post("/users/erin@example.org/import", self.source())
        self.assertEqual(r.status, 202, r)
        job, _ = self.wait(self.admin, "erin@example.org")
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(job["imported"] + job["skipped"], self.total)
        self.assertEqual(self.compare("erin@example.org"), self.total)
        self.no_duplicates()

    def test_errors_in_plain_words(self):
        r = self.admin.post("/users/gina@example.org/import",
                            self.source(password="wrong-password"))
        self.assertEqual(r.status, 202, r)
        job, _ = self.wait(self.admin, "gina@example.org")
        self.assertEqual(job["state"], "failed", job)
        self.assertEqual(len(job["errors"]), 1, job)
        self.assertRegex(job["errors"][0], r"(?i)password|log ?in|refused")
        self.assertNotIn("wrong-password", self.mh.log())
        # a user, for themself, may not reach a host on a private network
        gina = Client(self.mh.port("admin"), self.gina_token)
        self.assertEqual(gina.post("/users/carol@example.org/import", self.source()).status,
                         403)
        r = gina.post("/users/gina@example.org/import", self.source())
        self.assertEqual(r.status, 202, r)
        job, _ = self.wait(gina, "gina@example.org")
        self.assertEqual(job["state"], "failed", job)
        self.assertRegex(job["errors"][0], r"private|local")
        self.assertEqual(gina.get("/users/carol@example.org/import").status, 403)
        # bad requests are refused before anything starts
        for body, field in (({"host": "x"}, "username"),
                            (self.source(tls="ssl"), "tls"),
                            (self.source(port=70000), "port"),
                            (self.source(folders=[]), "folders"),
                            (self.source(extra=1), "extra")):
            r = self.admin.post("/users/gina@example.org/import", body)
            self.assertEqual(r.status, 422, r)
            self.assertIn(field, r.detail)
        self.assertEqual(self.admin.post("/users/nobody@example.org/import",
                                         self.source()).status, 404)


if __name__ == "__main__":
    tap.main()
