"""The IMAP server against Python's imaplib (and raw transcripts where
imaplib hides the wire): every RFC 3501 command, the extensions, several
sessions on one mailbox, IDLE, and the limits."""

import base64
import imaplib
import os
import re
import smtplib
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub, client_tls_context  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"

SIMPLE = (b"From: Alice <alice@example.org>\r\n"
          b"To: Bob <bob@example.org>, carol@example.org\r\n"
          b"Cc: dave@example.org\r\n"
          b"Subject: Lunch plans\r\n"
          b"Date: Mon, 23 Nov 2026 08:00:00 +0100\r\n"
          b"Message-ID: <lunch@example.org>\r\n"
          b"\r\n"
          b"Shall we meet at noon?\r\n")

MULTIPART = (b"From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\r\n"
             b"To: alice@example.org\r\n"
             b"Subject: =?UTF-8?B?UmVwb3J0IMO8YmVy?= numbers\r\n"
             b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
             b"\r\n"
             b"preamble\r\n"
             b"--outer\r\n"
             b"Content-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n"
             b"\r\n"
             b"Gr=C3=BC=C3=9Fe, the quarterly figures are attached.\r\n"
             b"--outer\r\n"
             b"Content-Type: application/pdf; name=\"q3.pdf\"\r\n"
             b"Content-Disposition: attachment; filename=\"q3.pdf\"\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"\r\n"
             b"JVBERi0xLjQKJcfsj6IK\r\n"
             b"--outer--\r\n")


def flags_of(data):
    m = re.search(rb"FLAGS \(([^)]*)\)", data)
    return set(m.group(1).split()) if m else None


class ImapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(limits={"message_size": "1M", "errors": "5"})
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.add_user("bob@example.org", "secret-bob")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def connect(self, user=USER, password=PASSWORD):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context(), timeout=10)
        m.login(user, password)
        return m

    def fresh_mailbox(self, m, name):
        typ, _ = m.create(name)
        self.assertEqual(typ, "OK")

    def capabilities(self, m):
        typ, data = m.capability()
        return data[0].decode().split()

    # ---- not authenticated ---------------------------------------------

    def test_plaintext_login_refused(self):
        m = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=10)
        self.assertIn("LOGINDISABLED", m.capabilities)
        self.assertIn("STARTTLS", m.capabilities)
        self.assertNotIn("AUTH=PLAIN", m.capabilities)
        r = Raw(self.mh.port("imap"), tls=False)
        _, tagged = r.cmd("a1", b"LOGIN alice@example.org secret-alice")
        self.assertTrue(tagged.startswith(b"a1 NO [PRIVACYREQUIRED]"), tagged)
        _, tagged = r.cmd("a2", b"AUTHENTICATE PLAIN " + base64.b64encode(
            b"\0alice@example.org\0secret-alice"))
        self.assertTrue(tagged.startswith(b"a2 NO [PRIVACYREQUIRED]"), tagged)
        r.close()
        m.shutdown()

    def test_starttls_then_login(self):
        m = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=10)
        m.starttls(ssl_context=client_tls_context())
        self.assertIn("AUTH=PLAIN", m.capabilities)
        self.assertNotIn("STARTTLS", m.capabilities)
        typ, data = m.login(USER, PASSWORD)
        self.assertEqual(typ, "OK")
        self.assertIn(b"[CAPABILITY IMAP4rev1", data[0])
        m.logout()

    def test_login_failure(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context(), timeout=30)
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login(USER, "wrong")
        self.assertIn("AUTHENTICATIONFAILED", str(cm.exception))
        m.login(USER, PASSWORD)
        m.logout()

    def test_authenticate_plain(self):
        # SASL-IR (RFC 4959)
        r = Raw(self.mh.port("imaps"))
        ir = base64.b64encode(b"\0alice@example.org\0secret-alice")
        _, tagged = r.cmd("a1", b"AUTHENTICATE PLAIN " + ir)
        self.assertTrue(tagged.startswith(b"a1 OK"), tagged)
        r.close()
        # with a continuation, through imaplib
        m = imaplib.IMAP4_SSL("127.0.0.1", self.mh.port("imaps"),
                              ssl_context=client_tls_context(), timeout=10)
        typ, _ = m.authenticate(
            "PLAIN", lambda _: b"\0alice@example.org\0secret-alice")
        self.assertEqual(typ, "OK")
        m.logout()
        # cancelled
        r = Raw(self.mh.port("imaps"))
        r.send(b"a1 AUTHENTICATE PLAIN\r\n")
        self.assertTrue(r.line().startswith(b"+"))
        r.send(b"*\r\n")
        _, tagged = r.until("a1")
        self.assertTrue(tagged.startswith(b"a1 BAD"), tagged)
        r.close()

    def test_greeting_noop_capability_logout(self):
        r = Raw(self.mh.port("imaps"))
        self.assertTrue(r.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1"))
        untagged, tagged = r.cmd("a", b"CAPABILITY")
        self.assertTrue(untagged[0].startswith(b"* CAPABILITY IMAP4rev1"))
        self.assertIn(b"AUTH=PLAIN", untagged[0])
        _, tagged = r.cmd("b", b"NOOP")
        self.assertTrue(tagged.startswith(b"b OK"))
        _, tagged = r.cmd("c", b"SELECT INBOX")
        self.assertTrue(tagged.startswith(b"c BAD"))
        r.cmd("l", b"LOGIN alice@example.org secret-alice")
        _, tagged = r.cmd("c2", b"CHECK")
        self.assertTrue(tagged.startswith(b"c2 BAD"), tagged)
        r.cmd("s", b"SELECT INBOX")
        _, tagged = r.cmd("c3", b"CHECK")
        self.assertTrue(tagged.startswith(b"c3 OK"), tagged)
        untagged, tagged = r.cmd("d", b"LOGOUT")
        self.assertTrue(untagged[0].startswith(b"* BYE"))
        self.assertTrue(tagged.startswith(b"d OK"))
        r.close()

    def test_id_enable_namespace(self):
        m = self.connect()
        caps = self.capabilities(m)
        for c in ("UIDPLUS", "MOVE", "NAMESPACE", "ID", "ENABLE", "LITERAL+",
                  "SASL-IR", "SPECIAL-USE", "CHILDREN", "UNSELECT",
                  "LIST-EXTENDED", "LIST-STATUS", "IDLE"):
            self.assertIn(c, caps)
        self.assertTrue(any(c.startswith("APPENDLIMIT=") for c in caps))
        typ, data = m.namespace()
        self.assertEqual(data[0], b'(("" "/")) NIL NIL')
        typ, data = m.xatom("ID", '("name" "imaplib")')
        self.assertEqual(typ, "OK")
        self.assertIn(b'"name" "mailhub"', m.untagged_responses["ID"][0])
        typ, data = m._simple_command("ENABLE", "CONDSTORE")
        self.assertEqual(typ, "OK")
        m.logout()

    # ---- mailboxes ------------------------------------------------------

    def test_list_special_use_children(self):
        m = self.connect()
        typ, data = m.list('""', "*")
        names = {}
        for line in data:
            attrs, name = re.match(rb'\(([^)]*)\) "/" (.*)', line).groups()
            names[name.strip(b'"')] = set(attrs.split())
        for box, use in ((b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"),
                         (b"Trash", b"\\Trash"), (b"Junk", b"\\Junk"),
                         (b"Archive", b"\\Archive")):
            self.assertIn(use, names[box])
        self.assertIn(b"INBOX", names)
        m.create("Proj/2026/Q1")
        typ, data = m.list('""', "Proj/%")
        self.assertEqual(data, [b'(\\HasChildren) "/" "Proj/2026"'])
        typ, data = m.list('"Proj/"', "*")
        self.assertEqual(len(data), 2)
        # LIST-EXTENDED with RETURN (SPECIAL-USE STATUS)
        typ, data = m._simple_command(
            "LIST", "(SPECIAL-USE)", '""', "*", "RETURN",
            "(STATUS (MESSAGES UIDNEXT))")
        lines = m.untagged_responses.pop("LIST", [])
        self.assertEqual(len(lines), 5)
        statuses = m.untagged_responses.pop("STATUS", [])
        self.assertEqual(len(statuses), 5)
        self.assertIn(b"UIDNEXT", statuses[0])
        # an empty pattern asks for the delimiter
        typ, data = m.list('""', '""')
        self.assertEqual(data, [b'(\\Noselect) "/" ""'])
        m.logout()

    def test_create_delete_rename_subscribe(self):
        m = self.connect()
        self.assertEqual(m.create("Work")[0], "OK")
        self.assertEqual(m.create("Work")[0], "NO")
        self.assertEqual(m.create("Work/Old/")[0], "OK")
        self.assertEqual(m.rename("Work", "Job")[0], "OK")
        typ, data = m.list('""', "Job*")
        self.assertEqual(sorted(data), [b'(\\HasChildren) "/" "Job"',
                                        b'(\\HasNoChildren) "/" "Job/Old"'])
        self.assertEqual(m.rename("Job", "Trash")[0], "NO")
        self.assertEqual(m.rename("Nope", "X")[0], "NO")
        self.assertEqual(m.delete("INBOX")[0], "NO")
        self.assertEqual(m.delete("Job/Old")[0], "OK")
        self.assertEqual(m.delete("Job/Old")[0], "NO")
        self.assertEqual(m.unsubscribe("Job")[0], "OK")
        typ, data = m.lsub('""', "Job")
        self.assertEqual(data, [None])
        self.assertEqual(m.subscribe("Job")[0], "OK")
        typ, data = m.lsub('""', "Job")
        self.assertEqual(data, [b'() "/" "Job"'])
        # modified UTF-7 (RFC 3501 §5.1.3)
        self.assertEqual(m.create("Entw&APw-rfe")[0], "OK")
        typ, data = m.list('""', "Entw*")
        self.assertEqual(data, [b'(\\HasNoChildren) "/" "Entw&APw-rfe"'])
        # a well-formed command with a name that is not modified UTF-7:
        # NO [CANNOT] (RFC 5530), as Dovecot answers
        typ, data = m.create("Bad&Jjo")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[CANNOT]", data[0])
        m.logout()

    def test_rename_inbox(self):
        m = self.connect("bob@example.org", "secret-bob")
        m.append("INBOX", None, None, SIMPLE)
        m.append("INBOX", None, None, SIMPLE)
        self.assertEqual(m.rename("INBOX", "Saved")[0], "OK")
        self.assertEqual(m.status("INBOX", "(MESSAGES)")[1],
                         [b'"INBOX" (MESSAGES 0)'])
        self.assertEqual(m.status("Saved", "(MESSAGES)")[1],
                         [b'"Saved" (MESSAGES 2)'])
        m.logout()

    def test_select_examine_status(self):
        m = self.connect()
        m.create("Sel")
        m.append("Sel", r"(\Seen)", None, SIMPLE)
        m.append("Sel", None, None, SIMPLE)
        typ, data = m.status("Sel", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
        self.assertRegex(data[0], rb'"Sel" \(MESSAGES 2 RECENT 2 UIDNEXT 3 '
                                  rb'UIDVALIDITY \d+ UNSEEN 1\)')
        r = Raw(self.mh.port("imaps"))
        r.cmd("l", b"LOGIN alice@example.org secret-alice")
        untagged, tagged = r.cmd("e", b"EXAMINE Sel")
        self.assertTrue(tagged.startswith(b"e OK [READ-ONLY]"), tagged)
        text = b"".join(untagged)
        self.assertIn(b"* 2 EXISTS", text)
        self.assertIn(b"* OK [PERMANENTFLAGS ()]", text)
        untagged, tagged = r.cmd("s", b"SELECT Sel")
        self.assertTrue(tagged.startswith(b"s OK [READ-WRITE]"), tagged)
        text = b"".join(untagged)
        self.assertIn(b"* 2 RECENT", text)
        self.assertIn(b"* OK [UNSEEN 2]", text)
        self.assertIn(b"* OK [UIDNEXT 3]", text)
        self.assertRegex(text, rb"\* OK \[UIDVALIDITY \d+\]")
        self.assertIn(b"\\*)]", text)
        # \Recent went to the first session that selected read-write
        untagged, tagged = r.cmd("s2", b"SELECT Sel")
        self.assertIn(b"* 0 RECENT", b"".join(untagged))
        _, tagged = r.cmd("x", b"SELECT Nope")
        self.assertTrue(tagged.startswith(b"x NO"), tagged)
        _, tagged = r.cmd("y", b"FETCH 1 FLAGS")
        self.assertTrue(tagged.startswith(b"y BAD"), tagged)
        r.close()
        m.logout()

    def test_uidvalidity_changes_when_recreated(self):
        m = self.connect()
        m.create("Again")
        v1 = m.status("Again", "(UIDVALIDITY)")[1][0]
        m.delete("Again")
        m.create("Again")
        v2 = m.status("Again", "(UIDVALIDITY)")[1][0]
        self.assertNotEqual(v1, v2)
        m.logout()

    # ---- APPEND ---------------------------------------------------------

    def test_append_flags_date_and_uidplus(self):
        m = self.connect()
        m.create("App")
        typ, data = m.append("App", r"(\Flagged $Work)",
                             '"23-Nov-2026 09:30:00 +0200"', SIMPLE)
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0], rb"^\[APPENDUID \d+ 1\]")
        m.select("App")
        typ, data = m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE)")
        self.assertEqual(flags_of(data[0]), {b"\\Flagged", b"$Work", b"\\Recent"})
        self.assertIn(b'INTERNALDATE "23-Nov-2026 07:30:00 +0000"', data[0])
        self.assertIn(b"RFC822.SIZE %d" % len(SIMPLE), data[0])
        m.logout()

    def test_append_bare_lf_made_crlf(self):
        m = self.connect()
        m.create("Lf")
        msg = b"Subject: lf\n\nline one\nline two\n"
        m.append("Lf", None, None, msg)
        m.select("Lf")
        typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
        body = data[0][1]
        self.assertEqual(body, msg.replace(b"\n", b"\r\n"))
        self.assertIn(b"RFC822.SIZE %d" % len(body), data[0][0])
        m.logout()

    def test_append_literal8_kept_byte_for_byte(self):
        # RFC 3516 §4.2: a literal8 is binary; its bare LFs stay, so that
        # BINARY.SIZE (and RFC822.SIZE) is what was sent (imaptest's
        # append-binary group); a normal literal still gets CRLF
        r = Raw(self.mh.port("imaps"))
        r.cmd("l", b"LOGIN alice@example.org secret-alice")
        r.cmd("c", b"CREATE Bin8")
        msg = b"Subject: b\n\nhello\n"
        r.send(b"a APPEND Bin8 ~{%d}\r\n" % len(msg))
        self.assertTrue(r.line().startswith(b"+"))
        r.send(msg + b"\r\n")
        _, tagged = r.until("a")
        self.assertTrue(tagged.startswith(b"a OK"), tagged)
        r.send(b"b APPEND Bin8 {%d+}\r\n%s\r\n" % (len(msg), msg))
        _, tagged = r.until("b")
        self.assertTrue(tagged.startswith(b"b OK"), tagged)
        r.cmd("s", b"SELECT Bin8")
        r.send(b"f FETCH 1:2 (BINARY.SIZE[] RFC822.SIZE BINARY.SIZE[1])\r\n")
        untagged, tagged = r.until("f")
        self.assertTrue(tagged.startswith(b"f OK"), tagged)
        text = b"".join(untagged)
        self.assertIn(b"* 1 FETCH (BINARY.SIZE[] %d RFC822.SIZE %d "
                      b"BINARY.SIZE[1] 6)" % (len(msg), len(msg)), text)
        crlf = msg.replace(b"\n", b"\r\n")
        self.assertIn(b"* 2 FETCH (BINARY.SIZE[] %d RFC822.SIZE %d "
                      b"BINARY.SIZE[1] 7)" % (len(crlf), len(crlf)), text)
        r.send(b"g FETCH 1 (BODY.PEEK[])\r\n")
        untagged, tagged = r.until("g")
        self.assertEqual(b"".join(untagged),
                         b"* 1 FETCH (BODY[] {%d}\r\n" % len(msg) + msg + b")\r\n")

    def test_append_literals_raw(self):
        r = Raw(self.mh.port("imaps"))
        r.cmd("l", b"LOGIN alice@example.org secret-alice")
        r.cmd("c", b"CREATE Lit")
        # synchronising: the server asks for it with "+"
        r.send(b"a APPEND Lit (\\Seen) {%d}\r\n" % len(SIMPLE))
        self.assertTrue(r.line().startswith(b"+"))
        r.send(SIMPLE + b"\r\n")
        _, tagged = r.until("a")
        self.assertTrue(tagged.startswith(b"a OK [APPENDUID"), tagged)
        # LITERAL+: no continuation, several messages in one command
        r.send(b"b APPEND Lit {%d+}\r\n%s (\\Draft) {%d+}\r\n%s\r\n" %
               (len(SIMPLE), SIMPLE, len(MULTIPART), MULTIPART))
        _, tagged = r.until("b")
        self.assertRegex(tagged, rb"^b OK \[APPENDUID \d+ 2:3\]")
        # a mailbox that does not exist
        r.send(b"t APPEND Missing {%d+}\r\n%s\r\n" % (len(SIMPLE), SIMPLE))
        _, tagged = r.until("t")
        self.assertTrue(tagged.startswith(b"t NO [TRYCREATE]"), tagged)
        # over the limit: refused before the continuation
        r.send(b"z APPEND Lit {2000000}\r\n")
        line = r.line()
        self.assertTrue(line.startswith(b"z NO [TOOBIG]"), line)
        # a LITERAL+ one over the limit is read and thrown away
        r.send(b"y APPEND Lit {1100000+}\r\n" + b"x" * 1100000 + b"\r\n")
        _, tagged = r.until("y")
        self.assertTrue(tagged.startswith(b"y NO [TOOBIG]"), tagged)
        _, tagged = r.cmd("n", b"NOOP")
        self.assertTrue(tagged.startswith(b"n OK"), tagged)
        untagged, _ = r.cmd("s", b"STATUS Lit (MESSAGES)")
        self.assertIn(b"MESSAGES 3", untagged[0])
        r.close()

    # ---- FETCH ----------------------------------------------------------

    def test_fetch_items(self):
        m = self.connect()
        self.fresh_mailbox(m, "Fetch")
        m.append("Fetch", None, None, SIMPLE)
        m.append("Fetch", None, None, MULTIPART)
        m.select("Fetch")
        typ, data = m.fetch("1", "(ENVELOPE)")
        self.assertIn(b'ENVELOPE ("Mon, 23 Nov 2026 08:00:00 +0100" '
                      b'"Lunch plans" (("Alice" NIL "alice" "example.org"))',
                      data[0])
        self.assertIn(b'(("Bob" NIL "bob" "example.org")(NIL NIL "carol" '
                      b'"example.org"))', data[0])
        self.assertIn(b'"<lunch@example.org>")', data[0])
        typ, data = m.fetch("2", "(BODYSTRUCTURE)")
        bs = data[0]
        self.assertIn(b'("text" "plain" ("charset" "utf-8") NIL NIL '
                      b'"quoted-printable"', bs)
        self.assertIn(b'"application" "pdf" ("name" "q3.pdf")', bs)
        self.assertIn(b'"mixed" ("boundary" "outer")', bs)
        typ, data = m.fetch("2", "(BODY)")
        self.assertNotIn(b'("boundary" "outer")', data[0])
        # sections
        typ, data = m.fetch("2", "(BODY.PEEK[1] BODY.PEEK[1.MIME] "
                                 "BODY.PEEK[2]<0.8> BODY.PEEK[TEXT]<0.8>)")
        parts = [x for x in data[0] if isinstance(x, bytes)]
        self.assertEqual(data[0][1],
                         b"Gr=C3=BC=C3=9Fe, the quarterly figures are attached.")
        self.assertEqual(data[1][1],
                         b"Content-Type: text/plain; charset=utf-8\r\n"
                         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        self.assertEqual(data[2][1], b"JVBERi0x")
        self.assertIn(b"BODY[2]<0>", data[2][0])
        self.assertEqual(data[3][1], b"preamble")
        del parts
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject From)])")
        self.assertEqual(data[0][1], b"From: Alice <alice@example.org>\r\n"
                                     b"Subject: Lunch plans\r\n\r\n")
        typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS.NOT (To Cc Date "
                                 "Message-ID)])")
        self.assertEqual(data[0][1], b"From: Alice <alice@example.org>\r\n"
                                     b"Subject: Lunch plans\r\n\r\n")
        typ, data = m.fetch("1", "(RFC822.HEADER RFC822.TEXT)")
        self.assertEqual(data[0][1], SIMPLE[:SIMPLE.index(b"\r\n\r\n") + 4])
        self.assertEqual(data[1][1], b"Shall we meet at noon?\r\n")
        # macros
        typ, data = m.fetch("1", "FAST")
        self.assertRegex(data[0], rb"FLAGS \(.*\) INTERNALDATE \".*\" "
                                  rb"RFC822.SIZE \d+")
        typ, data = m.fetch("1", "ALL")
        self.assertIn(b"ENVELOPE (", data[0])
        typ, data = m.fetch("1", "FULL")
        self.assertIn(b"BODY (", data[0])
        # UID FETCH reports the UID
        typ, data = m.uid("FETCH", "2", "(FLAGS)")
        self.assertIn(b"UID 2", data[0])
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            m.fetch("3", "(FLAGS)")
        typ, data = m.uid("FETCH", "5:*", "(FLAGS)")
        self.assertEqual(typ, "OK")
        m.logout()

    def test_seen_set_by_body_fetch(self):
        m = self.connect()
        self.fresh_mailbox(m, "Seen")
        m.append("Seen", None, None, SIMPLE)
        m.select("Seen")
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        typ, data = m.fetch("1", "(FLAGS)")
        self.assertNotIn(b"\\Seen", flags_of(data[0]))
        typ, data = m.fetch("1", "(BODY[TEXT])")
        self.assertIn(b"\\Seen", flags_of(data[0][0]))
        m.select("Seen", readonly=True)
        self.assertEqual(m.store("1", "-FLAGS", r"\Seen")[0], "NO")
        m.select("Seen")
        m.store("1", "-FLAGS", r"\Seen")
        m.select("Seen", readonly=True)
        m.fetch("1", "(RFC822)")
        typ, data = m.fetch("1", "(FLAGS)")
        self.assertNotIn(b"\\Seen", flags_of(data[0]))
        m.logout()

    # ---- STORE, COPY, MOVE, EXPUNGE -------------------------------------

    def test_store_copy_move_expunge(self):
        m = self.connect()
        self.fresh_mailbox(m, "Ops")
        m.create("OpsDest")
        for _ in range(5):
            m.append("Ops", None, None, SIMPLE)
        m.select("Ops")
        typ, data = m.store("1:2", "+FLAGS", r"(\Flagged $Label1)")
        self.assertEqual(len(data), 2)
        self.assertEqual(flags_of(data[0]),
                         {b"\\Flagged", b"$Label1", b"\\Recent"})
        typ, data = m.store("1", "-FLAGS.SILENT", r"($Label1)")
        self.assertEqual(data, [None])
        typ, data = m.store("1", "FLAGS", r"(\Answered)")
        self.assertEqual(flags_of(data[0]), {b"\\Answered", b"\\Recent"})
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            m.store("1", "+FLAGS", r"(\Recent)")
        typ, data = m.uid("STORE", "3", "+FLAGS", r"(\Seen)")
        self.assertIn(b"UID 3", data[0])
        typ, data = m.copy("1:2", "OpsDest")
        self.assertRegex(data[0], rb"^\[COPYUID \d+ 1:2 1:2\]")
        typ, data = m.copy("1", "NoSuch")
        self.assertIn(b"TRYCREATE", data[0])
        typ, data = m.uid("MOVE", "4", "OpsDest")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.untagged_responses.pop("EXPUNGE", []), [b"4"])
        self.assertEqual(m.status("OpsDest", "(MESSAGES)")[1],
                         [b'"OpsDest" (MESSAGES 3)'])
        # EXPUNGE, UID EXPUNGE
        m.store("1:3", "+FLAGS", r"\Deleted")
        typ, data = m.uid("EXPUNGE", "2")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.untagged_responses.pop("EXPUNGE", []), [b"2"])
        typ, data = m.expunge()
        self.assertEqual(data, [b"1", b"1"])
        typ, data = m.search(None, "ALL")
        self.assertEqual(data, [b"1"])
        typ, data = m.uid("SEARCH", None, "ALL")
        self.assertEqual(data, [b"5"])
        # CLOSE expunges silently; UNSELECT does not
        m.store("1", "+FLAGS", r"\Deleted")
        self.assertEqual(m._simple_command("UNSELECT")[0], "OK")
        self.assertEqual(m.status("Ops", "(MESSAGES)")[1],
                         [b'"Ops" (MESSAGES 1)'])
        m.select("Ops")
        self.assertEqual(m.close()[0], "OK")
        self.assertNotIn("EXPUNGE", m.untagged_responses)
        self.assertEqual(m.status("Ops", "(MESSAGES)")[1],
                         [b'"Ops" (MESSAGES 0)'])
        m.logout()

    # ---- SEARCH ---------------------------------------------------------

    def test_search(self):
        m = self.connect()
        self.fresh_mailbox(m, "Srch")
        m.append("Srch", r"(\Seen)", '"01-Jan-2026 12:00:00 +0000"', SIMPLE)
        m.append("Srch", r"(\Flagged)", '"15-Jun-2026 12:00:00 +0000"', MULTIPART)
        m.append("Srch", None, '"20-Nov-2026 12:00:00 +0000"',
                 b"From: x@example.net\r\nSubject: tiny\r\n\r\nhi\r\n")
        m.select("Srch")

        def s(*keys, charset=None):
            typ, data = m.search(charset, *keys)
            self.assertEqual(typ, "OK", keys)
            return data[0].decode()

        self.assertEqual(s("ALL"), "1 2 3")
        self.assertEqual(s("SEEN"), "1")
        self.assertEqual(s("UNSEEN"), "2 3")
        self.assertEqual(s("FLAGGED"), "2")
        self.assertEqual(s("NOT", "FLAGGED"), "1 3")
        self.assertEqual(s("OR", "SEEN", "FLAGGED"), "1 2")
        self.assertEqual(s("(OR SEEN FLAGGED) NOT SEEN"), "2")
        self.assertEqual(s("FROM", "alice"), "1")
        self.assertEqual(s("TO", "carol"), "1")
        self.assertEqual(s("CC", "dave"), "1")
        self.assertEqual(s("BCC", "nobody"), "")
        self.assertEqual(s("SUBJECT", "LUNCH"), "1")
        self.assertEqual(s("SUBJECT", '"report"'), "2")
        self.assertEqual(s("HEADER", "Message-ID", "lunch@"), "1")
        self.assertEqual(s("HEADER", "Message-ID", '""'), "1")
        self.assertEqual(s("BODY", "noon"), "1")
        self.assertEqual(s("BODY", "QUARTERLY"), "2")
        self.assertEqual(s("TEXT", "lunch"), "1")
        self.assertEqual(s("TEXT", "x@example.net"), "3")
        self.assertEqual(s("LARGER", "200"), "1 2")
        self.assertEqual(s("SMALLER", "100"), "3")
        self.assertEqual(s("BEFORE", "1-Feb-2026"), "1")
        self.assertEqual(s("ON", "15-Jun-2026"), "2")
        self.assertEqual(s("SINCE", "15-Jun-2026"), "2 3")
        self.assertEqual(s("SENTON", "24-Nov-2026"), "2")
        self.assertEqual(s("SENTBEFORE", "24-Nov-2026"), "1")
        self.assertEqual(s("SENTSINCE", "24-Nov-2026"), "2")
        self.assertEqual(s("2:*"), "2 3")
        self.assertEqual(s("*:2"), "2 3")
        self.assertEqual(s("UID", "1,3"), "1 3")
        self.assertEqual(s("NEW"), "2 3")
        self.assertEqual(s("RECENT"), "1 2 3")
        self.assertEqual(s("OLD"), "")
        m.store("3", "+FLAGS", "$Todo")
        self.assertEqual(s("KEYWORD", "$Todo"), "3")
        self.assertEqual(s("UNKEYWORD", "$todo"), "1 2")
        self.assertEqual(s("ALL", charset="US-ASCII"), "1 2 3")
        # UTF-8 search strings as a literal (non-ASCII, decoded words)
        r = Raw(self.mh.port("imaps"))
        r.cmd("l", b"LOGIN alice@example.org secret-alice")
        r.cmd("s", b"SELECT Srch")
        word = "Grüße".encode()
        r.send(b"f SEARCH CHARSET UTF-8 BODY {%d}\r\n" % len(word))
        self.assertTrue(r.line().startswith(b"+"))
        r.send(word + b"\r\n")
        untagged, tagged = r.until("f")
        self.assertEqual(untagged, [b"* SEARCH 2\r\n"])
        word = "JÜRGEN".encode()
        r.send(b"k SEARCH CHARSET UTF-8 FROM {%d+}\r\n%s\r\n" % (len(word), word))
        untagged, tagged = r.until("k")
        self.assertEqual(untagged, [b"* SEARCH 2\r\n"])
        word = "über".encode()
        r.send(b"g SEARCH CHARSET UTF-8 SUBJECT {%d+}\r\n%s\r\n" % (len(word), word))
        untagged, tagged = r.until("g")
        self.assertEqual(untagged, [b"* SEARCH 2\r\n"])
        _, tagged = r.cmd("h", b"SEARCH CHARSET KOI8-R ALL")
        self.assertTrue(tagged.startswith(b"h NO [BADCHARSET"), tagged)
        _, tagged = r.cmd("i", b"SEARCH " + b"NOT " * 100 + b"ALL")
        self.assertTrue(tagged.startswith(b"i BAD"), tagged)
        _, tagged = r.cmd("j", b"SEARCH FROBNICATE")
        self.assertTrue(tagged.startswith(b"j BAD"), tagged)
        r.close()
        m.logout()

    def test_search_unicode_case(self):
        """SEARCH matches without regard to case in every script (Unicode
        full case folding of both the search string and the text): one
        string may be longer than the other ("STRASSE", "Straße"), and
        Cherokee folds to its capitals."""
        subject = "Հայաստան ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ ꮳꮃꭹ"
        body = ("Grüße aus der Straße.\r\n"
                "ΟΔΥΣΣΕΥΣ ᏣᎳᎩ 𐐀𐐨\r\n"
                "It is 5 \u212a outside.\r\n")
        msg = ("From: =?UTF-8?B?" +
               base64.b64encode("Անի".encode()).decode() +
               "?= <ani@example.org>\r\n"
               "To: alice@example.org\r\n"
               "Subject: =?UTF-8?B?" +
               base64.b64encode(subject.encode()).decode() + "?=\r\n"
               "MIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: 8bit\r\n"
               "\r\n" + body).encode()
        other = (b"From: bob@example.org\r\nSubject: Strasbourg\r\n\r\n"
                 b"STRASBOURG, ODYSSEUS\r\n")
        m = self.connect()
        self.fresh_mailbox(m, "Fold")
        m.append("Fold", None, None, msg)
        m.append("Fold", None, None, other)
        m.select("Fold")

        def s(needle, *keys):
            m.literal = needle.encode()
            typ, data = m.search("UTF-8", *keys)
            self.assertEqual(typ, "OK", (keys, needle))
            return data[0].decode()

        for needle in ("STRASSE", "strasse", "STRAẞE", "straße", "GRÜSSE"):
            self.assertEqual(s(needle, "TEXT"), "1", needle)
            self.assertEqual(s(needle, "BODY"), "1", needle)
        for needle in ("ՀԱՅԱՍՏԱՆ", "հայաստան", "საქართველო", "ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ",
                       "ᏣᎳᎩ", "ꮳꮃꭹ"):
            self.assertEqual(s(needle, "SUBJECT"), "1", needle)
            self.assertEqual(s(needle, "TEXT"), "1", needle)
        self.assertEqual(s("ԱՆԻ", "FROM"), "1")
        self.assertEqual(s("անի", "HEADER", "From"), "1")
        for needle in ("οδυσσευς", "Οδυσσευσ", "ꮳꮃꭹ", "𐐨𐐨", "𐐀𐐀",
                       "5 K OUTSIDE"):
            self.assertEqual(s(needle, "BODY"), "1", needle)
        # nothing that is not there
        for needle in ("STRASSEN", "ქართული", "ꮳꮃꭹꭺ", "𐐁", "Strasse x"):
            self.assertEqual(s(needle, "TEXT"), "", needle)
        self.assertEqual(s("STRASSE", "SUBJECT"), "")
        self.assertEqual(s("ΟΔΥΣΣΕΥΣ", "SUBJECT"), "")
        self.assertEqual(s("strasbourg", "TEXT"), "2")
        m.logout()

    # ---- several sessions -------------------------------------------------

    def test_two_sessions(self):
        a = Raw(self.mh.port("imaps"))
        b = Raw(self.mh.port("imaps"))
        for r in (a, b):
            r.cmd("l", b"LOGIN alice@example.org secret-alice")
        a.cmd("c", b"CREATE Shared")
        for i in range(3):
            a.send(b"p APPEND Shared {%d+}\r\n%s\r\n" % (len(SIMPLE), SIMPLE))
            a.until("p")
        a.cmd("s", b"SELECT Shared")
        b.cmd("s", b"SELECT Shared")
        # flags set in one reach the other as untagged FETCH
        a.cmd("f", b"STORE 2 +FLAGS (\\Flagged)")
        untagged, _ = b.cmd("n", b"NOOP")
        self.assertIn(b"* 2 FETCH (UID 2 FLAGS (\\Flagged))\r\n", untagged)
        # an EXPUNGE: not during FETCH, then at the next command
        a.cmd("d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.cmd("e", b"EXPUNGE")
        untagged, tagged = b.cmd("f", b"FETCH 1:* (UID)")
        self.assertFalse(any(b"EXPUNGE" in x for x in untagged), untagged)
        self.assertEqual(len([x for x in untagged if b"FETCH" in x]), 3)
        untagged, _ = b.cmd("n", b"NOOP")
        self.assertIn(b"* 1 EXPUNGE\r\n", untagged)
        # new mail shows as EXISTS
        a.send(b"p APPEND Shared {%d+}\r\n%s\r\n" % (len(SIMPLE), SIMPLE))
        a.until("p")
        untagged, _ = b.cmd("n", b"NOOP")
        self.assertIn(b"* 3 EXISTS\r\n", untagged)
        # UID commands may get EXPUNGE (RFC 3501 §7.4.1)
        a.cmd("d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.cmd("e", b"EXPUNGE")
        untagged, _ = b.cmd("u", b"UID FETCH 1:* (FLAGS)")
        self.assertIn(b"* 1 EXPUNGE\r\n", untagged)
        a.close()
        b.close()

    def test_idle_gets_new_mail(self):
        a = Raw(self.mh.port("imaps"))
        a.cmd("l", b"LOGIN alice@example.org secret-alice")
        a.cmd("s", b"SELECT INBOX")
        n0 = int(self.count_inbox())
        a.send(b"i IDLE\r\n")
        self.assertTrue(a.line().startswith(b"+"))
        # a delivery through the SMTP listener wakes the IDLE session
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=10) as s:
            s.ehlo("client.test")
            s.sendmail("someone@example.net", [USER], SIMPLE)
            delivered = time.monotonic()
        # RFC 2177: pushed while idling; the socket timeout bounds the wait
        line = a.line()
        latency = time.monotonic() - delivered
        self.assertEqual(line, b"* %d EXISTS\r\n" % (n0 + 1))
        sys.stdout.write(f"# IDLE push {latency * 1000:.0f} ms after the "
                         f"SMTP reply\n")
        a.done()
        a.close()

    def test_cache_filled_at_delivery(self):
        """ENVELOPE and BODYSTRUCTURE are in the message row as soon as SMTP
        has delivered it, before any FETCH, and FETCH answers with them."""
        # a user of its own: other tests count what bob and alice have
        self.mh.add_user("erin@example.org", "secret-erin")

        def rows():
            path = os.path.join(self.mh.data_dir, "mailhub.db")
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                return db.execute(
                    "SELECT m.uid, m.envelope, m.bodystructure FROM messages m"
                    " JOIN mailboxes b ON b.id = m.mailbox_id"
                    " JOIN users u ON u.id = b.user_id"
                    " WHERE u.address = 'erin@example.org' AND b.name = 'INBOX'"
                    " ORDER BY m.uid").fetchall()
            finally:
                db.close()
        before = rows()
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=10) as s:
            s.ehlo("client.test")
            s.sendmail("someone@example.net", ["erin@example.org"], MULTIPART)
        after = rows()
        self.assertEqual(len(after), len(before) + 1)
        uid, env, bs = after[-1]
        self.assertIsNotNone(env)
        self.assertIsNotNone(bs)
        self.assertIn('"=?UTF-8?B?UmVwb3J0IMO8YmVy?= numbers"', env)
        self.assertIn('"mixed" ("boundary" "outer")', bs)
        self.assertIn('"application" "pdf" ("name" "q3.pdf")', bs)
        # what FETCH sends is the cached text
        r = Raw(self.mh.port("imaps"))
        r.cmd("l", b"LOGIN erin@example.org secret-erin")
        r.cmd("s", b"EXAMINE INBOX")
        untagged, tagged = r.cmd("f", b"UID FETCH %d (ENVELOPE BODYSTRUCTURE)"
                                 % uid)
        self.assertTrue(tagged.startswith(b"f OK"), tagged)
        self.assertEqual(len(untagged), 1, untagged)
        self.assertIn(b"ENVELOPE (" + env.encode() + b")", untagged[0])
        self.assertIn(b"BODYSTRUCTURE (" + bs.encode() + b")", untagged[0])
        r.close()

    def count_inbox(self):
        m = self.connect()
        data = m.status("INBOX", "(MESSAGES)")[1][0]
        m.logout()
        return re.search(rb"MESSAGES (\d+)", data).group(1)

    # ---- errors and limits -------------------------------------------------

    def test_syntax_errors_keep_in_step(self):
        r = Raw(self.mh.port("imaps"))
        _, tagged = r.cmd("a", b'LOGIN "unterminated')
        self.assertTrue(tagged.startswith(b"a BAD"), tagged)
        _, tagged = r.cmd("b", b"FROB")
        self.assertTrue(tagged.startswith(b"b BAD"), tagged)
        _, tagged = r.cmd("c", b"NOOP")
        self.assertTrue(tagged.startswith(b"c OK"), tagged)
        # a literal over the pre-login limit is refused without "+"
        r.send(b"d LOGIN {100000}\r\n")
        line = r.line()
        self.assertTrue(line.startswith(b"d BAD [TOOBIG]"), line)
        _, tagged = r.cmd("e", b"NOOP")
        self.assertTrue(tagged.startswith(b"e OK"), tagged)
        # too many errors in a row end the session
        for i in range(5):
            r.send(b"x%d FROB\r\n" % i)
        lines = [r.line() for _ in range(6)]
        self.assertTrue(lines[-1].startswith(b"* BYE"), lines)
        r.close()


if __name__ == "__main__":
    tap.main()
