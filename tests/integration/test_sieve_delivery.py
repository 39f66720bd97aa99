"""Sieve at final delivery, end to end: a user's active script (stored
with `mailhub sieve put`) files list mail into a folder it creates, flags
mail from a VIP, and answers others with a vacation reply once per sender,
never to a list or a bounce; a script with a runtime error keeps the
message and tells the user; a script with a syntax error is refused with
its line number.  Messages arrive over SMTP on loopback."""

import os
import smtplib
import sqlite3
import tempfile
import unittest

import tap
from mailhub_fixture import Mailhub
from smtp_util import inbox_rows

ALICE = "alice@example.org"

SCRIPT = """require ["fileinto", "mailbox", "imap4flags", "vacation"];
if exists "list-id" {
    fileinto :create "Lists";
    stop;
}
if address :is "from" "boss@corp.example" {
    addflag "\\\\Flagged";
}
vacation :days 1 :subject "Away" "I am away this week.";
"""


def message(frm, subject, extra=""):
    return (f"From: {frm}\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n{extra}\r\nbody\r\n").encode()


class SieveDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp",), plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(ALICE, "alice-secret-1")
        cls.tmp = tempfile.mkdtemp(prefix="sieve-")
        path = os.path.join(cls.tmp, "main.sieve")
        with open(path, "w") as f:
            f.write(SCRIPT)
        cls.mh.cli("sieve", "put", ALICE, "main", path, "--activate")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def send(self, sender, msg):
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
            s.sendmail(sender, [ALICE], msg)

    def db(self):
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def replies_to(self, address):
        with self.db() as db:
            return db.execute(
                "SELECT count(*) FROM queue_messages m JOIN queue_recipients r"
                " ON r.message_id = m.id WHERE m.sender = '' AND r.address = ?",
                (address,)).fetchone()[0]

    def flags_of_last(self, mailbox="INBOX"):
        with self.db() as db:
            return db.execute(
                "SELECT m.flags FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                " JOIN users u ON u.id = b.user_id WHERE u.address = ? AND b.name = ?"
                " ORDER BY m.uid DESC LIMIT 1", (ALICE, mailbox)).fetchone()[0]

    def test_list_mail_filed(self):
        before = len(inbox_rows(self.mh, ALICE))
        self.send("list-bounces@lists.example.com",
                  message("dev@lists.example.com", "list post", "List-Id: <dev.lists.example.com>\r\n"))
        self.assertEqual(len(inbox_rows(self.mh, ALICE, "Lists")), 1)
        self.assertEqual(len(inbox_rows(self.mh, ALICE)), before)
        self.assertEqual(self.replies_to("list-bounces@lists.example.com"), 0)

    def test_vip_flagged(self):
        self.send("boss@corp.example", message("Boss <boss@corp.example>", "budget now"))
        self.assertEqual(self.flags_of_last() & 4, 4)   # \Flagged

    def test_vacation_once_never_to_bounce(self):
        msg = message("Friend <friend@remote.example>", "hello there")
        self.send("friend@remote.example", msg)
        self.assertEqual(self.replies_to("friend@remote.example"), 1)
        self.send("friend@remote.example", message("friend@remote.example", "again"))
        self.assertEqual(self.replies_to("friend@remote.example"), 1, "once per period")
        # a bounce: the null sender gets nothing
        before = inbox_rows(self.mh, ALICE)
        self.send("", message("MAILER-DAEMON@remote.example", "failure notice",
                              "Auto-Submitted: auto-replied\r\n"))
        self.assertEqual(len(inbox_rows(self.mh, ALICE)), len(before) + 1)
        self.assertEqual(self.replies_to(""), 0)

    def test_syntax_error_refused(self):
        path = os.path.join(self.tmp, "bad.sieve")
        with open(path, "w") as f:
            f.write('require "fileinto";\n\nfileinto;\nkeep;\n')
        p = self.mh.cli("sieve", "put", ALICE, "bad", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 3: error:", p.stdout)
        listing = self.mh.cli("sieve", "list", ALICE).stdout
        self.assertEqual(listing.split(), ["main", "(active)"])

    def test_zz_runtime_error_keeps_and_tells(self):
        path = os.path.join(self.tmp, "err.sieve")
        with open(path, "w") as f:
            f.write('redirect "a@x.example"; redirect "b@x.example"; redirect "c@x.example";\n'
                    'redirect "d@x.example"; redirect "e@x.example";\n')
        self.mh.cli("sieve", "put", ALICE, "err", path, "--activate")
        try:
            before = len(inbox_rows(self.mh, ALICE))
            self.send("someone@remote.example", message("someone@remote.example", "err test"))
            rows = inbox_rows(self.mh, ALICE)
            self.assertEqual(len(rows), before + 2, "the message and the note")
            self.assertEqual(self.replies_to("a@x.example"), 0)
        finally:
            self.mh.cli("sieve", "activate", ALICE, "main")


if __name__ == "__main__":
    tap.main()
