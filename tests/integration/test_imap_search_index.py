"""SEARCH BODY, SUBJECT, FROM, TO, CC, BCC and TEXT answered through the
full-text index (sql/016, sql/025) against the same commands answered by
reading every message: a varied corpus (charsets known and unknown,
base64 and quoted-printable, RFC 2047 words, HTML, nested messages,
repeated header fields, addresses with comments, a NUL byte) is appended,
the answers are taken with the index, the index is then emptied under
the running daemon (every message pending, as after an upgrade, so that
SEARCH reads them all) and the answers taken again: they must be equal,
command by command.  The PREVIEW of a delivered message is in the store
before any FETCH (RFC 8970, computed at delivery)."""

import base64
import os
import quopri
import random
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from imap_util import Raw  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

USER = "alice@example.org"
PASSWORD = "secret-alice"

WORDS = ["budget", "kernel", "printer", "Straße", "café", "naïve", "Ωmega",
         "σοφία", "ΣΟΦΙΑ", "привет", "日本語", "テスト", "lunch", "boat",
         "résumé", "MIXEDcase", "ﬁnance", "İstanbul", "zebra", "quartz"]
NAMES = [("Bob Builder", "bob@example.org"), ("Zoë Ångström", "zoe@example.net"),
         ("Jürgen Groß", "juergen@example.de"), ("Carol", "carol@example.com"),
         ("Иван Петров", "ivan@example.ru"), ("山田太郎", "yamada@example.jp")]


def enc_word(text, charset="utf-8", b64=True):
    raw = text.encode(charset)
    if b64:
        return "=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode())
    q = quopri.encodestring(raw, header=True).decode().replace("\n", "")
    return "=?%s?Q?%s?=" % (charset, q.replace("=\r", "").replace(" ", "_"))


def address(rnd, name, addr):
    """One address in one of the spellings headers use."""
    kind = rnd.randrange(5)
    if kind == 0:
        return "%s <%s>" % (enc_word(name, b64=rnd.random() < 0.5), addr)
    if kind == 1:
        return '"%s" <%s>' % (name.encode("ascii", "replace").decode(), addr)
    if kind == 2:
        local, dom = addr.split("@")
        return "<%s (c)@ (c) %s>" % (local, dom)
    if kind == 3:
        return "%s (%s)" % (addr, enc_word(name))
    return addr


def text_part(rnd, body):
    """(headers, encoded bytes) of a text part in a random charset and
    transfer encoding; the charsets the scan does not know keep their
    bytes as they are."""
    subtype = "html" if rnd.random() < 0.3 else "plain"
    if subtype == "html":
        body = "<html><body><p>%s</p><b>bold</b>%s</body></html>" % (
            body.replace(" ", "</span> <span class=\"x\">"), " &amp; ")
    charset = rnd.choice(["utf-8", "iso-8859-1", "windows-1252", "koi8-r",
                          "shift_jis", "x-unknown", None])
    try:
        raw = body.encode(charset or "ascii")
    except (UnicodeEncodeError, LookupError):
        raw = body.encode(charset if charset in ("koi8-r", "shift_jis") else "utf-8",
                          "replace")
        if charset in (None, "x-unknown"):
            raw = body.encode("utf-8")
    cte = rnd.choice(["7bit", "8bit", "base64", "quoted-printable"])
    if cte == "base64":
        data = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    elif cte == "quoted-printable":
        data = quopri.encodestring(raw).replace(b"\n", b"\r\n")
    else:
        data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        cte = "8bit"
    ct = "text/%s" % subtype + ("; charset=%s" % charset if charset else "")
    hdr = "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n" % (ct, cte)
    return hdr.encode(), data


def message(rnd, i):
    words = [rnd.choice(WORDS) for _ in range(rnd.randrange(3, 25))]
    subj_words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(1, 4)))
    subject = subj_words if rnd.random() < 0.5 else enc_word(subj_words, b64=rnd.random() < 0.5)
    frm = address(rnd, *rnd.choice(NAMES))
    tos = ", ".join(address(rnd, *rnd.choice(NAMES)) for _ in range(rnd.randrange(1, 3)))
    hdr = "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 1 Jan 2024 10:%02d:00 +0000\r\n" % (
        frm, tos, subject, i % 60)
    if rnd.random() < 0.4:
        hdr += "Cc: %s\r\n" % address(rnd, *rnd.choice(NAMES))
    if rnd.random() < 0.2:
        hdr += "Bcc: Undisclosed: %s;\r\n" % address(rnd, *rnd.choice(NAMES))
    if rnd.random() < 0.1:
        hdr += "Subject: second %s\r\n" % rnd.choice(WORDS)   # repeated field
    if rnd.random() < 0.1:
        hdr += "Subject: folded\r\n %s\r\n" % rnd.choice(WORDS)
    hdr += "MIME-Version: 1.0\r\n"
    kind = rnd.randrange(5)
    body = " ".join(words)
    if kind <= 1:
        ph, pd = text_part(rnd, body)
        return hdr.encode() + ph + b"\r\n" + pd
    parts = []
    for _ in range(rnd.randrange(1, 4)):
        ph, pd = text_part(rnd, " ".join(rnd.choice(WORDS) for _ in range(8)))
        parts.append(ph + b"\r\n" + pd)
    if kind == 3:   # an attachment, not text
        parts.append(b"Content-Type: application/octet-stream\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\n"
                     + base64.encodebytes(b"budget kernel " * 4).replace(b"\n", b"\r\n"))
    if kind == 4:   # an attached message with its own headers and body
        inner = message(rnd, i + 1000)
        parts.append(b"Content-Type: message/rfc822\r\n\r\n" + inner)
    b = b"b%05d" % i
    out = hdr.encode() + b"Content-Type: multipart/%s; boundary=%s\r\n\r\npreamble budget\r\n" % (
        rnd.choice([b"mixed", b"alternative"]), b)
    for p in parts:
        out += b"--" + b + b"\r\n" + p + b"\r\n"
    return out + b"--" + b + b"--\r\nepilogue\r\n"


def corpus(n, seed=18):
    rnd = random.Random(seed)
    msgs = [message(rnd, i) for i in range(n)]
    # a NUL in the decoded body
    msgs.append(b"From: nul@example.org\r\nSubject: nul\r\nContent-Type: text/plain\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n"
                + base64.b64encode(b"before \0 nulword after") + b"\r\n")
    return msgs


def needles():
    out = [b"budget", b"BUDGET", b"udge", b"ke", b"e", b"Stra\xc3\x9fe".upper(),
           b"STRASSE", b"strasse", b"caf\xc3\xa9", b"CAF\xc3\x89", b"\xcf\x83\xce\xbf\xcf\x86",
           "ΣΟΦΊΑ".encode(), "привет".encode(), "ПРИВЕТ".encode(),
           "привет".encode("koi8-r"), "日本".encode(), "テスト".encode("shift_jis"),
           b"finance", b"\xef\xac\x81nance", b"bob@example.org", b"<bob@example.org>",
           b"zoe@", b"Zo\xc3\xab", b"\xc3\x85ngstr\xc3\xb6m", b"Gro\xc3\x9f", b"GROSS",
           b"yamada", "山田".encode(), b"ivan@example.ru", b"<span", b"bold", b"&amp;",
           b"lunch boat", b"budget kernel", b"second", b"folded", b"nulword",
           b"before", b"preamble", b"epilogue", b"undisclosed", b"example",
           b"zz-nothing-here", b"10:0", b"\xc4\xb0stanbul", b"i\xcc\x87stanbul",
           b"r\xc3\xa9sum\xc3\xa9", b"na\xc3\xafve", b"\xce\xa9mega"]
    return out


class SearchIndex(unittest.TestCase):
    N = 300

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()
        c = cls.login()
        msgs = corpus(cls.N)
        for start in range(0, len(msgs), 50):
            line = b"a APPEND INBOX"
            for m in msgs[start:start + 50]:
                line += b" {%d+}\r\n" % len(m) + m
            c.send(line + b"\r\n")
            _, tagged = c.until("a")
            assert tagged.startswith(b"a OK"), tagged
        c.close()

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    @classmethod
    def login(cls):
        c = Raw(cls.mh.port("imaps"), tls=True, timeout=60)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        return c

    def db(self):
        return sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"), timeout=30)

    def commands(self):
        cmds = []
        for n in needles():
            for key in (b"BODY", b"SUBJECT", b"FROM", b"TO", b"CC", b"BCC", b"TEXT"):
                cmds.append(b"UID SEARCH CHARSET UTF-8 %s {%d+}\r\n%s" % (key, len(n), n))
        cmds += [b"SEARCH OR BODY budget FROM bob NOT SUBJECT lunch",
                 b"SEARCH BODY \"\"", b"SEARCH FROM \"\"", b"SEARCH BCC \"\"",
                 b"SEARCH NOT BODY kernel", b"SEARCH BODY budget TEXT kernel SEEN",
                 b"SEARCH CHARSET UTF-8 SUBJECT {3+}\r\n\nse",
                 b"SEARCH CHARSET UTF-8 TO {6+}\r\n>\nbob ",
                 b"SEARCH CHARSET UTF-8 FROM {2+}\r\n>\n"]
        return cmds

    def answers(self):
        c = self.login()
        c.ok("s", b"SELECT INBOX")
        out = []
        for i, cmd in enumerate(self.commands()):
            out.append((cmd, c.ok("c%d" % i, cmd)))
        c.close()
        return out

    def test_indexed_equals_scan(self):
        db = self.db()
        pending = [db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                   for t in ("fields_pending", "search_pending")]
        fields = db.execute("SELECT count(*) FROM blob_fields").fetchone()[0]
        db.close()
        # every message indexed at APPEND (only the one with a NUL is
        # searched by reading for TEXT)
        self.assertEqual(pending, [0, 1])
        self.assertEqual(fields, self.N + 1)
        indexed = self.answers()
        found = sum(1 for _, untagged in indexed if untagged != [b"* SEARCH\r\n"])
        self.assertGreater(found, 150)
        # the index emptied under the running daemon: every message read
        db = self.db()
        db.execute("DELETE FROM blob_fields")
        db.execute("DELETE FROM blob_text")
        db.execute("UPDATE blob_keys SET indexed = 0")
        db.execute("INSERT OR IGNORE INTO fields_pending SELECT mailbox_id, uid FROM messages")
        db.execute("INSERT OR IGNORE INTO search_pending SELECT mailbox_id, uid FROM messages")
        db.commit()
        db.close()
        scanned = self.answers()
        for (cmd, a), (_, b) in zip(indexed, scanned):
            self.assertEqual(a, b, cmd)
        # and the index is what answered the first time: a word only the
        # index holds is found while the message is indexed
        c = self.login()
        c.ok("s", b"SELECT INBOX")
        db = self.db()
        row = db.execute("SELECT k.id FROM messages m JOIN blob_keys k ON k.blob = m.blob"
                         " WHERE m.uid = 2").fetchone()
        db.execute("DELETE FROM fields_pending WHERE uid = 2")
        db.execute("INSERT INTO blob_fields (rowid, subject, hfrom, hto, hcc, hbcc, body)"
                   " VALUES (?, '', '', '', '', '', 'onlyintheindex')", row)
        db.commit()
        db.close()
        self.assertEqual(c.ok("o", b"UID SEARCH BODY onlyintheindex"),
                         [b"* SEARCH 2\r\n"])
        c.close()

    def test_preview_at_delivery(self):
        msg = (b"From: bob@example.org\r\nSubject: pv\r\n\r\n"
               b"Delivered   with\r\n its preview.\r\n")
        c = self.login()
        c.ok("c", b"CREATE Pv")
        c.ok("a", b"APPEND Pv {%d+}\r\n" % len(msg) + msg)
        db = self.db()
        got = db.execute("SELECT p.preview FROM previews p JOIN messages m ON m.blob = p.blob"
                         " JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = 'Pv'"
                         ).fetchall()
        db.close()
        self.assertEqual(got, [("Delivered with its preview.",)])
        c.ok("s", b"SELECT Pv")
        self.assertEqual(c.ok("f", b"FETCH 1 (PREVIEW)"),
                         [b'* 1 FETCH (PREVIEW "Delivered with its preview.")\r\n'])
        c.close()


if __name__ == "__main__":
    tap.main()
