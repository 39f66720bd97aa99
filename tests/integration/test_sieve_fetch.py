"""Sieve on fetched mail, end to end: the owner's active script (filing
list mail into a folder, flagging mail from a VIP, answering with a
vacation reply) runs on the messages the fetcher takes from a real upstream
(a private Dovecot, as in test_fetch.py) when the account opts in
(`upstream add --sieve`, or later `upstream set --sieve`), and not when
it does not (or no longer does: `upstream set --no-sieve`).  The vacation reply
goes out once to a person, never to a list or a bounce; the Return-Path
the upstream's delivery wrote is the envelope sender."""

import os
import sqlite3
import tempfile
import unittest

import tap
from dovecot_upstream import Dovecot, available
from mailhub_fixture import Mailhub
from smtp_util import inbox_rows

OWNER = "alice@example.org"

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


def message(return_path, frm, subject, extra=""):
    rp = f"Return-Path: <{return_path}>\r\n" if return_path is not None else ""
    return (f"{rp}From: {frm}\r\nTo: {OWNER}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@upstream.test>\r\n{extra}\r\n"
            "body\r\n").encode()


class SieveFetch(unittest.TestCase):
    users = {"u1": "pw-one-1", "u2": "pw-two-2", "u3": "pw-three-3"}

    @classmethod
    def setUpClass(cls):
        if not available():
            raise unittest.SkipTest("Dovecot (dovecot-imapd, dovecot-pop3d) is not installed")
        cls.dc = Dovecot(cls.users)
        cls.dc.start()
        try:
            cls.mh = Mailhub(listeners=(),
                             config_extra="\n[fetch]\nallow_private_hosts = yes\n")
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(OWNER, "secret-alice")
            cls.tmp = tempfile.mkdtemp(prefix="sieve-fetch-")
            path = os.path.join(cls.tmp, "main.sieve")
            with open(path, "w") as f:
                f.write(SCRIPT)
            cls.mh.cli("sieve", "put", OWNER, "main", path, "--activate")
        except BaseException:
            cls.dc.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mh.close()
        finally:
            cls.dc.close()

    def add(self, user, protocol, extra=()):
        port = self.dc.port(protocol + "s")
        r = self.mh.cli("upstream", "add", OWNER, "--protocol", protocol, "--host",
                        "127.0.0.1", "--port", str(port), "--tls", "implicit",
                        "--tls-verify", "pin:" + self.dc.cert_sha256, "--username", user,
                        "--password-stdin", *extra, input=self.users[user] + "\n")
        return int(r.stdout.strip())

    def fetch(self, upstream_id):
        self.mh.cli("upstream", "run", str(upstream_id), timeout=300)

    def db(self):
        path = os.path.join(self.mh.data_dir, "mailhub.db")
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def replies_to(self, address):
        with self.db() as db:
            return db.execute(
                "SELECT count(*) FROM queue_messages m JOIN queue_recipients r"
                " ON r.message_id = m.id WHERE m.sender = '' AND r.address = ?",
                (address,)).fetchone()[0]

    def flags(self, mailbox):
        with self.db() as db:
            return [r[0] for r in db.execute(
                "SELECT m.flags FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                " JOIN users u ON u.id = b.user_id WHERE u.address = ? AND b.name = ?"
                " ORDER BY m.uid", (OWNER, mailbox))]

    def test_01_script_on_fetched_mail(self):
        self.dc.add_messages("u1", [
            message("dev-bounces@lists.example.com", "dev@lists.example.com", "list post",
                    "List-Id: <dev.lists.example.com>\r\n"),
            message("boss@corp.example", "Boss <boss@corp.example>", "budget"),
            message("friend@remote.example", "Friend <friend@remote.example>", "hello"),
            message("friend@remote.example", "Friend <friend@remote.example>", "again"),
            message("", "MAILER-DAEMON@remote.example", "failure notice",
                    "Auto-Submitted: auto-replied\r\n"),
        ])
        up = self.add("u1", "imap", ("--sieve",))
        self.fetch(up)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), 1)
        inbox_flags = self.flags("INBOX")
        self.assertEqual(len(inbox_flags), 4)
        # \Flagged (4) on the VIP's message alone
        self.assertEqual(sum(1 for f in inbox_flags if f & 4), 1)
        self.assertEqual(self.replies_to("boss@corp.example"), 1)
        self.assertEqual(self.replies_to("friend@remote.example"), 1, "once per period")
        self.assertEqual(self.replies_to("dev-bounces@lists.example.com"), 0)
        self.assertEqual(self.replies_to(""), 0)
        # fetched again: nothing new, nothing sent again
        self.fetch(up)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), 1)
        self.assertEqual(len(self.flags("INBOX")), 4)
        self.assertEqual(self.replies_to("friend@remote.example"), 1)

    def test_02_not_without_opt_in(self):
        before_lists = len(inbox_rows(self.mh, OWNER, "Lists"))
        self.dc.add_messages("u2", [
            message("dev-bounces@lists.example.com", "dev@lists.example.com", "post two",
                    "List-Id: <dev.lists.example.com>\r\n"),
            message("stranger@remote.example", "stranger@remote.example", "hi there"),
        ])
        up = self.add("u2", "pop3", ("--target", "Plain"))
        self.fetch(up)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Plain")), 2)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), before_lists)
        self.assertEqual(self.replies_to("stranger@remote.example"), 0)

    def test_03_pop3_with_target(self):
        # the implicit keep goes to the account's target folder
        self.dc.add_messages("u2", [
            message("pal@remote.example", "pal@remote.example", "pop three"),
            message("dev-bounces@lists.example.com", "dev@lists.example.com", "post three",
                    "List-Id: <dev.lists.example.com>\r\n"),
        ])
        before_lists = len(inbox_rows(self.mh, OWNER, "Lists"))
        before_plain = len(inbox_rows(self.mh, OWNER, "Plain"))
        up = self.add("u2", "pop3", ("--target", "Fetched", "--sieve"))
        self.fetch(up)
        # u2 holds four messages now (kept upstream): two lists, two people
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), before_lists + 2)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Fetched")), 2)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Plain")), before_plain)
        self.assertEqual(self.replies_to("pal@remote.example"), 1)
        self.assertEqual(self.replies_to("stranger@remote.example"), 1)

    def sieve_listed(self, upstream_id):
        for line in self.mh.cli("upstream", "list").stdout.splitlines():
            if line.split(" ", 1)[0] == str(upstream_id):
                return line.split(" sieve=", 1)[1].split(" ", 1)[0]
        raise AssertionError(f"account {upstream_id} not listed")

    def test_04_turned_on_and_off(self):
        """An account added without the opt-in turns it on and off with
        `upstream set`: each fetch follows the mark it finds."""
        up = self.add("u3", "imap", ("--target", "Later"))
        self.assertEqual(self.sieve_listed(up), "no")
        self.dc.add_messages("u3", [
            message("dev-bounces@lists.example.com", "dev@lists.example.com", "post four",
                    "List-Id: <dev.lists.example.com>\r\n")])
        before_lists = len(inbox_rows(self.mh, OWNER, "Lists"))
        self.fetch(up)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Later")), 1)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), before_lists)
        self.mh.cli("upstream", "set", str(up), "--sieve")
        self.assertEqual(self.sieve_listed(up), "yes")
        self.dc.add_messages("u3", [
            message("dev-bounces@lists.example.com", "dev@lists.example.com", "post five",
                    "List-Id: <dev.lists.example.com>\r\n")])
        self.fetch(up)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), before_lists + 1)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Later")), 1)
        self.mh.cli("upstream", "set", str(up), "--no-sieve")
        self.assertEqual(self.sieve_listed(up), "no")
        self.dc.add_messages("u3", [
            message("dev-bounces@lists.example.com", "dev@lists.example.com", "post six",
                    "List-Id: <dev.lists.example.com>\r\n")])
        self.fetch(up)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Lists")), before_lists + 1)
        self.assertEqual(len(inbox_rows(self.mh, OWNER, "Later")), 2)
        # both at once is a usage error
        r = self.mh.cli("upstream", "set", str(up), "--sieve", "--no-sieve", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.sieve_listed(up), "no")


if __name__ == "__main__":
    tap.main()
