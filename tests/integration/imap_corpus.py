"""Real-world-shaped messages for the IMAP comparison with Dovecot:
multipart/alternative, mixed with attachments, nested message/rfc822,
non-ASCII headers, and broken MIME.  CORPUS is a list of (name, bytes)."""


def _crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


PLAIN = _crlf("""\
Return-Path: <alice@example.org>
From: Alice Example <alice@example.org>
To: bob@example.org
Subject: Plain text
Date: Mon, 23 Nov 2026 08:00:00 +0100
Message-ID: <plain-1@example.org>

Hello Bob,
just a short note.
""")

ALTERNATIVE = _crlf("""\
From: "Shop, Inc." <news@shop.example>
To: Undisclosed recipients:;
Subject: Your weekly deals
Date: Tue, 24 Nov 2026 07:15:00 -0500
Message-ID: <deals-42@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1_alt"

This is a multi-part message in MIME format.
--b1_alt
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Deals of the week =E2=80=93 50% off!
--b1_alt
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<html><body><p>Deals of the week =E2=80=93 <b>50% off</b>!</p></body></html>
--b1_alt--
""")

MIXED = _crlf("""\
From: Carol <carol@example.net>
To: Alice <alice@example.org>, "Bob B." <bob@example.org>
Cc: team@example.org
Reply-To: carol+replies@example.net
Subject: Q3 report and photos
Date: Wed, 25 Nov 2026 16:45:12 +0000
Message-ID: <q3-report@example.net>
In-Reply-To: <q3-request@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed-xyz"

--mixed-xyz
Content-Type: multipart/alternative; boundary="alt-xyz"

--alt-xyz
Content-Type: text/plain; charset="us-ascii"

See attached.
--alt-xyz
Content-Type: text/html; charset="us-ascii"

<p>See attached.</p>
--alt-xyz--

--mixed-xyz
Content-Type: application/pdf; name="Q3 report.pdf"
Content-Disposition: attachment; filename="Q3 report.pdf"; size=24
Content-Transfer-Encoding: base64
Content-Description: The report

JVBERi0xLjQKJcfsj6IKMSAwIG9iago=
--mixed-xyz
Content-Type: image/jpeg; name=photo.jpg
Content-Disposition: inline; filename=photo.jpg
Content-ID: <photo1@example.net>
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////
--mixed-xyz--
""")

FORWARD = _crlf("""\
From: Dave <dave@example.org>
To: alice@example.org
Subject: Fwd: Meeting notes
Date: Thu, 26 Nov 2026 09:00:00 +0200
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain

Forwarding the notes below.
--fwd
Content-Type: message/rfc822
Content-Disposition: inline

From: Erin <erin@example.com>
To: dave@example.org
Subject: Meeting notes
Date: Wed, 25 Nov 2026 18:00:00 +0000
Message-ID: <notes@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Action items: caf=E9 budget.
--inner
Content-Type: text/csv; name=items.csv
Content-Disposition: attachment; filename=items.csv

a,b,c
1,2,3
--inner--
--fwd--
""")

NON_ASCII = _crlf("""\
From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>
To: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>, "=?UTF-8?B?5bGx55Sw?=" <yamada@example.jp>
Subject: =?UTF-8?B?w5xiZXIgZGllIFLDvGNrZ2FiZQ==?= =?UTF-8?Q?_=E2=9C=93?=
Date: Fri, 27 Nov 2026 11:11:11 +0100
Message-ID: <umlaut@example.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße aus München – bis bald!
""")

RAW_8BIT_HEADER = _crlf("""\
From: Zoë <zoe@example.org>
To: bob@example.org
Subject: Café ☕ ohne Kodierung
Date: Sat, 28 Nov 2026 10:00:00 +0000

Body with 8-bit header.
""")

GROUP_AND_ODD_ADDRESSES = _crlf("""\
From: "Last, First" <first.last@example.org>
Sender: list-bounces@lists.example.org
To: Friends: anna@example.org, "Ben (work)" <ben@example.org>;, undisclosed:;
Cc: <bare@example.org>, noname@example.org (comment here)
Bcc: hidden@example.org
Subject: Groups
Date: 29 Nov 2026 12:00 -0000
Message-ID: <groups@example.org>
In-Reply-To: <a@b> <c@d>

Groups and comments.
""")

MISSING_HEADERS = _crlf("""\
X-Nothing: here

No From, no Date, no Subject.
""")

NO_BODY = b"Subject: header only\r\nFrom: a@example.org\r\n"

UNTERMINATED = _crlf("""\
From: broken@example.org
Subject: Unterminated multipart
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="never-ends"

--never-ends
Content-Type: text/plain

first part
--never-ends
Content-Type: text/plain

second part, and then the message just stops
""")

NO_BOUNDARY = _crlf("""\
From: broken@example.org
Subject: Multipart without a boundary
MIME-Version: 1.0
Content-Type: multipart/mixed

--x
Content-Type: text/plain

hi
--x--
""")

MISSING_CHARSET = _crlf("""\
From: a@example.org
Subject: Missing charset and odd type
MIME-Version: 1.0
Content-Type: TEXT/HTML
Content-Transfer-Encoding: QUOTED-PRINTABLE

<b>bold</b>
""")

ODD_PARAMS = _crlf("""\
From: a@example.org
Subject: RFC 2231 parameters
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=simple

--simple
Content-Type: application/octet-stream;
 name*0="very long ";
 name*1="name.bin"
Content-Disposition: attachment;
 filename*=UTF-8''%E2%82%AC%20rates.bin
Content-Language: en, de
Content-Location: http://example.org/rates.bin

AAAA
--simple
Content-Type: text/plain; format=flowed; delsp=yes; charset="UTF-8"
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

flowed text
--simple--
""")

DIGEST = _crlf("""\
From: digest@lists.example.org
Subject: Digest
MIME-Version: 1.0
Content-Type: multipart/digest; boundary="dg"

--dg

From: one@example.org
Subject: first

one
--dg

From: two@example.org
Subject: second

two
--dg--
""")

BARE_LF = (b"From: lf@example.org\nSubject: bare LF line ends\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
           b"--b\nContent-Type: text/plain\n\nline\n--b--\n")

LONG_FOLDED = _crlf("""\
From: a@example.org
To: one@example.org, two@example.org, three@example.org, four@example.org,
 five@example.org, six@example.org
Subject: A subject that is folded
 over two lines
Date: Sun, 29 Nov 2026 23:59:59 -1200

folded
""")

CORPUS = [
    ("plain", PLAIN),
    ("alternative", ALTERNATIVE),
    ("mixed", MIXED),
    ("forward", FORWARD),
    ("non_ascii", NON_ASCII),
    ("raw_8bit_header", RAW_8BIT_HEADER),
    ("groups", GROUP_AND_ODD_ADDRESSES),
    ("missing_headers", MISSING_HEADERS),
    ("no_body", NO_BODY),
    ("unterminated", UNTERMINATED),
    ("no_boundary", NO_BOUNDARY),
    ("missing_charset", MISSING_CHARSET),
    ("odd_params", ODD_PARAMS),
    ("digest", DIGEST),
    ("bare_lf", BARE_LF),
    ("long_folded", LONG_FOLDED),
]
