"""SEARCH BODY, SUBJECT, FROM, TO, CC, BCC and TEXT answered through the
full-text index (sql/016, sql/025) against the same commands answered by
reading every message: a varied corpus (charsets known and unknown,
base64 and quoted-printable, RFC 2047 words, HTML, nested messages,
repeated header fields, addresses with comments, a NUL byte) is appended,
the answers are taken with the index, the index is then emptied under
the running daemon (every message pending, as after an upgrade, so that
SEARCH reads them all) and the answers taken again: they must be equal,
command by command.  HTML parts are searched as their text (tags,
comments, script and style removed, character references decoded, white
space collapsed; the charset from Content-Type or else a <meta>), by
both: a few messages show what each rule finds and misses.  After an
upgrade (sql/034 applied to an index made before it) the messages with
HTML are indexed again by the background pass and the others keep their
index.  The PREVIEW of a delivered message is in the store before any
FETCH (RFC 8970, computed by the background indexer)."""

import base64
import os
import quopri
import random
import sqlite3
import sys
import time
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


def html_messages():
    """HTML parts that show each rule of mail/htmltext.h: with their
    UIDs (offset from the first) in HTML_EXPECT."""
    hdr = b"From: web@example.org\r\nSubject: html %d\r\nMIME-Version: 1.0\r\n"
    out = []
    # tags splitting words, entities, script, style, comments, title; QP
    page = (b"<html><head><title>Quarterly</title><style>.x { color: zebrastyle }"
            b"</style><script>var scriptonlyword = \"<p>\";</script></head><body>"
            b"<p>The spl<b>itw</b>ord for <i>Q3</i> &amp; caf&eacute; &#x3A3;igma"
            b"&nbsp;&nbsp;end</p><!-- commentonlyword <p>x</p> --><p>line1</p>"
            b"<div>line2</div></body></html>")
    out.append(hdr % 0 + b"Content-Type: text/html; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
               + quopri.encodestring(page).replace(b"\n", b"\r\n") + b"\r\n")
    # the charset only in <meta http-equiv>, 8bit latin-1
    out.append(hdr % 1 + b"Content-Type: text/html\r\nContent-Transfer-Encoding: 8bit"
               b"\r\n\r\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html;"
               b" charset=iso-8859-1\"></head><body>Metaword r\xe9sum\xe9</body></html>\r\n")
    # the charset only in <meta charset>, base64 windows-1252
    out.append(hdr % 2 + b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64"
               b"\r\n\r\n" + base64.encodebytes(
                   b"<meta charset=\"windows-1252\"><p>\x93smartquoted\x94</p>"
               ).replace(b"\n", b"\r\n"))
    # Content-Type's charset before the <meta>'s
    out.append(hdr % 3 + b"Content-Type: text/html; charset=iso-8859-1\r\n\r\n"
               b"<meta charset=utf-8><p>ctwins na\xefve</p>\r\n")
    # text/plain beside its HTML: the plain one as it is
    out.append(hdr % 4 + b"Content-Type: multipart/alternative; boundary=alt\r\n\r\n"
               b"--alt\r\nContent-Type: text/plain\r\n\r\nplainside &amp; <b>\r\n"
               b"--alt\r\nContent-Type: text/html\r\n\r\n<p>html<b>side</b> &amp;</p>\r\n"
               b"--alt--\r\n")
    return out


# (key, needle) -> the offsets (into html_messages()) found, among them
HTML_EXPECT = [
    (b"BODY", b"splitword", [0]), (b"TEXT", b"splitword", [0]),
    (b"BODY", b"itw</b>ord", []), (b"TEXT", b"<p>", []),
    (b"TEXT", b"zebrastyle", []), (b"BODY", b"scriptonlyword", []),
    (b"TEXT", b"commentonlyword", []), (b"BODY", b"q3 & caf\xc3\xa9 \xcf\x83igma end", [0]),
    (b"BODY", b"line1 line2", [0]), (b"TEXT", b"quarterly", [0]),
    (b"BODY", b"metaword r\xc3\xa9sum\xc3\xa9", [1]),
    (b"BODY", "\u201csmartquoted\u201d".encode(), [2]),
    (b"BODY", b"ctwins na\xc3\xafve", [3]),
    (b"BODY", b"&amp; <b>", [4]), (b"BODY", b"htmlside &", [4]),
    (b"TEXT", b"&amp;", [4]),
]


def corpus(n, seed=18):
    rnd = random.Random(seed)
    msgs = [message(rnd, i) for i in range(n)]
    # a NUL in the decoded body
    msgs.append(b"From: nul@example.org\r\nSubject: nul\r\nContent-Type: text/plain\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n"
                + base64.b64encode(b"before \0 nulword after") + b"\r\n")
    return msgs + html_messages()


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
    return out + [n for _, n, _ in HTML_EXPECT] + [b"lunch  boat", b"bold &"]


def search_cmd(key, needle):
    return b"UID SEARCH CHARSET UTF-8 %s {%d+}\r\n%s" % (key, len(needle), needle)


class OwnDaemon(unittest.TestCase):
    """A daemon of the class's own, with USER."""

    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user(USER, PASSWORD)
        cls.mh.start()

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


class ExpungeIndex(OwnDaemon):
    """sql/049 on a daemon of its own (the messages here would count in
    SearchIndex's)."""

    def gone_rows(self, word):
        """The index rows still holding word, and blob_keys_gone's rows."""
        db = self.db()
        try:
            text = db.execute("SELECT count(*) FROM blob_text WHERE instr(text, ?) > 0",
                              (word,)).fetchone()[0]
            fields = db.execute("SELECT count(*) FROM blob_fields WHERE instr(body, ?) > 0",
                                (word,)).fetchone()[0]
            gone = db.execute("SELECT count(*) FROM blob_keys_gone").fetchone()[0]
            return text, fields, gone
        finally:
            db.close()

    def wait_gone_swept(self, c, n):
        """Wakes the indexer with an arrival (its removals follow its pass)
        and waits until no file's rows wait for removal."""
        m = b"From: waker@example.org\r\nSubject: waker %d\r\n\r\nwake up\r\n" % n
        c.ok("w", b"APPEND Gone {%d+}\r\n" % len(m) + m)
        deadline = time.monotonic() + 60
        while self.gone_rows("x")[2] != 0:
            self.assertLess(time.monotonic(), deadline, "blob_keys_gone never swept")
            time.sleep(0.05)

    def test_expunge_leaves_the_index_to_the_indexer(self):
        """sql/049: an expunge leaves its file's index rows to the
        background indexer (no FTS5 delete in the expunge); SEARCH never
        finds the expunged message meanwhile; the indexer removes them, but
        not those of a file that has a message again."""
        word = "vanishingword"
        body = (b"From: gone@example.org\r\nSubject: gone\r\n\r\n"
                b"a vanishingword here\r\n")
        c = self.login()
        try:
            c.ok("c", b"CREATE Gone")
            c.ok("a", b"APPEND Gone {%d+}\r\n" % len(body) + body)
            self.mh.wait_indexed()
            self.assertEqual(self.gone_rows(word)[:2], (1, 1))
            c.ok("s", b"SELECT Gone")
            uid = int(c.ok("f", b"UID SEARCH BODY vanishingword")[0].split()[2])
            c.ok("d", b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
            c.ok("e", b"UID EXPUNGE %d" % uid)
            for key in (b"BODY", b"TEXT", b"SUBJECT gone BODY"):
                self.assertEqual(c.ok("n", b"UID SEARCH " + key + b" vanishingword"),
                                 [b"* SEARCH\r\n"], key)
            self.wait_gone_swept(c, 1)
            self.assertEqual(self.gone_rows(word), (0, 0, 0))
            # two messages of the same file, one expunged: its rows stay
            for _ in range(2):
                c.ok("a", b"APPEND Gone {%d+}\r\n" % len(body) + body)
            self.mh.wait_indexed()
            c.ok("s", b"SELECT Gone")
            uids = c.ok("f", b"UID SEARCH BODY vanishingword")[0].split()[2:]
            self.assertEqual(len(uids), 2)
            c.ok("d", b"UID STORE %s +FLAGS.SILENT (\\Deleted)" % uids[0])
            c.ok("e", b"UID EXPUNGE %s" % uids[0])
            self.assertEqual(c.ok("n", b"UID SEARCH BODY vanishingword"),
                             [b"* SEARCH " + uids[1] + b"\r\n"])
            self.wait_gone_swept(c, 2)
            self.assertEqual(self.gone_rows(word), (1, 1, 0))
            self.assertEqual(c.ok("n", b"UID SEARCH TEXT vanishingword"),
                             [b"* SEARCH " + uids[1] + b"\r\n"])
        finally:
            c.close()


class SearchIndex(OwnDaemon):
    N = 300
    HTML_UID = N + 2    # after the random ones and the one with a NUL

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.login()
        msgs = corpus(cls.N)
        cls.count = len(msgs)
        for start in range(0, len(msgs), 50):
            line = b"a APPEND INBOX"
            for m in msgs[start:start + 50]:
                line += b" {%d+}\r\n" % len(m) + m
            c.send(line + b"\r\n")
            _, tagged = c.until("a")
            assert tagged.startswith(b"a OK"), tagged
        c.close()

    def commands(self):
        cmds = []
        for n in needles():
            for key in (b"BODY", b"SUBJECT", b"FROM", b"TO", b"CC", b"BCC", b"TEXT"):
                cmds.append(search_cmd(key, n))
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
        self.mh.wait_indexed()
        db = self.db()
        pending = [db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                   for t in ("fields_pending", "search_pending")]
        fields = db.execute("SELECT count(*) FROM blob_fields").fetchone()[0]
        db.close()
        # every message indexed by the background indexer after APPEND
        # (only the one with a NUL is searched by reading for TEXT)
        self.assertEqual(pending, [0, 1])
        self.assertEqual(fields, self.count)
        indexed = self.answers()
        found = sum(1 for _, untagged in indexed if untagged != [b"* SEARCH\r\n"])
        self.assertGreater(found, 150)
        # HTML: what each rule finds, among the HTML messages
        got = dict(indexed)
        html = set(range(self.HTML_UID, self.HTML_UID + len(html_messages())))
        for key, needle, offsets in HTML_EXPECT:
            line = got[search_cmd(key, needle)][0]
            uids = {int(u) for u in line.split()[2:]} & html
            self.assertEqual(uids, {self.HTML_UID + o for o in offsets}, (key, needle))
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
        # the indexer may have indexed it again meanwhile (it looks every
        # 30 s); it never replaces a row, so this one stays
        db.execute("DELETE FROM blob_fields WHERE rowid = ?", row)
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
        self.mh.wait_indexed()
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


class HtmlUpgrade(unittest.TestCase):
    """sql/034 on an index made before it: the HTML messages are read
    (pending) and indexed again by the background pass, the others keep
    their rows."""

    def test_html_indexed_again(self):
        mh = Mailhub(plaintext_on_loopback=True)
        try:
            mh.cli("domain", "add", "example.org")
            mh.add_user(USER, PASSWORD)
            mh.start()
            rnd = random.Random(34)
            plain = [message(rnd, i) for i in range(12)]
            plain = [m for m in plain if b"text/html" not in m.lower()][:5]
            html = html_messages()
            c = Raw(mh.port("imaps"), tls=True, timeout=60)
            c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
            for m in plain + html:
                c.ok("a", b"APPEND INBOX {%d+}\r\n" % len(m) + m)
            c.ok("s", b"SELECT INBOX")
            plain_uids = list(range(1, len(plain) + 1))
            all_uids = list(range(1, len(plain) + len(html) + 1))
            mh.wait_indexed()
            # the index as an older mailhub left it: text that the
            # messages do not have, which only the index can answer
            db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
            db.execute("UPDATE blob_fields SET body = body || ' stalemarker'")
            db.execute("UPDATE blob_text SET text = text || ' stalemarker'")
            db.commit()
            db.close()

            def uids(cmd):
                line = c.ok("q", cmd)[0]
                return [int(u) for u in line.split()[2:]]
            self.assertEqual(uids(b"UID SEARCH BODY stalemarker"), all_uids)
            self.assertEqual(uids(b"UID SEARCH TEXT stalemarker"), all_uids)
            c.close()
            mh.stop()
            db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
            db.execute("DELETE FROM schema_migrations WHERE version = 34")
            db.commit()
            db.close()
            mh.start()
            c = Raw(mh.port("imaps"), tls=True, timeout=60)
            c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
            c.ok("s", b"SELECT INBOX")
            # at once (read or indexed again) and once the pass is done
            for _ in range(2):
                self.assertEqual(uids(b"UID SEARCH BODY stalemarker"), plain_uids)
                self.assertEqual(uids(b"UID SEARCH TEXT stalemarker"), plain_uids)
                self.assertEqual(uids(b"UID SEARCH BODY splitword"), [len(plain) + 1])
                db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)
                db.text_factory = bytes     # (the unknown charsets' bytes)
                for _ in range(200):
                    pending = [db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                               for t in ("fields_pending", "search_pending")]
                    if pending == [0, 0]:
                        break
                    time.sleep(0.1)
                self.assertEqual(pending, [0, 0])
                bodies = [r[0] for r in db.execute(
                    "SELECT f.body FROM blob_fields f JOIN blob_keys k ON k.id = f.rowid"
                    " JOIN messages m ON m.blob = k.blob ORDER BY m.uid")]
                db.close()
                self.assertEqual(len(bodies), len(all_uids))
                self.assertTrue(all(b.endswith(b" stalemarker") for b in bodies[:len(plain)]))
                self.assertIn(b"the splitword for q3", bodies[len(plain)])
                self.assertFalse(any(b"stalemarker" in b or b"<p>" in b
                                     for b in bodies[len(plain):]))
            c.close()
        finally:
            mh.close()


if __name__ == "__main__":
    tap.main()
