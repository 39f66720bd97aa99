"""The SPF cases test_spf_pyspf.py puts to mailhub and to pyspf: each case
is its records (served by unbound under its own domain, "$D" in the text),
the client IP, MAIL FROM and HELO.  The cases cover every mechanism and
modifier of RFC 7208, macros with transformers and delimiters, the
lookup, void and MX/PTR limits, record selection, syntax errors, server
failures, the HELO identity, and IPv6.

A record is (owner, type, data) with "$D" for the case's domain; TXT data
is the record's text (split into 255-byte strings when longer).  A case
with `exp=True` also compares the explanation of a fail.

DIVERGENT lists the cases where pyspf 2.0.14 departs from RFC 7208; the
test checks that mailhub gives the RFC's answer and pyspf its own, so a
change on either side shows.
"""

import ipaddress

V4 = "192.0.2.10"
V6 = "2001:db8::10"
NOT_V4 = "198.51.100.7"
NOT_V6 = "2001:db8:ffff::7"


def nibbles(ip, reverse=False):
    """The 32 dot-separated nibbles of an IPv6 address (%{i}, ip6.arpa)."""
    n = list(ipaddress.ip_address(ip).exploded.replace(":", ""))
    return ".".join(reversed(n) if reverse else n)


LONG_L = "a" * 60 + "." + "b" * 10


def spf(text, owner="$D"):
    return (owner, "TXT", text)


def a(owner, addr):
    return (owner, "AAAA" if ":" in addr else "A", addr)


class Case:
    def __init__(self, name, records, ip=V4, sender="user@$D", helo="helo.$D",
                 exp=False, note=""):
        self.name = name
        self.records = records
        self.ip = ip
        self.sender = sender
        self.helo = helo
        self.exp = exp
        self.note = note


CASES = [
    # ---- ip4, ip6, all, qualifiers (RFC 7208 §4.6.2, §5.1, §5.6)
    Case("ip4-exact", [spf("v=spf1 ip4:192.0.2.10 -all")]),
    Case("ip4-cidr24", [spf("v=spf1 ip4:192.0.2.0/24 -all")]),
    Case("ip4-nomatch-fail", [spf("v=spf1 ip4:192.0.2.11 -all")]),
    Case("ip4-nomatch-softfail", [spf("v=spf1 ip4:192.0.2.11 ~all")]),
    Case("ip4-nomatch-neutral", [spf("v=spf1 ip4:192.0.2.11 ?all")]),
    Case("plus-all", [spf("v=spf1 +all")]),
    Case("no-terms", [spf("v=spf1")]),
    Case("no-all-default-neutral", [spf("v=spf1 ip4:198.51.100.0/24")]),
    Case("ip4-slash0", [spf("v=spf1 ip4:0.0.0.0/0 -all")]),
    Case("ip4-slash32-miss", [spf("v=spf1 ip4:192.0.2.9/32 -all")]),
    Case("ip4-hostbits", [spf("v=spf1 ip4:192.0.2.77/24 -all")]),
    Case("ip4-slash31-hit", [spf("v=spf1 ip4:192.0.2.11/31 -all")]),
    Case("ip4-slash31-miss", [spf("v=spf1 ip4:192.0.2.12/31 -all")]),
    Case("ip4-minus", [spf("v=spf1 -ip4:192.0.2.10 +all")]),
    Case("ip4-tilde", [spf("v=spf1 ~ip4:192.0.2.0/28 +all")]),
    Case("ip4-question", [spf("v=spf1 ?ip4:192.0.2.10 -all")]),
    Case("ip4-v6client", [spf("v=spf1 ip4:0.0.0.0/0 -all")], ip=V6),
    Case("ip4-mapped-client", [spf("v=spf1 ip4:192.0.2.10 -all")], ip="::ffff:192.0.2.10"),
    Case("ip6-exact", [spf("v=spf1 ip6:2001:db8::10 -all")], ip=V6),
    Case("ip6-cidr64", [spf("v=spf1 ip6:2001:db8::/64 -all")], ip=V6),
    Case("ip6-cidr48-miss", [spf("v=spf1 ip6:2001:db8:1::/48 -all")], ip=V6),
    Case("ip6-v4client", [spf("v=spf1 ip6:::/0 -all")]),
    Case("ip6-slash0", [spf("v=spf1 ip6:::/0 -all")], ip=V6),
    Case("ip6-slash128-miss", [spf("v=spf1 ip6:2001:db8::11/128 -all")], ip=V6),
    Case("ip6-uppercase", [spf("v=spf1 ip6:2001:DB8:0:0::10 -all")], ip=V6),
    Case("ip6-mapped-net-v4client", [spf("v=spf1 ip6:::ffff:192.0.2.10 -all")]),
    Case("ip6-embedded-v4", [spf("v=spf1 ip6:2001:db8::192.0.2.1/96 -all")], ip=V6),
    Case("mech-case", [spf("v=spf1 IP4:192.0.2.10 -ALL")]),
    Case("spaces", [spf("v=spf1   ip4:192.0.2.10    -all  ")]),
    Case("after-all-ignored", [spf("v=spf1 -all ip4:192.0.2.10")]),

    # ---- a (§5.3)
    Case("a-pass", [spf("v=spf1 a -all"), a("$D", V4)]),
    Case("a-domain", [spf("v=spf1 a:host.$D -all"), a("host.$D", V4)]),
    Case("a-cidr24", [spf("v=spf1 a/24 -all"), a("$D", "192.0.2.200")]),
    Case("a-cidr-miss", [spf("v=spf1 a/30 -all"), a("$D", "192.0.2.200")]),
    Case("a-dual-v6", [spf("v=spf1 a//64 -all"), a("$D", "2001:db8::99")], ip=V6),
    Case("a-dual-both-v4", [spf("v=spf1 a:h.$D/24//64 -all"), a("h.$D", "192.0.2.1")]),
    Case("a-dual-both-v6", [spf("v=spf1 a:h.$D/24//64 -all"),
                            a("h.$D", "2001:db8::1")], ip=V6),
    Case("a-void", [spf("v=spf1 a:none.$D -all")]),
    Case("a-nodata", [spf("v=spf1 a:txtonly.$D -all"), ("txtonly.$D", "TXT", "x")]),
    Case("a-v6-aaaa", [spf("v=spf1 a -all"), a("$D", V6)], ip=V6),
    Case("a-v6-only-a", [spf("v=spf1 a -all"), a("$D", V4)], ip=V6),
    Case("a-several", [spf("v=spf1 a -all"), a("$D", "192.0.2.1"), a("$D", V4)]),
    Case("a-trailing-dot", [spf("v=spf1 a:host.$D. -all"), a("host.$D", V4)]),

    # ---- mx (§5.4)
    Case("mx-pass", [spf("v=spf1 mx -all"), ("$D", "MX", "10 mx.$D"), a("mx.$D", V4)]),
    Case("mx-cidr", [spf("v=spf1 mx/24 -all"), ("$D", "MX", "10 mx.$D"),
                     a("mx.$D", "192.0.2.99")]),
    Case("mx-second", [spf("v=spf1 mx -all"), ("$D", "MX", "10 mx1.$D"),
                       ("$D", "MX", "20 mx2.$D"), a("mx1.$D", "192.0.2.1"),
                       a("mx2.$D", V4)]),
    Case("mx-void", [spf("v=spf1 mx -all")]),
    Case("mx-host-void", [spf("v=spf1 mx -all"), ("$D", "MX", "10 mx.$D")]),
    Case("mx-other", [spf("v=spf1 mx:other.$D -all"), ("other.$D", "MX", "5 mx.other.$D"),
                      a("mx.other.$D", V4)]),
    Case("mx-v6", [spf("v=spf1 mx -all"), ("$D", "MX", "10 mx.$D"), a("mx.$D", V6)], ip=V6),
    Case("mx-v6-cidr", [spf("v=spf1 mx//48 -all"), ("$D", "MX", "10 mx.$D"),
                        a("mx.$D", "2001:db8::1:1")], ip=V6),
    Case("mx-ten", [spf("v=spf1 mx -all")] + [("$D", "MX", f"{i} m{i}.$D") for i in range(10)]
         + [a(f"m{i}.$D", "192.0.2.1") for i in range(9)] + [a("m9.$D", V4)]),
    Case("mx-eleven", [spf("v=spf1 mx -all")] + [("$D", "MX", f"{i} m{i}.$D") for i in range(11)]
         + [a(f"m{i}.$D", V4) for i in range(11)]),
    Case("mx-null", [spf("v=spf1 mx -all"), ("$D", "MX", "0 .")]),
    Case("mx-nomatch-neutral", [spf("v=spf1 mx ?all"), ("$D", "MX", "10 mx.$D"),
                                a("mx.$D", "192.0.2.1")]),

    # ---- ptr (§5.5)
    Case("ptr-pass", [spf("v=spf1 ptr -all"), ("101.2.0.192.in-addr.arpa", "PTR", "mail.$D"),
                      a("mail.$D", "192.0.2.101")], ip="192.0.2.101"),
    Case("ptr-other", [spf("v=spf1 ptr:other.$D -all"),
                       ("102.2.0.192.in-addr.arpa", "PTR", "x.other.$D"),
                       a("x.other.$D", "192.0.2.102")], ip="192.0.2.102"),
    Case("ptr-unvalidated", [spf("v=spf1 ptr -all"),
                             ("103.2.0.192.in-addr.arpa", "PTR", "mail.$D"),
                             a("mail.$D", "192.0.2.1")], ip="192.0.2.103"),
    Case("ptr-none", [spf("v=spf1 ptr -all")], ip="192.0.2.104"),
    Case("ptr-second-name", [spf("v=spf1 ptr -all"),
                             ("105.2.0.192.in-addr.arpa", "PTR", "a.elsewhere.test"),
                             ("105.2.0.192.in-addr.arpa", "PTR", "b.$D"),
                             a("b.$D", "192.0.2.105")], ip="192.0.2.105"),
    Case("ptr-wrong-domain", [spf("v=spf1 ptr -all"),
                              ("106.2.0.192.in-addr.arpa", "PTR", "mail.elsewhere106.test"),
                              a("mail.elsewhere106.test", "192.0.2.106")], ip="192.0.2.106"),
    Case("ptr-exact-domain", [spf("v=spf1 ptr -all"), ("107.2.0.192.in-addr.arpa", "PTR", "$D"),
                              a("$D", "192.0.2.107")], ip="192.0.2.107"),
    Case("ptr-suffix-not-label", [spf("v=spf1 ptr:ail.$D -all"),
                                  ("108.2.0.192.in-addr.arpa", "PTR", "mail.$D"),
                                  a("mail.$D", "192.0.2.108")], ip="192.0.2.108"),
    Case("ptr-v6", [spf("v=spf1 ptr -all"),
                    (nibbles("2001:db8::101", True) + ".ip6.arpa", "PTR", "v6.$D"),
                    a("v6.$D", "2001:db8::101")], ip="2001:db8::101"),
    Case("ptr-eleven", [spf("v=spf1 ptr ~all")]
         + [("109.2.0.192.in-addr.arpa", "PTR", f"p{i}.other109.test") for i in range(11)]
         + [a(f"p{i}.other109.test", "192.0.2.109") for i in range(11)],
         ip="192.0.2.109", note="more than 10 PTR names is not an error (§4.6.4)"),

    # ---- exists (§5.7)
    Case("exists-pass", [spf("v=spf1 exists:e.$D -all"), a("e.$D", "127.0.0.2")]),
    Case("exists-void", [spf("v=spf1 exists:e.$D -all")]),
    Case("exists-ip-macro", [spf("v=spf1 exists:%{i}.e.$D -all"), a(f"{V4}.e.$D", "127.0.0.2")]),
    Case("exists-ir-v", [spf("v=spf1 exists:%{ir}.%{v}.e.$D -all"),
                         a("10.2.0.192.in-addr.e.$D", "127.0.0.2")]),
    Case("exists-v6-a-query", [spf("v=spf1 exists:e.$D -all"), a("e.$D", "127.0.0.2")], ip=V6),
    Case("exists-v6-aaaa-only", [spf("v=spf1 exists:e.$D -all"), a("e.$D", "2001:db8::1")],
         ip=V6),
    Case("exists-l", [spf("v=spf1 exists:%{l}.e.$D -all"), a("user.e.$D", "127.0.0.2")]),
    Case("exists-o", [spf("v=spf1 exists:%{o}.e.$D -all"), a("$D.e.$D", "127.0.0.2")]),
    Case("exists-h", [spf("v=spf1 exists:%{h}.e.$D -all"), a("helo.$D.e.$D", "127.0.0.2")]),

    # ---- include (§5.2)
    Case("include-pass", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 ip4:192.0.2.10 -all", "i.$D")]),
    Case("include-fail-continues", [spf("v=spf1 include:i.$D ip4:192.0.2.10 -all"),
                                    spf("v=spf1 -all", "i.$D")]),
    Case("include-fail-then-fail", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 -all", "i.$D")]),
    Case("include-softfail", [spf("v=spf1 include:i.$D ?all"), spf("v=spf1 ~all", "i.$D")]),
    Case("include-neutral", [spf("v=spf1 include:i.$D ~all"), spf("v=spf1 ?all", "i.$D")]),
    Case("minus-include-pass", [spf("v=spf1 -include:i.$D +all"), spf("v=spf1 +all", "i.$D")]),
    Case("tilde-include-pass", [spf("v=spf1 ~include:i.$D -all"), spf("v=spf1 +all", "i.$D")]),
    Case("include-none", [spf("v=spf1 include:i.$D -all"), ("i.$D", "TXT", "not spf")]),
    Case("include-nxdomain", [spf("v=spf1 include:nowhere.$D -all")]),
    Case("include-permerror", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 bogus -all", "i.$D")]),
    Case("include-loop", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 include:$D -all", "i.$D")]),
    Case("include-self", [spf("v=spf1 include:$D -all")]),
    Case("include-nested3", [spf("v=spf1 include:i1.$D -all"), spf("v=spf1 include:i2.$D -all", "i1.$D"),
                             spf("v=spf1 include:i3.$D -all", "i2.$D"),
                             spf("v=spf1 ip4:192.0.2.10 -all", "i3.$D")]),
    Case("include-nested-fail-inner", [spf("v=spf1 include:i1.$D ~all"),
                                       spf("v=spf1 include:i2.$D ip4:192.0.2.10 -all", "i1.$D"),
                                       spf("v=spf1 -all", "i2.$D")]),
    Case("include-redirect", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 redirect=r.$D", "i.$D"),
                              spf("v=spf1 ip4:192.0.2.10 -all", "r.$D")]),
    Case("include-mx", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 mx -all", "i.$D"),
                        ("i.$D", "MX", "10 mx.i.$D"), a("mx.i.$D", V4)]),
    Case("include-domain-macro", [spf("v=spf1 include:i.$D -all"),
                                  spf("v=spf1 exists:%{d}.check.$D -all", "i.$D"),
                                  a("i.$D.check.$D", "127.0.0.2")],
         note="%{d} inside an include is the included domain"),
    Case("include-two-records", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 +all", "i.$D"),
                                 spf("v=spf1 -all", "i.$D")]),
    Case("include-tempfail", [spf("v=spf1 include:x.$D.fail.test -all")]),

    # ---- redirect (§6.1)
    Case("redirect-pass", [spf("v=spf1 redirect=r.$D"), spf("v=spf1 ip4:192.0.2.10 -all", "r.$D")]),
    Case("redirect-fail", [spf("v=spf1 redirect=r.$D"), spf("v=spf1 -all", "r.$D")]),
    Case("redirect-none", [spf("v=spf1 redirect=nowhere.$D")]),
    Case("redirect-not-spf", [spf("v=spf1 redirect=r.$D"), ("r.$D", "TXT", "hello")]),
    Case("redirect-ignored-by-all", [spf("v=spf1 -all redirect=r.$D"), spf("v=spf1 +all", "r.$D")]),
    Case("redirect-after-match", [spf("v=spf1 ip4:192.0.2.10 redirect=r.$D"), spf("v=spf1 -all", "r.$D")]),
    Case("redirect-chain", [spf("v=spf1 redirect=r1.$D"), spf("v=spf1 redirect=r2.$D", "r1.$D"),
                            spf("v=spf1 ~all", "r2.$D")]),
    Case("redirect-loop", [spf("v=spf1 redirect=r.$D"), spf("v=spf1 redirect=$D", "r.$D")]),
    Case("redirect-d-macro", [spf("v=spf1 redirect=r.$D"), spf("v=spf1 exists:%{d}.x.$D -all", "r.$D"),
                              a("r.$D.x.$D", "127.0.0.2")]),
    Case("redirect-first-in-record", [spf("v=spf1 redirect=r.$D ip4:192.0.2.10"), spf("v=spf1 -all", "r.$D")]),
    Case("redirect-permerror", [spf("v=spf1 redirect=r.$D"), spf("v=spf1 ip4:bad", "r.$D")]),
    Case("redirect-tempfail", [spf("v=spf1 redirect=r.fail.test")]),
    Case("redirect-macro-target", [spf("v=spf1 redirect=%{l}.r.$D"),
                                   spf("v=spf1 ip4:192.0.2.10 -all", "user.r.$D")]),

    # ---- exp (§6.2)
    Case("exp-static", [spf("v=spf1 -all exp=e.$D"), ("e.$D", "TXT", "go away")], exp=True),
    Case("exp-macros", [spf("v=spf1 -all exp=e.$D"),
                        ("e.$D", "TXT", "%{s} from %{i} is not allowed by %{d} (%{o})")], exp=True),
    Case("exp-c-r", [spf("v=spf1 -all exp=e.$D"), ("e.$D", "TXT", "client %{c} at %{r}")], exp=True),
    Case("exp-c-v6", [spf("v=spf1 -all exp=e.$D"), ("e.$D", "TXT", "client %{c} via %{v}")],
         ip=V6, exp=True),
    Case("exp-missing", [spf("v=spf1 -all exp=e.$D")], exp=False),
    Case("exp-two-txt", [spf("v=spf1 -all exp=e.$D"), ("e.$D", "TXT", "one"), ("e.$D", "TXT", "two")]),
    Case("exp-after-redirect", [spf("v=spf1 redirect=r.$D exp=e1.$D"),
                                spf("v=spf1 -all exp=e2.$D", "r.$D"), ("e1.$D", "TXT", "first"),
                                ("e2.$D", "TXT", "second %{d}")], exp=True),
    Case("exp-in-include-ignored", [spf("v=spf1 include:i.$D -all exp=e1.$D"),
                                    spf("v=spf1 -all exp=e2.$D", "i.$D"),
                                    ("e1.$D", "TXT", "outer"), ("e2.$D", "TXT", "inner")], exp=True),
    Case("exp-domain-macro", [spf("v=spf1 -all exp=%{d}.e.$D"), ("$D.e.$D", "TXT", "macro name")],
         exp=True),
    Case("exp-bad-domain-spec", [spf("v=spf1 -all exp=e")]),
    Case("exp-escapes", [spf("v=spf1 -all exp=e.$D"), ("e.$D", "TXT", "100%% sure%_no%-way")],
         exp=True),
    Case("exp-transformers", [spf("v=spf1 -all exp=e.$D"), ("e.$D", "TXT", "%{d2} %{ir} %{l1r-}")],
         sender="first-last@$D", exp=True),
    Case("exp-not-on-softfail", [spf("v=spf1 ~all exp=e.$D"), ("e.$D", "TXT", "only on fail")]),
    Case("exp-tempfail", [spf("v=spf1 -all exp=x.fail.test")]),

    # ---- macros (§7)
    Case("macro-d2", [spf("v=spf1 exists:%{d2}.m.$D -all"), a("$D.m.$D", "127.0.0.2")],
         note="$D has two labels"),
    Case("macro-d1", [spf("v=spf1 exists:%{d1}.m.$D -all"), a("test.m.$D", "127.0.0.2")]),
    Case("macro-dr", [spf("v=spf1 exists:%{dr}.m.$D -all"), a("test.{ID}.m.$D", "127.0.0.2")]),
    Case("macro-d1r", [spf("v=spf1 exists:%{d1r}.m.$D -all"), a("{ID}.m.$D", "127.0.0.2")]),
    Case("macro-l-dash", [spf("v=spf1 exists:%{l-}.m.$D -all"), a("first.last.m.$D", "127.0.0.2")],
         sender="first-last@$D"),
    Case("macro-lr-dash", [spf("v=spf1 exists:%{lr-}.m.$D -all"), a("last.first.m.$D", "127.0.0.2")],
         sender="first-last@$D"),
    Case("macro-l1r-dash", [spf("v=spf1 exists:%{l1r-}.m.$D -all"), a("first.m.$D", "127.0.0.2")],
         sender="first-last@$D"),
    Case("macro-l-plus", [spf("v=spf1 exists:%{l+}.m.$D -all"), a("a.b.m.$D", "127.0.0.2")],
         sender="a+b@$D"),
    Case("macro-l2", [spf("v=spf1 exists:%{l2}.m.$D -all"), a("b.c.m.$D", "127.0.0.2")],
         sender="a.b.c@$D"),
    Case("macro-l-multi-delims", [spf("v=spf1 exists:%{l-+_}.m.$D -all"),
                                  a("a.b.c.d.m.$D", "127.0.0.2")], sender="a-b+c_d@$D"),
    Case("macro-ir-v-spf-d2", [spf("v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all"),
                               a("10.2.0.192.in-addr._spf.$D", "127.0.0.2")]),
    Case("macro-i-v6", [spf("v=spf1 exists:%{i}.m.$D -all"),
                        a(nibbles(V6) + ".m.$D", "127.0.0.2")], ip=V6),
    Case("macro-ir-v6", [spf("v=spf1 exists:%{ir}.%{v}.m.$D -all"),
                         a(nibbles(V6, True) + ".ip6.m.$D", "127.0.0.2")], ip=V6),
    Case("macro-upper-escape", [spf("v=spf1 exists:%{L}.m.$D -all"), a("a%2Bb.m.$D", "127.0.0.2")],
         sender="a+b@$D"),
    Case("macro-p-validated", [spf("v=spf1 exists:%{p}.m.$D -all"),
                               ("110.2.0.192.in-addr.arpa", "PTR", "host.$D"),
                               a("host.$D", "192.0.2.110"), a("host.$D.m.$D", "127.0.0.2")],
         ip="192.0.2.110"),
    Case("macro-p-unknown", [spf("v=spf1 exists:%{p}.m.$D -all"), a("unknown.m.$D", "127.0.0.2")],
         ip="192.0.2.111"),
    Case("macro-percent-escapes", [spf("v=spf1 exists:x%%y%_z.m.$D -all")]),
    Case("macro-bad-letter", [spf("v=spf1 exists:%{x}.m.$D -all")]),
    Case("macro-c-outside-exp", [spf("v=spf1 exists:%{c}.m.$D -all")]),
    Case("macro-r-outside-exp", [spf("v=spf1 a:%{r}.m.$D -all")]),
    Case("macro-bare-percent", [spf("v=spf1 exists:a%b.m.$D -all")]),
    Case("macro-in-a", [spf("v=spf1 a:%{l}.h.$D -all"), a("user.h.$D", V4)]),
    Case("macro-in-mx", [spf("v=spf1 mx:%{d} -all"), ("$D", "MX", "1 mx.$D"), a("mx.$D", V4)]),
    Case("macro-in-include", [spf("v=spf1 include:%{l}.i.$D -all"),
                              spf("v=spf1 +all", "user.i.$D")]),
    Case("macro-postmaster", [spf("v=spf1 exists:%{l}.m.$D -all"), a("postmaster.m.$D", "127.0.0.2")],
         sender="@$D"),
    Case("macro-long-truncated", [spf("v=spf1 exists:%{l}.%{l}.%{l}.%{l}.m.$D -all"),
                                  a("b" * 10 + "." + ".".join([LONG_L] * 3) + ".m.$D",
                                    "127.0.0.2")],
         sender=LONG_L + "@$D",
         note="expands past 253 bytes: labels cut from the left (§7.3)"),
    Case("macro-exists-ends-in-macro", [spf("v=spf1 exists:m.$D.%{d1} -all")]),
    Case("macro-unknown-modifier-ok", [spf("v=spf1 x-note=%{d}.ok ip4:192.0.2.10 -all")]),
    Case("macro-unknown-modifier-bad", [spf("v=spf1 x-note=%{z} ip4:192.0.2.10 -all")]),

    # ---- lookup and void limits (§4.6.4)
    Case("lookups-ten", [spf("v=spf1 " + " ".join(f"a:n{i}.$D" for i in range(10))
                             + " ip4:192.0.2.10 -all")]
         + [a(f"n{i}.$D", "192.0.2.1") for i in range(10)]),
    Case("lookups-eleven", [spf("v=spf1 " + " ".join(f"a:n{i}.$D" for i in range(11)) + " -all")]
         + [a(f"n{i}.$D", "192.0.2.1") for i in range(11)]),
    Case("lookups-eleven-match-before", [spf("v=spf1 ip4:192.0.2.10 "
                                             + " ".join(f"a:n{i}.$D" for i in range(11)) + " -all")]),
    Case("lookups-includes-ten", [spf("v=spf1 " + " ".join(f"include:i{i}.$D" for i in range(10))
                                      + " -all")]
         + [spf("v=spf1 ?all", f"i{i}.$D") for i in range(10)]),
    Case("lookups-includes-eleven", [spf("v=spf1 " + " ".join(f"include:i{i}.$D" for i in range(11))
                                         + " -all")]
         + [spf("v=spf1 ?all", f"i{i}.$D") for i in range(11)]),
    Case("lookups-nested-count", [spf("v=spf1 include:i.$D a:n9.$D a:n10.$D -all"),
                                  spf("v=spf1 " + " ".join(f"a:n{i}.$D" for i in range(9)) + " ?all",
                                      "i.$D")]
         + [a(f"n{i}.$D", "192.0.2.1") for i in range(11)]),
    Case("lookups-ip-not-counted", [spf("v=spf1 " + " ".join(f"a:n{i}.$D" for i in range(10))
                                        + " ip4:192.0.2.1 ip6:2001:db8::1 ip4:192.0.2.10 -all")]
         + [a(f"n{i}.$D", "192.0.2.1") for i in range(10)]),
    Case("lookups-redirect-counts", [spf("v=spf1 " + " ".join(f"a:n{i}.$D" for i in range(10))
                                         + " redirect=r.$D"), spf("v=spf1 +all", "r.$D")]
         + [a(f"n{i}.$D", "192.0.2.1") for i in range(10)]),
    Case("void-two", [spf("v=spf1 a:v1.$D a:v2.$D ip4:192.0.2.10 -all")]),
    Case("void-three", [spf("v=spf1 a:v1.$D a:v2.$D a:v3.$D ip4:192.0.2.10 -all")]),
    Case("void-mixed", [spf("v=spf1 mx:v1.$D exists:v2.$D a:v3.$D ip4:192.0.2.10 -all")]),
    Case("void-mx-hosts", [spf("v=spf1 mx ip4:192.0.2.10 -all"), ("$D", "MX", "1 h1.$D"),
                           ("$D", "MX", "2 h2.$D"), ("$D", "MX", "3 h3.$D")]),
    Case("void-nodata-counts", [spf("v=spf1 a:t1.$D a:t2.$D a:t3.$D ip4:192.0.2.10 -all"),
                                ("t1.$D", "TXT", "x"), ("t2.$D", "TXT", "x"), ("t3.$D", "TXT", "x")]),
    Case("void-in-include", [spf("v=spf1 a:v1.$D include:i.$D -all"),
                             spf("v=spf1 a:v2.$D a:v3.$D +all", "i.$D")]),
    Case("void-exp-not-counted", [spf("v=spf1 a:v1.$D a:v2.$D -all exp=none.$D")]),

    # ---- record selection (§4.4, §4.5)
    Case("no-record-nxdomain", []),
    Case("no-spf-txt", [("$D", "TXT", "google-site-verification=abc")]),
    Case("two-spf", [spf("v=spf1 +all"), spf("v=spf1 -all")]),
    Case("version-case", [spf("V=SPF1 -all")]),
    Case("spf10-not-spf", [spf("v=spf10 -all")]),
    Case("spf-prefix-only", [spf("v=spf1-all")]),
    Case("spf-split-strings", [("$D", "TXT", ("v=spf1 ip4:", "192.0.2.10 -all"))]),
    Case("spf2-and-spf1", [("$D", "TXT", "spf2.0/pra -all"), spf("v=spf1 ip4:192.0.2.10 -all")]),
    Case("spf-and-other-txt", [("$D", "TXT", "v=DMARC1; p=none"), spf("v=spf1 +all")]),
    Case("long-record", [spf("v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(40))
                             + " ip4:192.0.2.10 -all")]),
    Case("tempfail-top", [], sender="user@x.fail.test"),
    Case("tempfail-a", [spf("v=spf1 a:x.fail.test -all")]),
    Case("tempfail-mx-host", [spf("v=spf1 mx -all"), ("$D", "MX", "1 mx.fail.test")]),
    Case("tempfail-exists", [spf("v=spf1 exists:x.fail.test -all")]),
    Case("tempfail-after-match", [spf("v=spf1 ip4:192.0.2.10 a:x.fail.test -all")]),
    Case("domain-single-label", [], sender="user@localhost"),
    Case("domain-long-label", [], sender="user@" + "x" * 64 + ".test"),

    # ---- syntax errors are permerror (§4.6, §12)
    Case("syntax-unknown-mech", [spf("v=spf1 foo -all")]),
    Case("syntax-ip4-short", [spf("v=spf1 ip4:192.0.2 -all")]),
    Case("syntax-ip4-cidr33", [spf("v=spf1 ip4:192.0.2.0/33 -all")]),
    Case("syntax-ip4-leading-zero", [spf("v=spf1 ip4:192.0.02.10 -all")]),
    Case("syntax-ip4-cidr-leading-zero", [spf("v=spf1 ip4:192.0.2.0/024 -all")]),
    Case("syntax-ip6-bad", [spf("v=spf1 ip6:2001:db8::zz -all")]),
    Case("syntax-ip6-cidr129", [spf("v=spf1 ip6:2001:db8::/129 -all")]),
    Case("syntax-ip4-dual", [spf("v=spf1 ip4:192.0.2.0//24 -all")]),
    Case("syntax-a-cidr33", [spf("v=spf1 a/33 -all")]),
    Case("syntax-a-cidr6-129", [spf("v=spf1 a//129 -all")]),
    Case("syntax-a-single-label", [spf("v=spf1 a:foo -all")]),
    Case("syntax-a-port", [spf("v=spf1 a:example.test:8080 -all")]),
    Case("syntax-a-numeric-tld", [spf("v=spf1 a:192.0.2.1 -all")]),
    Case("syntax-all-arg", [spf("v=spf1 -all:foo")]),
    Case("syntax-all-cidr", [spf("v=spf1 -all/24")]),
    Case("syntax-include-empty", [spf("v=spf1 include -all")]),
    Case("syntax-include-colon-empty", [spf("v=spf1 include: -all")]),
    Case("syntax-exists-empty", [spf("v=spf1 exists -all")]),
    Case("syntax-ptr-cidr", [spf("v=spf1 ptr/24 -all")]),
    Case("syntax-redirect-twice", [spf("v=spf1 redirect=a.$D redirect=b.$D")]),
    Case("syntax-exp-twice", [spf("v=spf1 -all exp=a.$D exp=b.$D")]),
    Case("syntax-redirect-empty", [spf("v=spf1 redirect=")]),
    Case("syntax-qualifier-only", [spf("v=spf1 - -all")]),
    Case("syntax-double-qualifier", [spf("v=spf1 +-all")]),
    Case("syntax-after-all", [spf("v=spf1 -all bogus")]),
    Case("syntax-comma", [spf("v=spf1 ip4:192.0.2.10, -all")]),
    Case("syntax-unknown-modifier-ignored", [spf("v=spf1 moo=cow ip4:192.0.2.10 -all")]),
    Case("syntax-modifier-dots", [spf("v=spf1 x.y-z_1=v -all")]),
    Case("syntax-modifier-digit-start", [spf("v=spf1 1x=y -all")]),
    Case("syntax-mx-cidr-slash", [spf("v=spf1 mx/ -all")]),
    Case("syntax-domain-end-hyphen", [spf("v=spf1 a:foo.ex-ample -all"), a("foo.ex-ample", V4)]),
    Case("syntax-domain-end-digits-hyphen", [spf("v=spf1 a:foo.1-2 -all")]),
    Case("syntax-non-ascii", [spf("v=spf1 a:\u00e9t\u00e9.test -all")]),

    # ---- the HELO identity (§2.3, §2.4)
    Case("helo-null-sender-pass", [spf("v=spf1 ip4:192.0.2.10 -all", "helo.$D")], sender=""),
    Case("helo-null-sender-fail", [spf("v=spf1 -all", "helo.$D")], sender=""),
    Case("helo-null-sender-none", [], sender=""),
    Case("helo-l-is-postmaster", [spf("v=spf1 exists:%{l}.%{d} -all", "helo.$D"),
                                  a("postmaster.helo.$D", "127.0.0.2")], sender=""),
    Case("helo-h-macro", [spf("v=spf1 exists:%{h}.x.$D -all"), a("helo.$D.x.$D", "127.0.0.2")]),

    # ---- more IPv6
    Case("v6-a-cidr", [spf("v=spf1 a:h.$D//56 -all"), a("h.$D", "2001:db8:0:ff::1")], ip=V6),
    Case("v6-a-cidr-miss", [spf("v=spf1 a:h.$D//64 -all"), a("h.$D", "2001:db8:0:1::1")], ip=V6),
    Case("v6-mx-only-a", [spf("v=spf1 mx -all"), ("$D", "MX", "1 mx.$D"), a("mx.$D", V4)], ip=V6),
    Case("v6-include", [spf("v=spf1 include:i.$D -all"), spf("v=spf1 ip6:2001:db8::/32 -all", "i.$D")],
         ip=V6),
    Case("v6-exists-ir", [spf("v=spf1 exists:%{ir}.%{v}.x.$D ~all")], ip=V6),
    Case("v6-mapped-ip6-mech", [spf("v=spf1 ip6:::ffff:0:0/96 -all")], ip="::ffff:192.0.2.10"),
]

# Where pyspf 2.0.14 departs from RFC 7208: (case, mailhub's RFC answer,
# pyspf's answer, why).
DIVERGENT = [
    (Case("ptr-lookup-tempfail", [spf("v=spf1 ptr ip4:203.0.113.5 -all")], ip="203.0.113.5"),
     "pass", "temperror",
     "§5.5: a DNS error in the PTR lookup makes ptr not match; pyspf ends "
     "with temperror (203.0.113.0/24's reverse zone answers REFUSED)"),
    (Case("macro-d0", [spf("v=spf1 exists:%{d0}.m.$D -all")]), "permerror", "fail",
     "§7.3: a DIGIT transformer must be nonzero; pyspf takes %{d0} as all "
     "parts but the first"),
    (Case("redirect-counted-unused", [spf("v=spf1 " + " ".join(f"a:n{i}.$D" for i in range(10))
                                          + " ip4:192.0.2.10 redirect=r.$D"),
                                      spf("v=spf1 -all", "r.$D")]
          + [a(f"n{i}.$D", "192.0.2.1") for i in range(10)]),
     "pass", "permerror",
     "§4.6.4 counts the terms that cause queries during evaluation; pyspf "
     "counts redirect= when it parses the record, even when a mechanism matches"),
    (Case("unknown-modifier-twice", [spf("v=spf1 x=1 x=2 ip4:192.0.2.10 -all")]), "pass",
     "permerror",
     "§6: only redirect and exp may not repeat; unknown modifiers are ignored"),
    (Case("modifier-name-case", [spf("v=spf1 Redirect=r.$D"), spf("v=spf1 -all", "r.$D")]),
     "fail", "neutral",
     "ABNF names are case-insensitive (RFC 5234 §2.3); pyspf takes Redirect= "
     "for an unknown modifier"),
    (Case("delimiter-join-h", [spf("v=spf1 exists:%{h-}.m.$D -all"),
                               a("a.b.$D.m.$D", "127.0.0.2")], helo="a-b.$D"),
     "pass", "fail",
     "§7.3: the parts are rejoined with '.'; pyspf keeps the split character "
     "for letters other than l and s"),
    (Case("macro-unclosed", [spf("v=spf1 exists:%{d.m.$D -all")]), "permerror", "fail",
     "§7.1: '%' starts a macro-expand or is a syntax error; pyspf takes an "
     "unclosed '%{' literally"),
]
