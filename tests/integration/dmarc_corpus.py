"""The DMARC cases test_dmarc_opendmarc.py puts to mailhub and to
OpenDMARC: each case is its _dmarc TXT records (served by unbound), the
From: domain, and the SPF and DKIM results that came before DMARC.

"$O" in a case stands for its own organisational domain ("dm007.com",
or under another public suffix: "dm007.co.uk"), so cases never meet;
"$U" is the same in upper case.

DIVERGENT lists the cases where OpenDMARC 1.4.2 departs from RFC 7489;
the test checks that mailhub gives the RFC's answer and OpenDMARC its
own, so a change on either side shows.
"""


class Case:
    def __init__(self, name, records, from_domain="$O", spf=None, dkim=(), suffix="com",
                 note=""):
        self.name = name
        self.records = records      # [(owner, txt or (txt strings))]
        self.from_domain = from_domain
        self.spf = spf              # (result, domain) or None
        self.dkim = list(dkim)      # [(result, d=)]
        self.suffix = suffix
        self.note = note


def rec(text, owner="_dmarc.$O"):
    return (owner, text)


CASES = []

# ---- every policy, both alignment modes, the ways an identifier passes or
# fails to align (RFC 7489 §3.1)
SCENARIOS = [
    ("dkim-exact", dict(dkim=[("pass", "$O")])),
    ("dkim-parent-d", dict(from_domain="news.$O", dkim=[("pass", "$O")])),
    ("spf-parent", dict(from_domain="news.$O", spf=("pass", "$O"))),
    ("spf-exact", dict(spf=("pass", "$O"))),
    ("nothing-passes", dict(spf=("fail", "$O"), dkim=[("fail", "$O")])),
    ("spf-other-org", dict(spf=("pass", "other-$O"))),
]
# A signature or SPF domain below the From: domain: relaxed alignment
# (strict is in DIVERGENT: OpenDMARC aligns it too)
BELOW = [
    ("dkim-subdomain-d", dict(dkim=[("pass", "mail.$O")])),
    ("spf-subdomain", dict(spf=("pass", "bounce.$O"))),
]
for p in ("none", "quarantine", "reject"):
    for mode in ("r", "s"):
        for sname, kw in SCENARIOS + (BELOW if mode == "r" else []):
            CASES.append(Case(f"p-{p}-{mode}-{sname}",
                              [rec(f"v=DMARC1; p={p}; adkim={mode}; aspf={mode}")], **kw))

CASES += [
    # ---- alignment details
    Case("dkim-from-subdomain-relaxed", [rec("v=DMARC1; p=reject")], from_domain="news.$O",
         dkim=[("pass", "$O")]),
    Case("dkim-from-subdomain-strict", [rec("v=DMARC1; p=reject; adkim=s")],
         from_domain="news.$O", dkim=[("pass", "$O")]),
    Case("dkim-sibling-relaxed", [rec("v=DMARC1; p=reject")], from_domain="a.$O",
         dkim=[("pass", "b.$O")]),
    Case("spf-sibling-relaxed", [rec("v=DMARC1; p=reject")], from_domain="a.$O",
         spf=("pass", "b.$O")),
    Case("dkim-fail-aligned", [rec("v=DMARC1; p=reject")], dkim=[("fail", "$O")]),
    Case("dkim-unaligned-pass", [rec("v=DMARC1; p=reject")], dkim=[("pass", "other-$O")]),
    Case("spf-softfail-aligned", [rec("v=DMARC1; p=reject")], spf=("softfail", "$O")),
    Case("spf-neutral-aligned", [rec("v=DMARC1; p=quarantine")], spf=("neutral", "$O")),
    Case("spf-unaligned-dkim-aligned", [rec("v=DMARC1; p=reject")],
         spf=("pass", "other-$O"), dkim=[("pass", "$O")]),
    Case("spf-aligned-dkim-unaligned", [rec("v=DMARC1; p=reject")],
         spf=("pass", "$O"), dkim=[("pass", "other-$O")]),
    Case("two-dkim-second-aligned", [rec("v=DMARC1; p=reject")],
         dkim=[("pass", "other-$O"), ("pass", "$O")]),
    Case("two-dkim-aligned-fails", [rec("v=DMARC1; p=reject")],
         dkim=[("fail", "$O"), ("pass", "other-$O")]),
    Case("dkim-case", [rec("v=DMARC1; p=reject; adkim=s")], dkim=[("pass", "$U")],
         note="d= compared without case ($U: the domain in upper case)"),
    Case("couk-relaxed", [rec("v=DMARC1; p=reject")], from_domain="a.$O",
         dkim=[("pass", "$O")], suffix="co.uk"),
    Case("couk-other-org", [rec("v=DMARC1; p=reject")], from_domain="$O",
         dkim=[("pass", "other-$O")], suffix="co.uk"),
    Case("couk-sub-d", [rec("v=DMARC1; p=quarantine")], from_domain="$O",
         dkim=[("pass", "x.$O")], suffix="co.uk"),
    Case("couk-strict", [rec("v=DMARC1; p=reject; adkim=s")], from_domain="xx.$O",
         dkim=[("pass", "$O")], suffix="co.uk"),
    Case("org-suffix", [rec("v=DMARC1; p=reject")], from_domain="a.b.$O",
         spf=("pass", "c.$O"), suffix="org"),

    # ---- which policy: p=, sp= for subdomains under the organisational
    # domain's record (§6.6.3)
    Case("sp-none", [rec("v=DMARC1; p=reject; sp=none")], from_domain="sub.$O",
         spf=("fail", "sub.$O")),
    Case("sp-quarantine", [rec("v=DMARC1; p=reject; sp=quarantine")], from_domain="sub.$O"),
    Case("sp-reject", [rec("v=DMARC1; p=none; sp=reject")], from_domain="sub.$O"),
    Case("sp-absent-p-applies", [rec("v=DMARC1; p=quarantine")], from_domain="sub.$O"),
    Case("sp-not-for-org", [rec("v=DMARC1; p=none; sp=reject")]),
    Case("sub-own-record", [rec("v=DMARC1; p=none", "_dmarc.sub.$O"),
                            rec("v=DMARC1; p=reject")], from_domain="sub.$O"),
    Case("sub-own-record-sp-ignored", [rec("v=DMARC1; p=quarantine; sp=none",
                                           "_dmarc.sub.$O")], from_domain="sub.$O"),
    Case("deep-sub-org-record", [rec("v=DMARC1; p=reject; sp=quarantine")],
         from_domain="a.b.c.$O"),
    Case("sp-pass", [rec("v=DMARC1; p=reject; sp=reject")], from_domain="sub.$O",
         dkim=[("pass", "$O")]),

    # ---- pct= (§6.6.4)
    Case("pct-100", [rec("v=DMARC1; p=reject; pct=100")]),
    Case("pct-0-quarantine", [rec("v=DMARC1; p=quarantine; pct=0")]),
    Case("pct-0-none", [rec("v=DMARC1; p=none; pct=0")]),
    Case("pct-0-pass", [rec("v=DMARC1; p=reject; pct=0")], dkim=[("pass", "$O")]),

    # ---- no policy
    Case("no-record", []),
    Case("no-record-sub", [], from_domain="sub.$O"),
    Case("not-dmarc-txt", [rec("hello world")]),
    Case("not-dmarc-txt-org-has", [rec("site-verification=x", "_dmarc.sub.$O"),
                                   rec("v=DMARC1; p=reject")], from_domain="sub.$O"),
    Case("record-elsewhere", [rec("v=DMARC1; p=reject", "$O")]),

    # ---- record syntax (§6.4)
    Case("spaces", [rec("v=DMARC1 ; p = reject ; adkim = s")], from_domain="xx.$O",
         dkim=[("pass", "$O")]),
    Case("no-spaces", [rec("v=DMARC1;p=quarantine;aspf=s")], from_domain="xx.$O",
         spf=("pass", "$O")),
    Case("trailing-semicolon", [rec("v=DMARC1; p=reject;")]),
    Case("unknown-tag", [rec("v=DMARC1; p=reject; foo=bar; np=none")]),
    Case("report-tags", [rec("v=DMARC1; p=quarantine; rua=mailto:a@$O,mailto:b@$O!10m; "
                             "ruf=mailto:f@$O; fo=1:d; rf=afrf; ri=3600")]),
    Case("policy-case", [rec("v=DMARC1; p=REJECT")]),
    Case("two-strings", [rec(("v=DMARC1; ", "p=reject; adkim=s"))], from_domain="ss.$O",
         dkim=[("pass", "$O")]),
    Case("bad-adkim", [rec("v=DMARC1; p=reject; adkim=x")]),
    Case("bad-aspf", [rec("v=DMARC1; p=reject; aspf=q")]),
    Case("pct-101", [rec("v=DMARC1; p=reject; pct=101")]),
    Case("bad-fo", [rec("v=DMARC1; p=reject; fo=2")]),
    Case("bad-ri", [rec("v=DMARC1; p=reject; ri=soon")]),
    Case("rua-twice", [rec("v=DMARC1; p=reject; rua=mailto:a@$O; rua=mailto:b@$O")]),
]

# Where OpenDMARC 1.4.2 departs from RFC 7489: (case, mailhub's RFC
# answer as (result, p, dis), OpenDMARC's, why).
DIVERGENT = [
    (Case("pct-0-reject", [rec("v=DMARC1; p=reject; pct=0")]),
     ("fail", "reject", "quarantine"), ("fail", "reject", "none"),
     "§6.6.4: out of the sample, reject becomes quarantine; OpenDMARC "
     "delivers as if p=none"),
    (Case("two-records", [rec("v=DMARC1; p=reject"), rec("v=DMARC1; p=none")]),
     ("none", "none", "none"), None,
     "§6.6.3: more than one record and discovery ends; OpenDMARC takes one "
     "of them (whichever the DNS gives first)"),
    (Case("version-not-first", [rec("p=reject; v=DMARC1")]),
     ("none", "none", "none"), ("fail", "reject", "reject"),
     "§6.3: v=DMARC1 first or the record is ignored; OpenDMARC finds it anywhere"),
    (Case("version-2", [rec("v=DMARC2; p=reject")]),
     ("none", "none", "none"), ("permerror", None, None),
     "§6.3: another version is not a DMARC record; OpenDMARC says permerror"),
    (Case("no-p-with-rua", [rec("v=DMARC1; rua=mailto:r@$O")]),
     ("fail", "none", "none"), ("permerror", None, None),
     "§6.6.3: no p= but a rua= counts as p=none"),
    (Case("no-p-no-rua", [rec("v=DMARC1; adkim=s")]),
     ("none", "none", "none"), ("permerror", None, None),
     "§6.6.3: no p= and no rua=: DMARC does not apply"),
    (Case("p-prefix", [rec("v=DMARC1; p=rej")]),
     ("none", "none", "none"), ("fail", "reject", "reject"),
     "§6.4: p= is one of three words; OpenDMARC takes any prefix of one"),
    (Case("pct-not-number", [rec("v=DMARC1; p=quarantine; pct=abc")]),
     ("permerror", None, None), ("fail", "quarantine", "none"),
     "§6.4: pct is 1*3DIGIT; OpenDMARC reads 'abc' as 0"),
    (Case("dkim-d-is-suffix", [rec("v=DMARC1; p=reject")], dkim=[("pass", "com")]),
     ("fail", "reject", "reject"), ("pass", "reject", "none"),
     "§3.2: 'com' is a public suffix, not the organisational domain of "
     "$O; OpenDMARC's relaxed check takes any parent name as aligned"),
    (Case("dmarc-and-other-txt", [rec("v=DMARC1; p=quarantine"), rec("other text")]),
     ("fail", "quarantine", "quarantine"), None,
     "§6.6.3: other TXT records beside the DMARC one are ignored; OpenDMARC "
     "misreads the answer when one comes first (so its verdict depends on "
     "the order the DNS gives)"),
    (Case("one-letter-label-strict", [rec("v=DMARC1; p=reject; adkim=s")],
          from_domain="x.$O", dkim=[("pass", "$O")]),
     ("fail", "reject", "reject"), ("pass", "reject", "none"),
     "§3.1.1: x.$O is not $O; OpenDMARC's name reversal drops a one-letter "
     "leftmost label, so it sees the same name"),
    (Case("dns-failure", [], from_domain="$O.fail.test"),
     ("temperror", None, None), ("none", "none", "none"),
     "§6.6.3 and §11.2: a DNS failure is temperror; OpenDMARC says none"),
] + [
    (Case(f"strict-{p}-{sname}", [rec(f"v=DMARC1; p={p}; adkim=s; aspf=s")], **kw),
     ("fail", p, p), ("pass", p, "none"),
     "§3.1.1: strict alignment wants the same name; OpenDMARC also takes a "
     "signature or SPF domain whose organisational domain is the From: domain")
    for p in ("none", "quarantine", "reject") for sname, kw in BELOW
]
