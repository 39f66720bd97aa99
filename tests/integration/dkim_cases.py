"""The corpus of tests/integration/test_dkim_verify.py: keys and their DNS
records, messages, the signers (dkimpy, and a small one of our own for
tags dkimpy cannot write), the ways a signed message is changed, and the
cases where mailhub keeps to RFC 6376 / RFC 8301 and dkimpy does not.

Every signature is made by dkimpy or with dkimpy's own pieces
(canonicalization, hash_headers, RSASSA-PKCS1-v1_5, PyNaCl), never by the
verifier under test.
"""

import base64
import hashlib
import re
import subprocess
import time

DOMAIN = "sender.test"

BASES = [
    # plain, with a blank line inside and trailing empty lines
    (b"From: Alice <alice@sender.test>\r\n"
     b"To: Bob <bob@rcpt.test>\r\n"
     b"Subject: Lunch on Friday\r\n"
     b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
     b"Message-ID: <base0@sender.test>\r\n"
     b"\r\n"
     b"Hello Bob,\r\n"
     b"\r\n"
     b"are we still on for  lunch at noon?\t\r\n"
     b"Alice\r\n"
     b"\r\n"
     b"\r\n"),
    # folded header fields, odd spacing, MIME
    (b"From: \"Alice Example\"\r\n <alice@sender.test>\r\n"
     b"To: bob@rcpt.test,\r\n\tcarol@rcpt.test\r\n"
     b"Subject:   Report\t for   Q4 \r\n"
     b"Date: Wed, 15 Nov 2023 08:00:00 +0100\r\n"
     b"Message-ID: <base1@sender.test>\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
     b"\r\n"
     b"--b1\r\n"
     b"Content-Type: text/plain; charset=utf-8\r\n"
     b"\r\n"
     b"Figures   attached.  \r\n"
     b"--b1\r\n"
     b"Content-Type: application/octet-stream\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"\r\n"
     b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"
     b"--b1--\r\n"),
    # long lines (under SMTP's 1000), no trailing empty line
    (b"From: alice@sender.test\r\n"
     b"To: bob@rcpt.test\r\n"
     b"Subject: long\r\n"
     b"Message-ID: <base2@sender.test>\r\n"
     b"\r\n" + (b"word " * 150 + b"\r\n") * 20 + b"end\r\n"),
    # an empty body
    (b"From: alice@sender.test\r\n"
     b"To: bob@rcpt.test\r\n"
     b"Subject: empty body\r\n"
     b"Message-ID: <base3@sender.test>\r\n"
     b"\r\n"),
]


def openssl_rsa(bits, path):
    subprocess.run(["openssl", "genrsa", "-out", path, str(bits)], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


def make_keys(dir):
    """{name: (private key as dkimpy takes it, public p= value, k=)}"""
    import nacl.signing
    keys = {}
    for name, bits in (("rsa", 2048), ("r1024", 1024), ("r512", 512)):
        pem, pub = openssl_rsa(bits, f"{dir}/{name}.pem")
        keys[name] = (pem, pub, "rsa")
    sk = nacl.signing.SigningKey.generate()
    keys["ed"] = (base64.b64encode(bytes(sk)), base64.b64encode(bytes(sk.verify_key)).decode(),
                  "ed25519")
    return keys


def key_records(keys):
    """{selector: TXT text}: one selector per key, and variants of the RSA
    and Ed25519 keys that a verifier must treat differently."""
    rsa, ed = keys["rsa"][1], keys["ed"][1]
    recs = {name: f"v=DKIM1; k={k}; p={pub}" for name, (_, pub, k) in keys.items()}
    recs.update({
        "revoked": "v=DKIM1; k=rsa; p=",
        "edrevoked": "v=DKIM1; k=ed25519; p=",
        "wrongtype": f"v=DKIM1; k=ed25519; p={ed}",      # for an RSA signature
        "unknownk": f"v=DKIM1; k=dsa; p={rsa}",
        "dkim2": f"v=DKIM2; k=rsa; p={rsa}",
        "badb64": f"v=DKIM1; k=rsa; p={rsa[:40]}!!{rsa[42:]}",
        "truncated": f"v=DKIM1; k=rsa; p={rsa[:-40]}",
        "nop": "v=DKIM1; k=rsa",
        "nov": f"k=rsa; p={rsa}",
        "strict": f"v=DKIM1; k=rsa; t=s; p={rsa}",
        "testing": f"v=DKIM1; k=rsa; t=y; p={rsa}",
        "sha256": f"v=DKIM1; k=rsa; h=sha256; p={rsa}",
        "sha1only": f"v=DKIM1; k=rsa; h=sha1; p={rsa}",
        "email": f"v=DKIM1; k=rsa; s=email; p={rsa}",
        "star": f"v=DKIM1; k=rsa; s=*; p={rsa}",
        "tlsrpt": f"v=DKIM1; k=rsa; s=tlsrpt; p={rsa}",
        "notes": f"v=DKIM1; k=rsa; n=a note; p={rsa}",
        "spaced": "v=DKIM1; k=rsa; p=" + " ".join(rsa[i:i + 60] for i in range(0, len(rsa), 60)),
    })
    return recs


# (selector, key name, canonicalization, l=): the dkimpy signatures made
# of every base message.  Selectors other than the key's own name say
# which key record the verifier finds.
SIGNERS = [
    ("rsa", "rsa", (b"relaxed", b"relaxed"), False),
    ("rsa", "rsa", (b"relaxed", b"simple"), False),
    ("rsa", "rsa", (b"simple", b"simple"), False),
    ("rsa", "rsa", (b"simple", b"relaxed"), False),
    ("rsa", "rsa", (b"relaxed", b"relaxed"), True),
    ("rsa", "rsa", (b"simple", b"simple"), True),
    ("ed", "ed", (b"relaxed", b"relaxed"), False),
    ("ed", "ed", (b"simple", b"simple"), False),
    ("ed", "ed", (b"relaxed", b"simple"), True),
    ("r1024", "r1024", (b"relaxed", b"relaxed"), False),
    ("r512", "r512", (b"relaxed", b"relaxed"), False),
]

# Signed with the RSA key (or Ed25519 for "ed..."), found under these
# records: once each, unchanged.
KEY_VARIANTS = ["revoked", "wrongtype", "unknownk", "dkim2", "badb64", "truncated", "nop",
                "nov", "testing", "sha256", "email", "star", "tlsrpt", "notes", "spaced",
                "nokey", "edrevoked"]


def dkimpy_sign(msg, selector, key, canon, length, alg, include=None):
    import dkim
    sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), key, canonicalize=canon,
                    signature_algorithm=alg, length=length, include_headers=include)
    return sig + msg


def craft_sign(msg, selector, key, alg=b"rsa-sha256", canon=(b"relaxed", b"relaxed"),
               include=(b"from", b"to", b"subject", b"date", b"message-id"), extra=(),
               omit=(), t=None):
    """A DKIM-Signature with tags dkimpy's signer will not write (x=, a t=
    in the future, missing tags, rsa-sha1...), signed with dkimpy's own
    canonicalization and crypto, so that only the tags are in question."""
    import dkim
    from dkim.canonicalization import CanonicalizationPolicy
    from dkim.crypto import parse_pem_private_key, RSASSA_PKCS1_v1_5_sign
    headers, body = dkim.rfc822_parse(msg)
    policy = CanonicalizationPolicy.from_c_value(b"/".join(canon))
    hasher = hashlib.sha1 if alg == b"rsa-sha1" else hashlib.sha256
    bh = base64.b64encode(hasher(policy.canonicalize_body(body)).digest())
    now = int(time.time()) if t is None else t
    fields = [(b"v", b"1"), (b"a", alg), (b"c", b"/".join(canon)), (b"d", DOMAIN.encode()),
              (b"s", selector.encode()), (b"t", str(now).encode())]
    fields += list(extra)
    fields += [(b"h", b":".join(include)), (b"bh", bh), (b"b", b"")]
    fields = [(k, v) for k, v in fields if k not in omit]
    value = b" " + b"; ".join(k + b"=" + v for k, v in fields)
    h = hasher()
    dkim.hash_headers(h, policy, policy.canonicalize_headers(headers), list(include),
                      (b"DKIM-Signature", value), dict(fields))
    if alg == b"ed25519-sha256":
        import nacl.signing
        sig = nacl.signing.SigningKey(base64.b64decode(key)).sign(h.digest()).signature
    else:
        sig = RSASSA_PKCS1_v1_5_sign(h, parse_pem_private_key(key))
    return b"DKIM-Signature:" + value + base64.b64encode(sig) + b"\r\n" + msg


def craft_cases(now):
    """(name, craft_sign keyword arguments) that both verifiers judge the
    same way."""
    day = 86400
    return [
        ("x= a day ahead", dict(extra=[(b"x", str(now + day).encode())])),
        ("x= two days ago", dict(t=now - 3 * day, extra=[(b"x", str(now - 2 * day).encode())])),
        ("t= a day ahead", dict(t=now + day)),
        ("t= long ago", dict(t=now - 3000 * day)),
        ("no v=", dict(omit=(b"v",))),
        ("no h=", dict(omit=(b"h",))),
        ("no d=", dict(omit=(b"d",))),
        ("no bh=", dict(omit=(b"bh",))),
        ("no a=", dict(omit=(b"a",))),
        ("no c= (simple/simple)", dict(omit=(b"c",), canon=(b"simple", b"simple"))),
        ("c=relaxed alone", dict(canon=(b"relaxed",))),
        ("i= the domain", dict(extra=[(b"i", b"@sender.test")])),
        ("i= a subdomain", dict(extra=[(b"i", b"news@lists.sender.test")])),
        ("i= another domain", dict(extra=[(b"i", b"alice@evil.test")])),
        ("i= a look-alike", dict(extra=[(b"i", b"@xsender.test")])),
        ("q=dns/txt", dict(extra=[(b"q", b"dns/txt")])),
        ("q=unknown", dict(extra=[(b"q", b"http/well-known")])),
        ("v=2", dict(omit=(b"v",), extra=[(b"v", b"2")])),
        ("From signed twice", dict(include=(b"from", b"from", b"subject"))),
        ("h= names absent fields", dict(include=(b"from", b"x-absent", b"subject"))),
        ("unknown tag", dict(extra=[(b"zz", b"anything goes")])),
        ("ed25519 crafted", dict(selector="ed", alg=b"ed25519-sha256")),
        ("i= strict key, exact", dict(selector="strict", extra=[(b"i", b"alice@sender.test")])),
    ]


def divergent_cases(now):
    """RFC rules dkimpy 1.1.4 does not apply: (name, craft arguments,
    mailhub's result, dkimpy's)."""
    return [
        # RFC 6376 §6.1.1: h= must include From
        ("h= without From", dict(include=(b"to", b"subject")), "permerror", True),
        # RFC 6376 §3.6.1 t=s: i= must be d= exactly
        ("i= a subdomain, strict key",
         dict(selector="strict", extra=[(b"i", b"@lists.sender.test")]), "fail", True),
        # RFC 6376 §3.6.1 h=: the key allows only SHA-1
        ("key h=sha1", dict(selector="sha1only"), "permerror", True),
        # RFC 8301 §3.1: rsa-sha1 must not be considered valid
        ("a=rsa-sha1", dict(alg=b"rsa-sha1"), "permerror", True),
        # RFC 6376 §3.5 x=: later than t= (dkimpy's check is dead code)
        ("x= before t=", dict(t=now + 200, extra=[(b"x", str(now + 100).encode())]),
         "permerror", True),
    ]


# ---- changes to a signed message -----------------------------------------

def split(msg):
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 4:]


def join(head, body):
    return head + b"\r\n" + body


def on_body(f):
    def m(msg):
        head, body = split(msg)
        new = f(body)
        return None if new is None or new == body else join(head, new)
    return m


def on_head(f):
    def m(msg):
        head, body = split(msg)
        new = f(head)
        return None if new is None or new == head else join(new, body)
    return m


def replace_once(old, new):
    return lambda s: s.replace(old, new, 1) if old in s else None


def field(head, name):
    """The first field called name (with its folding), or None."""
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + b":"):
            j = i + 1
            while j < len(lines) and lines[j][:1] in (b" ", b"\t"):
                j += 1
            return b"\r\n".join(lines[i:j]) + b"\r\n"
    return None


def add_field_above(name, text=None):
    def f(head):
        fl = field(head, name)
        if fl is None:
            return None
        return (text or fl) + head
    return f


def add_field_below(name):
    def f(head):
        fl = field(head, name)
        if fl is None:
            return None
        return head.replace(fl, fl + fl, 1)
    return f


def swap_fields(a, b):
    def f(head):
        fa, fb = field(head, a), field(head, b)
        if fa is None or fb is None:
            return None
        return head.replace(fa, b"\0", 1).replace(fb, fa, 1).replace(b"\0", fb, 1)
    return f


def sig_edit(f):
    """Changes the first DKIM-Signature field only."""
    def m(msg):
        head, body = split(msg)
        fl = field(head, b"DKIM-Signature")
        if fl is None:
            return None
        new = f(fl)
        return None if new is None or new == fl else join(head.replace(fl, new, 1), body)
    return m


def bump_l(fl):
    m = re.search(rb"l=(\d+)", fl)
    if not m:
        return None
    return fl[:m.start(1)] + str(int(m.group(1)) + 1000).encode() + fl[m.end(1):]


def flip_b64(tag):
    def f(fl):
        i = fl.find(b" " + tag + b"=")
        if i < 0:
            i = fl.find(b";" + tag + b"=")
        if i < 0:
            return None
        j = i + len(tag) + 2
        c = fl[j:j + 1]
        return fl[:j] + (b"A" if c != b"A" else b"B") + fl[j + 1:]
    return f


MUTATIONS = [
    ("unchanged", lambda m: m),
    ("body: a letter changed", on_body(lambda b: (b"X" + b[1:]) if b[:1] not in (b"", b"X") else None)),
    ("body: a line appended", on_body(lambda b: b + b"Appended by a list.\r\n")),
    ("body: empty lines appended", on_body(lambda b: b + b"\r\n\r\n")),
    ("body: emptied", on_body(lambda b: b"" if b.strip() else None)),
    ("body: a space doubled", on_body(replace_once(b" ", b"  "))),
    ("body: space made tab", on_body(replace_once(b" ", b"\t"))),
    ("body: trailing space", on_body(replace_once(b"\r\n", b" \r\n"))),
    ("body: a space removed", on_body(replace_once(b" ", b""))),
    ("body: line end removed at the end", on_body(lambda b: b[:-2] if b.endswith(b"\r\n") and not b.endswith(b"\r\n\r\n") else None)),
    ("header: value white space", on_head(replace_once(b"Subject: ", b"Subject:  \t "))),
    ("header: trailing white space", on_head(lambda h: h.replace(field(h, b"Subject"), field(h, b"Subject")[:-2] + b"  \r\n", 1) if field(h, b"Subject") else None)),
    ("header: name case", on_head(replace_once(b"Subject:", b"SUBJECT:"))),
    ("header: folded", on_head(lambda h: h.replace(field(h, b"Subject"), field(h, b"Subject").replace(b" ", b"\r\n ", 2), 1) if field(h, b"Subject") and b" " in field(h, b"Subject")[9:] else None)),
    ("header: To and Subject swapped", on_head(swap_fields(b"To", b"Subject"))),
    ("header: Subject changed", on_head(replace_once(b"Subject:", b"Subject: Re:"))),
    ("header: Subject added above", on_head(add_field_above(b"Subject", b"Subject: other\r\n"))),
    ("header: Subject added twice below", on_head(add_field_below(b"Subject"))),
    ("header: Date added twice above", on_head(add_field_above(b"Date"))),
    ("header: From changed", on_head(replace_once(b"alice@sender.test", b"mallory@sender.test"))),
    ("header: From added above", on_head(add_field_above(b"From", b"From: Mallory <mallory@evil.test>\r\n"))),
    ("header: unsigned field added", on_head(lambda h: b"X-Added: yes\r\n" + h)),
    ("header: Received prepended", on_head(lambda h: b"Received: from relay.example by mx.example; Tue, 14 Nov 2023 22:13:21 +0000\r\n" + h)),
    ("header: Message-ID removed", on_head(lambda h: h.replace(field(h, b"Message-ID"), b"", 1) if field(h, b"Message-ID") else None)),
    ("all line ends LF", lambda m: m.replace(b"\r\n", b"\n")),
    ("sig: v=2", sig_edit(replace_once(b"v=1", b"v=2"))),
    ("sig: b= not base64", sig_edit(lambda f: f.replace(b" b=", b" b=!", 1) if b" b=" in f else None)),
    ("sig: b= altered", sig_edit(flip_b64(b"b"))),
    ("sig: bh= altered", sig_edit(flip_b64(b"bh"))),
    ("sig: a= unknown", sig_edit(lambda f: f.replace(b"a=rsa-sha256", b"a=rsa-sha512", 1).replace(b"a=ed25519-sha256", b"a=ed448-sha256", 1))),
    ("sig: c= unknown", sig_edit(lambda f: f.replace(b"c=relaxed", b"c=loose", 1).replace(b"c=simple", b"c=plain", 1))),
    ("sig: d= another domain", sig_edit(replace_once(b"d=sender.test", b"d=other.test"))),
    ("sig: s= unknown", sig_edit(lambda f: re.sub(rb"([;\s])s=", rb"\1s=missing", f, 1))),
    ("sig: a tag twice", sig_edit(lambda f: f.replace(b"v=1;", b"v=1; v=1;", 1) if b"v=1;" in f else None)),
    ("sig: l= larger", sig_edit(bump_l)),
    ("sig: l= removed", sig_edit(lambda f: re.sub(rb" ?l=\d+;", b"", f, 1) if b"l=" in f else None)),
]

# A change dkimpy refuses the whole message for (its parser takes no white
# space before a field's colon, RFC 5322 §4.5.3 obs-optional), while RFC
# 6376 §3.4.2 relaxed canonicalization deletes it: mailhub passes a relaxed
# header signature and fails a simple one.
SPACE_BEFORE_COLON = on_head(replace_once(b"To:", b"To :"))
