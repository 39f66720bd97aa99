"""The smaller IMAP extensions as transcripts against the running daemon:
MULTIAPPEND (RFC 3502), STATUS=SIZE (RFC 8438) and STATUS APPENDLIMIT
(RFC 7889), CREATE-SPECIAL-USE (RFC 6154), OBJECTID (RFC 8474), QUOTA
(RFC 9208), UNAUTHENTICATE (RFC 8437) and SAVEDATE (RFC 8514).  STATUS SIZE is compared with
Dovecot's for the same messages."""

import datetime
import os
import re
import smtplib
import sqlite3
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot_util  # noqa: E402
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"
SMALL = "carol@example.org"	# a user with a quota of 10K
FEW = "dave@example.org"	# a user who may keep 2 messages

MESSAGES = [b"From: Bob <bob@example.org>\r\nSubject: One\r\n\r\nFirst.\r\n",
            b"From: Bob <bob@example.org>\r\nSubject: Two\r\n\r\nSecond, longer.\r\n",
            b"From: Eve <eve@example.org>\r\nSubject: Three\r\n\r\n" + b"x" * 500 + b"\r\n"]


def multiappend(c, tag, mailbox, messages):
    """One APPEND of several messages (non-synchronising literals)."""
    line = b"%s APPEND %s" % (tag.encode(), mailbox)
    for m in messages:
        line += b" (\\Seen) {%d+}\r\n" % len(m) + m
    c.send(line + b"\r\n")
    return c.until(tag)


def status_size(c, mailbox):
    untagged = c.ok("z", b"STATUS " + mailbox + b" (SIZE)")
    return int(re.search(rb"SIZE (\d+)", untagged[-1]).group(1))


class Deflated:
    """The client's side of COMPRESS=DEFLATE over a Raw connection."""

    def __init__(self, raw):
        self.raw = raw
        self.comp = zlib.compressobj(wbits=-15)
        self.decomp = zlib.decompressobj(wbits=-15)
        self.pending = b""
        self.wire_in = 0

    def send(self, data):
        self.raw.sock.sendall(self.comp.compress(data)
                              + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def line(self):
        while b"\n" not in self.pending:
            chunk = self.raw.sock.recv(65536)
            if not chunk:
                raise AssertionError("closed; got %r" % self.pending)
            self.wire_in += len(chunk)
            self.pending += self.decomp.decompress(chunk)
        line, _, self.pending = self.pending.partition(b"\n")
        return line + b"\n"

    def cmd(self, tag, text):
        self.send(tag.encode() + b" " + text + b"\r\n")
        lines = []
        while True:
            line = self.line()
            if line.startswith(tag.encode() + b" "):
                return lines, line
            lines.append(line)


class ExtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(limits={"message_size": "1M"}, plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.add_user(SMALL, PASSWORD, quota="10K")
        cls.mh.cli("user", "add", FEW, "--quota-messages", "2", "--password-stdin",
                   input=PASSWORD + "\n")
        cls.mh.start()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def login(self, user=USER):
        c = Raw(self.mh.port("imaps"), tls=True, timeout=20)
        c.ok("l", b"LOGIN " + user.encode() + b" " + PASSWORD.encode())
        return c

    def test_capabilities(self):
        c = self.login()
        caps = c.ok("c", b"CAPABILITY")[0].split()
        for cap in (b"MULTIAPPEND", b"STATUS=SIZE", b"QUOTA", b"QUOTA=RES-STORAGE",
                    b"CREATE-SPECIAL-USE", b"UNAUTHENTICATE", b"OBJECTID",
                    b"APPENDLIMIT=1048576", b"COMPRESS=DEFLATE", b"BINARY", b"PREVIEW",
                    b"SAVEDATE"):
            self.assertIn(cap, caps)
        c.close()

    def test_multiappend_and_size(self):
        c = self.login()
        c.ok("c", b"CREATE Multi")
        _, tagged = multiappend(c, "a", b"Multi", MESSAGES)
        self.assertRegex(tagged, rb"^a OK \[APPENDUID \d+ 1:3\]")
        self.assertEqual(status_size(c, b"Multi"), sum(len(m) for m in MESSAGES))
        untagged = c.ok("t", b"STATUS Multi (MESSAGES APPENDLIMIT)")
        self.assertEqual(untagged, [b'* STATUS "Multi" (MESSAGES 3 APPENDLIMIT 1048576)\r\n'])
        # one message refused (too large for the limit): none is stored
        big = b"Subject: big\r\n\r\n" + b"y" * (1024 * 1024) + b"\r\n"
        c.send(b"b APPEND Multi {%d}\r\n" % len(MESSAGES[0]))
        self.assertTrue(c.line().startswith(b"+"))
        c.send(MESSAGES[0] + b" {%d}\r\n" % len(big))
        _, tagged = c.until("b")
        self.assertTrue(tagged.startswith(b"b NO") or tagged.startswith(b"b BAD"), tagged)
        c.ok("n", b"NOOP")
        self.assertEqual(status_size(c, b"Multi"), sum(len(m) for m in MESSAGES))
        c.close()

    @unittest.skipUnless(dovecot_util.available(), "dovecot-imapd not installed")
    def test_size_as_dovecot(self):
        d = dovecot_util.Dovecot()
        d.start()
        try:
            theirs = Raw(d.port, tls=False, timeout=20)
            theirs.ok("l", b"LOGIN alice " + dovecot_util.PASSWORD.encode())
            theirs.ok("c", b"CREATE Sized")
            multiappend(theirs, "a", b"Sized", MESSAGES)
            their_size = status_size(theirs, b"Sized")
            theirs.close()
        finally:
            d.stop()
        c = self.login()
        c.ok("c", b"CREATE Sized")
        multiappend(c, "a", b"Sized", MESSAGES)
        self.assertEqual(status_size(c, b"Sized"), their_size)
        c.close()

    def test_create_special_use(self):
        c = self.login()
        _, tagged = c.cmd("c", b"CREATE Outbox (USE (\\Sent))")
        self.assertRegex(tagged, rb"^c OK \[MAILBOXID \(F[0-9a-f]+\)\]")
        untagged = c.ok("l", b'LIST "" Outbox')
        self.assertIn(b"\\Sent", untagged[0])
        _, tagged = c.cmd("d", b"CREATE Everything (USE (\\All))")
        self.assertTrue(tagged.startswith(b"d NO [USEATTR]"), tagged)
        _, tagged = c.cmd("e", b"CREATE Two (USE (\\Junk \\Trash))")
        self.assertTrue(tagged.startswith(b"e NO [USEATTR]"), tagged)
        _, tagged = c.cmd("f", b"CREATE Bad (USE \\Junk)")
        self.assertTrue(tagged.startswith(b"f BAD"), tagged)
        untagged = c.ok("g", b'LIST "" "*"')
        self.assertFalse(any(b"Everything" in line or b"Two" in line for line in untagged))
        c.close()

    def test_objectids(self):
        c = self.login()
        _, tagged = c.cmd("c", b"CREATE Ids")
        created = re.search(rb"MAILBOXID \((\S+)\)", tagged).group(1)
        multiappend(c, "a", b"Ids", MESSAGES[:2])
        untagged = c.ok("s", b"SELECT Ids")
        self.assertIn(b"* OK [MAILBOXID (%s)] Ok\r\n" % created, untagged)
        ids = c.ok("f", b"FETCH 1:2 (EMAILID THREADID)")
        emailids = [re.search(rb"EMAILID \((M[0-9a-f]{24})\)", line).group(1)
                    for line in ids]
        self.assertNotEqual(emailids[0], emailids[1])
        self.assertTrue(all(b"THREADID NIL" in line for line in ids), ids)
        # a copy keeps its EMAILID; a rename keeps the MAILBOXID
        c.ok("c2", b"CREATE Ids2")
        c.ok("y", b"COPY 1 Ids2")
        c.ok("u", b"UNSELECT")
        c.ok("r", b"RENAME Ids2 Ids3")
        untagged = c.ok("s2", b"SELECT Ids3")
        copy = c.ok("f2", b"FETCH 1 (EMAILID)")
        self.assertIn(b"EMAILID (%s)" % emailids[0], copy[0])
        status = c.ok("t", b"STATUS Ids (MAILBOXID)")
        self.assertEqual(status, [b'* STATUS "Ids" (MAILBOXID (%s))\r\n' % created])
        # deleted and created again: a new MAILBOXID
        c.ok("u2", b"UNSELECT")
        c.ok("d", b"DELETE Ids")
        _, tagged = c.cmd("c3", b"CREATE Ids")
        self.assertNotIn(created, tagged)
        c.close()

    def test_quota(self):
        c = self.login(SMALL)
        multiappend(c, "a", b"INBOX", MESSAGES)
        used = sum(len(m) for m in MESSAGES)
        untagged = c.ok("q", b"GETQUOTAROOT INBOX")
        self.assertEqual(untagged, [b'* QUOTAROOT "INBOX" ""\r\n',
                                    b'* QUOTA "" (STORAGE %d 10)\r\n'
                                    % ((used + 1023) // 1024)])
        self.assertEqual(c.ok("r", b'GETQUOTA ""'), untagged[1:])
        _, tagged = c.cmd("s", b'GETQUOTA "other"')
        self.assertTrue(tagged.startswith(b"s NO"), tagged)
        # over the quota: OVERQUOTA (RFC 9208 §4.3), nothing stored
        big = b"Subject: big\r\n\r\n" + b"z" * 12000 + b"\r\n"
        _, tagged = multiappend(c, "b", b"INBOX", [big])
        self.assertTrue(tagged.startswith(b"b NO [OVERQUOTA]"), tagged)
        self.assertEqual(c.ok("t", b"GETQUOTA \"\""), untagged[1:])
        c.close()
        # a user without a quota has no quota root
        c = self.login()
        self.assertEqual(c.ok("q", b"GETQUOTAROOT INBOX"), [b'* QUOTAROOT "INBOX"\r\n'])
        _, tagged = c.cmd("r", b'GETQUOTA ""')
        self.assertTrue(tagged.startswith(b"r NO"), tagged)
        c.close()

    def test_quota_messages(self):
        # RFC 9208 §5.2: the MESSAGE resource, the user's message limit
        c = self.login(FEW)
        caps = c.ok("c", b"CAPABILITY")[0].split()
        self.assertIn(b"QUOTA=RES-MESSAGE", caps)
        self.assertEqual(c.ok("q", b"GETQUOTAROOT INBOX"),
                         [b'* QUOTAROOT "INBOX" ""\r\n', b'* QUOTA "" (MESSAGE 0 2)\r\n'])
        multiappend(c, "a", b"INBOX", MESSAGES[:1])
        multiappend(c, "b", b"Sent", MESSAGES[1:2])
        self.assertEqual(c.ok("r", b'GETQUOTA ""'), [b'* QUOTA "" (MESSAGE 2 2)\r\n'])
        # the third, in any mailbox, is over quota (RFC 9208 §4.3)
        _, tagged = multiappend(c, "d", b"Drafts", MESSAGES[2:])
        self.assertTrue(tagged.startswith(b"d NO [OVERQUOTA]"), tagged)
        # and so is a copy, and mail delivered over SMTP
        c.ok("s", b"SELECT INBOX")
        _, tagged = c.cmd("e", b"COPY 1 INBOX")
        self.assertTrue(tagged.startswith(b"e NO [OVERQUOTA]"), tagged)
        with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=20) as smtp:
            with self.assertRaises((smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)):
                smtp.sendmail("bob@example.net", [FEW], MESSAGES[0])
        self.assertEqual(c.ok("t", b'GETQUOTA ""'), [b'* QUOTA "" (MESSAGE 2 2)\r\n'])
        # one expunged makes room
        c.ok("x", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("y", b"EXPUNGE")
        multiappend(c, "f", b"Drafts", MESSAGES[2:])
        c.close()

    def compressed(self, tls):
        c = Raw(self.mh.port("imaps" if tls else "imap"), tls=tls, timeout=20)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        # the tagged OK is the last uncompressed line (RFC 4978 §3)
        c.send(b"z COMPRESS DEFLATE\r\n")
        self.assertEqual(c.line(), b"z OK DEFLATE active.\r\n")
        return c, Deflated(c)

    def test_compress(self):
        for tls in (True, False):
            raw, z = self.compressed(tls)
            _, tagged = z.cmd("a", b"COMPRESS DEFLATE")
            self.assertTrue(tagged.startswith(b"a NO [COMPRESSIONACTIVE]"), tagged)
            box = b"Deflate%d" % tls
            _, tagged = z.cmd("c", b"CREATE " + box)
            self.assertTrue(tagged.startswith(b"c OK"), tagged)
            # a literal through the compressed stream
            m = MESSAGES[2]
            _, tagged = z.cmd("p", b"APPEND %s {%d+}\r\n%s" % (box, len(m), m))
            self.assertTrue(tagged.startswith(b"p OK [APPENDUID"), tagged)
            untagged, tagged = z.cmd("s", b"SELECT " + box)
            self.assertIn(b"* 1 EXISTS\r\n", untagged)
            untagged, tagged = z.cmd("f", b"FETCH 1 (BODY.PEEK[])")
            self.assertIn(m, b"".join(untagged))
            # IDLE parks the session; a change wakes it, still compressed
            z.send(b"i IDLE\r\n")
            self.assertTrue(z.line().startswith(b"+ "))
            other = self.login()
            other.ok("s", b"SELECT " + box)
            other.ok("f", b"STORE 1 +FLAGS (\\Flagged)")
            other.close()
            self.assertIn(b"\\Flagged", z.line())
            z.send(b"DONE\r\n")
            self.assertTrue(z.line().startswith(b"i OK"))
            _, tagged = z.cmd("o", b"LOGOUT")
            self.assertTrue(tagged.startswith(b"o OK"), tagged)
            raw.close()

    def test_compress_saves_bytes(self):
        """A resynchronisation's FETCH of flags, compressed and not."""
        c = self.login()
        c.ok("c", b"CREATE Many")
        multiappend(c, "a", b"Many", [MESSAGES[i % 3] for i in range(300)])
        c.ok("s", b"SELECT Many")
        c.ok("e", b"EXAMINE Many")	# no \\Recent left, as below
        plain = sum(len(line) for line in c.ok("f", b"UID FETCH 1:* (FLAGS MODSEQ)"))
        c.close()
        raw, z = self.compressed(True)
        z.cmd("s", b"EXAMINE Many")
        before = z.wire_in
        untagged, _ = z.cmd("f", b"UID FETCH 1:* (FLAGS MODSEQ)")
        self.assertEqual(sum(len(line) for line in untagged), plain)
        self.assertLess((z.wire_in - before) * 5, plain)
        raw.close()

    def test_binary(self):
        data = bytes(range(256)) * 4
        import base64
        mime = (b"From: Bob <bob@example.org>\r\nSubject: Bin\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                b"--b\r\nContent-Type: text/plain\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                b"caf=C3=A9 =3D ok\r\n"
                b"--b\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(data).replace(b"\n", b"\r\n") +
                b"--b\r\nContent-Type: application/x-odd\r\n"
                b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
                b"--b--\r\n")
        c = self.login()
        c.ok("c", b"CREATE Bin")
        multiappend(c, "a", b"Bin", [mime])
        c.ok("s", b"SELECT Bin")
        untagged = c.ok("f", b"FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2])")
        self.assertEqual(untagged, [b"* 1 FETCH (BINARY[1] {10}\r\ncaf\xc3\xa9 = ok"
                                    b" BINARY.SIZE[2] 1024)\r\n"])
        # decoded bytes with NUL come as literal8; a partial range too
        untagged = c.ok("g", b"FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[2]<0.10>)")
        # (Raw reads one literal per line: the lines are joined back)
        self.assertEqual(b"".join(untagged), b"* 1 FETCH (BINARY[2] ~{1024}\r\n" + data
                         + b" BINARY[2]<0> ~{10}\r\n" + data[:10] + b")\r\n")
        _, tagged = c.cmd("h", b"FETCH 1 (BINARY.PEEK[3])")
        self.assertTrue(tagged.startswith(b"h NO [UNKNOWN-CTE]"), tagged)
        _, tagged = c.cmd("i", b"FETCH 1 (BINARY[1.HEADER])")
        self.assertTrue(tagged.startswith(b"i BAD"), tagged)
        # APPEND of a literal8 with NUL bytes, fetched back as it was
        raw = b"Subject: nul\r\n\r\na\x00b\r\n"
        c.send(b"j APPEND Bin ~{%d+}\r\n" % len(raw) + raw + b"\r\n")
        _, tagged = c.until("j")
        self.assertTrue(tagged.startswith(b"j OK"), tagged)
        c.ok("n", b"NOOP")
        untagged = c.ok("k", b"FETCH 2 (BINARY.PEEK[])")
        self.assertEqual(untagged, [b"* 2 FETCH (BINARY[] ~{%d}\r\n" % len(raw) + raw + b")\r\n"])
        # BINARY[] sets \\Seen as BODY[] does
        untagged = c.ok("l", b"FETCH 2 (BINARY[1])")
        self.assertIn(b"\\Seen", b"".join(untagged))
        c.close()

    def test_preview(self):
        html = (b"From: Bob <bob@example.org>\r\nSubject: Html\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/html; charset=iso-8859-1\r\n"
                b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                b"<html><body><p>Caf=E9\r\n   au   lait</p><p>" + b"long " * 100
                + b"</p></body></html>\r\n")
        c = self.login()
        c.ok("c", b"CREATE Prev")
        multiappend(c, "a", b"Prev", [MESSAGES[1], html])
        c.ok("s", b"SELECT Prev")
        untagged = c.ok("f", b"FETCH 1:2 (PREVIEW)")
        self.assertEqual(untagged[0], b'* 1 FETCH (PREVIEW "Second, longer.")\r\n')
        # 8-bit text comes as a literal
        preview = re.search(rb"PREVIEW \{\d+\}\r\n(.*)\)\r\n$", untagged[1],
                            re.S).group(1).decode()
        self.assertTrue(preview.startswith("Caf\u00e9 au lait long long"), preview)
        self.assertEqual(len(preview), 200)
        # LAZY is taken; the preview is the one kept for the file
        again = c.ok("g", b"FETCH 1:2 (PREVIEW (LAZY) UID)")
        self.assertEqual(again[0], b'* 1 FETCH (PREVIEW "Second, longer." UID 1)\r\n')
        # the kept preview goes with the last message of its file
        c.ok("d", b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        c.ok("x", b"EXPUNGE")
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        left = db.execute("SELECT count(*) FROM previews p WHERE NOT EXISTS"
                          " (SELECT 1 FROM messages m WHERE m.blob = p.blob)").fetchone()[0]
        db.close()
        self.assertEqual(left, 0)
        c.close()

    def test_savedate(self):
        c = self.login()
        c.ok("c", b"CREATE Saved")
        before = time.time()
        # an internal date long ago: the save date is now
        msg = MESSAGES[0]
        c.ok("a", b'APPEND Saved "01-Jan-2001 00:00:00 +0000" {%d+}\r\n' % len(msg) + msg)
        c.ok("s", b"SELECT Saved")
        untagged = c.ok("f", b"FETCH 1 (SAVEDATE INTERNALDATE)")
        m = re.search(rb'SAVEDATE "([^"]+)" INTERNALDATE "01-Jan-2001 00:00:00 \+0000"',
                      untagged[0])
        self.assertIsNotNone(m, untagged)
        saved = datetime.datetime.strptime(m.group(1).decode().strip(),
                                           "%d-%b-%Y %H:%M:%S %z").timestamp()
        self.assertLess(abs(saved - before), 5)
        # RFC 8514 §4.3: the SAVED* keys use the save date, not the internal date
        today = time.strftime("%d-%b-%Y", time.gmtime()).encode()
        self.assertEqual(c.ok("1", b"SEARCH SAVEDSINCE 1-Jan-2020"), [b"* SEARCH 1\r\n"])
        self.assertEqual(c.ok("2", b"SEARCH SINCE 1-Jan-2020"), [b"* SEARCH\r\n"])
        self.assertEqual(c.ok("3", b"SEARCH SAVEDBEFORE 1-Jan-2020"), [b"* SEARCH\r\n"])
        self.assertEqual(c.ok("4", b"SEARCH SAVEDATESUPPORTED"), [b"* SEARCH 1\r\n"])
        # a copy is saved anew; the copy keeps the internal date
        c.ok("5", b"COPY 1 Saved")
        self.assertEqual(c.ok("6", b"SEARCH SAVEDON " + today + b" BEFORE 1-Jan-2002"),
                         [b"* SEARCH 1 2\r\n"])
        # mail stored before the migration: its internal date
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)
        db.execute("UPDATE messages SET save_date = NULL WHERE uid = 1 AND mailbox_id ="
                   " (SELECT id FROM mailboxes WHERE name = 'Saved')")
        db.commit()
        db.close()
        # (a selected view keeps the rows it fetched, which never change
        # while the daemon runs: a new SELECT reads them again)
        c.ok("s2", b"SELECT Saved")
        untagged = c.ok("7", b"UID FETCH 1 (SAVEDATE)")
        self.assertIn(b'SAVEDATE "01-Jan-2001 00:00:00 +0000"', untagged[0])
        self.assertEqual(c.ok("8", b"SEARCH SAVEDBEFORE 1-Jan-2020"), [b"* SEARCH 1\r\n"])
        c.close()

    def test_unauthenticate(self):
        c = self.login()
        c.ok("e", b"ENABLE CONDSTORE")
        c.ok("s", b"SELECT INBOX")
        c.ok("u", b"UNAUTHENTICATE")
        _, tagged = c.cmd("t", b"SELECT INBOX")
        self.assertTrue(tagged.startswith(b"t BAD"), tagged)
        caps = c.ok("c", b"CAPABILITY")[0]
        self.assertIn(b"AUTH=PLAIN", caps)
        self.assertNotIn(b"UNAUTHENTICATE", caps)
        # a new login, with nothing of the first session's ENABLE left
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        multiappend(c, "a", b"INBOX", MESSAGES[:1])
        c.ok("s", b"SELECT INBOX")
        stored = c.ok("f", b"STORE 1 +FLAGS (\\Flagged)")
        self.assertFalse(any(b"MODSEQ" in line for line in stored), stored)
        c.close()


if __name__ == "__main__":
    tap.main()
