/*
 * Test vectors of the DKIM and ARC verifiers, shared by their Check suites
 * (and the keys of tests/fuzz/fuzz_arc, which defines DKIM_TEST_NO_CHECK:
 * no Check there), and the one helper they share.
 *
 * RFC8463_MSG and the football.example.com keys are RFC 8463 Appendix A's
 * (an Ed25519 and a 1024-bit RSA signature of one message).  The
 * example.org messages were signed by dkimpy (python3-dkim 1.1.4) at
 * t=1700000000 with the keys of DNS_KEYS: "rsa" is the RSA-2048 key of
 * tests/unit/check_dkim.c, "ed" RFC 8463's Ed25519 key, "weak" an RSA-512
 * key made for these tests; dkimpy verifies each (WEAK only with its
 * minkey lowered to 512).  ARC1 and ARC2 are ARC chains dkimpy sealed
 * (arc_sign) with the "rsa" key as example.org and then example.net, which
 * dkimpy's arc_verify passes.
 */
#ifndef MAILHUB_TESTS_DKIM_TEST_H
#define MAILHUB_TESTS_DKIM_TEST_H

#include <string.h>

#include "core/xmalloc.h"

/* The time the tests verify at: 2023-11-14T22:13:20Z plus a day. */
#define TEST_NOW (1700000000 + 86400)

/* RFC 8463 A.3 */
static const char RFC8463_MSG[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n"
	"\r\n"
	;

/* The message dkimpy signed for LIMITED, WEAK and SIMPLE_ED. */
#define LUNCH_TEXT \
	"From: Alice <alice@example.org>\r\n" \
	"To: bob@example.net\r\n" \
	"Subject: Lunch\r\n" \
	"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n" \
	"Message-ID: <1@example.org>\r\n" \
	"\r\n" \
	"Hello Bob,\r\n" \
	"\r\n" \
	"  lunch   at noon?\t\r\n" \
	"\r\n" \
	"\r\n"

/* rsa-sha256, relaxed/relaxed, l= (the whole body) */
static const char LIMITED[] =
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n"
	" i=@example.org; l=31; q=dns/txt; s=rsa; t=1700000000; h=from : to :\r\n"
	" subject : date : message-id : from;\r\n"
	" bh=XntDXWUuYoaTLwjPw9obSxluz/0o8GMQh5fNTE1RRbg=;\r\n"
	" b=Vz1LpMg/3HP9glvQfkgdZunQW3M3IiI+OJWxMMqAmzTr1m+ecd/3mCaT6nSNeA42lSjNB\r\n"
	" C8MtxFX+9UiXKR2hznovbY5RelkBjLaR6nBadVSZ57eslsa32Cc+Dt4AIduxq6nmza17+ua\r\n"
	" IMGLzhYjo2cN0+telUPcKuUagCjifbZHvEQSv6HpzieTq0dnciCFz9dd8S1fyB5AHbZKjHA\r\n"
	" jFdhEx8zS4WOugiOfn/lm4qgcezWY3+cwKdtPltwcH7aJrZ0vw58XFtTjVYnZsJtEBMz3e/\r\n"
	" pUUCW1xMMqkZ8GYWktgtjjpBVKVlUGzhFtqmbgjhGF5F9P0CKxLjIksbQ8Kw==\r\n"
	LUNCH_TEXT;

/* rsa-sha256 by a 512-bit key, simple/simple */
static const char WEAK[] =
	"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.org;\r\n"
	" i=@example.org; q=dns/txt; s=weak; t=1700000000; h=from : to : subject\r\n"
	" : date : message-id : from;\r\n"
	" bh=fcp/wQdKCoelO8sT7w1pT/hxAh/ZQzYxJ6Wui21HR1Q=;\r\n"
	" b=xMkC/cKktTE/YUTBxsYpAqMiIBBQbUd47iE16iU+8wnhq7nWWpunYd/eolkqb5DxPVUR6\r\n"
	" RuvPEGu0CvsZra8qw==\r\n"
	LUNCH_TEXT;

/* ed25519-sha256, simple/simple */
static const char SIMPLE_ED[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; d=example.org;\r\n"
	" i=@example.org; q=dns/txt; s=ed; t=1700000000; h=from : to : subject :\r\n"
	" date : message-id : from;\r\n"
	" bh=fcp/wQdKCoelO8sT7w1pT/hxAh/ZQzYxJ6Wui21HR1Q=;\r\n"
	" b=BBlg3o+7YTWErTRvXOgCZ7fFmgdgGtyWJEAeys6g+krkHENBoIARdHHwcqpJ6U2/OZgGQ\r\n"
	" swEUdcXmbKVSABdDg==\r\n"
	LUNCH_TEXT;

/* one ARC set by example.org (dkimpy arc_sign, t=1700000000) */
#define ARC1_TEXT \
	"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=example.org; s=rsa; t=1700000000;\r\n" \
	" b=FJ12ih3TMbJ0HmmVLd+uJWfRKhCQussjoGpKCxJ8oK5fxTQkxWhZmQcwz9C3cGZZTlhpE\r\n" \
	" waGqEzBgAB9Qwpi9BV0Nq/rlj7xTebXHOAB8V+yj4pxmqTR7B6JlaZ1B97FlQYewsV2eHhM\r\n" \
	" ODwROlRzt1LZET6R95GfNSbObxWdUiEoY/htOxKpg3MsRdLDGqgfS6/5D/krONvrmqekAQ7\r\n" \
	" 3Q7OqiDxOIMa6qifdsIZNSRDQc8Xk80eT9WYA9cnXx8zgYSTngxejsFOI0ktvOmOheSpBfJ\r\n" \
	" IIugitWuFb87s2tLgI0UsN+bYBfsDM0FHbOUVrZHBXKHKf9gPISYvdlsyF5g==\r\n" \
	"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" \
	" d=example.org; s=rsa; t=1700000000; h=from : to : subject : date :\r\n" \
	" message-id : from; bh=q9aha66XI/F00Fy94G70hBrVAG4XpFVqfJjydYWQ6yY=;\r\n" \
	" b=JYENv+EA7npMYhmsJjrkyuw79VNs/oQueh65jP648DUjGSGwUvPXVcKU/K1cSL5RUZkEz\r\n" \
	" HHTZZDWzlV55BH9s6eRtUlTsFffy3MpHLxLrGWT15BPNBBPFF6xznG25U0mixxytFjF1LZ1\r\n" \
	" elUsVNUZmwxprkn33oNnZM/uXM0xdIqMKnrDKrRcCf3hAg2s2t0m4tqivrqBCvjeIa7nQ2a\r\n" \
	" /OT7X1T0h4adS63LSeh2jv8cZ6yXv7TV/Ag5Ubf8gU/2d4VMjo+748fWoaFtakt2Qv2bfdm\r\n" \
	" vjGcNUCP1tmoYXIASY7Wpw+EpA/m25B+D7q9NnUh0k+bgHyQW55Up7PuLe7w==\r\n" \
	"ARC-Authentication-Results: i=1; lists.example.org; spf=pass smtp.mailfrom=alice@example.com\r\n" \
	"Authentication-Results: lists.example.org; spf=pass smtp.mailfrom=alice@example.com\r\n" \
	"From: Alice <alice@example.com>\r\n" \
	"To: list@lists.example.org\r\n" \
	"Subject: [list] Hello\r\n" \
	"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n" \
	"Message-ID: <2@example.com>\r\n" \
	"\r\n" \
	"Hello list,\r\n" \
	"  how  are you?\r\n"
static const char ARC1[] = ARC1_TEXT;

/* ARC1 sealed again by example.net (cv=pass, t=1700000100) */
static const char ARC2[] =
	"ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=example.net; s=rsa; t=1700000100;\r\n"
	" b=T4JNQ9o6Fro3pFW7M214n11W2vo65laOtvKq9v3ifkKij4fodRUOT3hLc0AerFrO1K1Sl\r\n"
	" whjTA+opHLnZwFYBHVFlPJ9COHMgjvlDOO8KTcrb4o5ba/M/I9NSQlZumvbtoBaz1of4J8H\r\n"
	" dHoHIUXkuxGSJgQlpnIRK1yAmDpXs/2KiKi1E9jG/EFjABQowcuTqx19U/4PqcUVt+yjg/y\r\n"
	" R1gmBnifDFRD8AB3LDurFjUL5Zk7dGudnXhdqtsTIqDZeuMduqBvGgrz3qceToroP/SvhQI\r\n"
	" 1Uuoc81OM85YU99Mn6yh+xSbj9EgQRWyRm8ZOg6KFrRTbX6x/qRxut116ckQ==\r\n"
	"ARC-Message-Signature: i=2; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=example.net; s=rsa; t=1700000100; h=from : to : subject : date :\r\n"
	" message-id : from; bh=q9aha66XI/F00Fy94G70hBrVAG4XpFVqfJjydYWQ6yY=;\r\n"
	" b=A5f4WrqfPm7g8WpjlpGyJG1Rjn/mSPTvQpu2kiLylwPggs+aqy7p09FuCQiJleG2fnR2Y\r\n"
	" 85W0hlYQTrZdqXuQSfV83sTCImmiKrVmBZZN15Ovy1jyXgCDxK5EoiLUhC8w0JKDL7Ia4SL\r\n"
	" jEUNdG8/c01wSnknBdxTspTPduKjdzLjuLGsIxSGoEaTT2PnSNrs2Zd1LIznWJuzFDOy8MC\r\n"
	" mRWfT4o69St/i9c1mmg4LKycUWmfwFvi75YzsJBifC9M1NLy8PJxnQd5EQ2gliWqvuI2xbX\r\n"
	" Z7ztv6zG/XIQ3WDNZZrjJoy1DSpLASODBWrs8CtFmzphlC/aamCWMN1kwPtA==\r\n"
	"ARC-Authentication-Results: i=2; mx.example.net; arc=pass\r\n"
	"Authentication-Results: mx.example.net; arc=pass\r\n"
	ARC1_TEXT;

/* The keys, as a dns_table (trust/dns_source.h). */
#define KEY_RFC_ED "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define KEY_RFC_RSA \
	"v=DKIM1; k=rsa; p=" \
	"MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6" \
	"Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/" \
	"e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G" \
	"+2kryOTIKT+l/K4w3QIDAQAB"
#define KEY_RSA \
	"v=DKIM1; k=rsa; p=" \
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAl20MBawH5KQWcBiJFqmR" \
	"sHAO83AZrS5Yyru9d4p6TJaqn853jDuT+3SCAU3bgnR54xakF8RFmZTvMZpOeNNt" \
	"3BwsYsMajTON8Pq8fp9qOoq2rIwSwGDX9+PSRKE2Sie4Y0fMkIkLy1IRH4r8BnoD" \
	"dpzoVSJtGDJxRly8ahKfLH+lMGxvJ5J0T+jiJ1F1B4rM5MMEUmvp7DDLCvLX+Oay" \
	"AA2huKmgKz3cwlr7ITdstk/ei5O0nTvlDaFfYxJSdp8IMOUo9lkiyGEXQ2JgZmot" \
	"uEKtgeYfyZ6E93SUTt44bf73r1vnZOE72oAlmm4c4pLXBknidm2r8mmC1L5wbfj1" \
	"6QIDAQAB"
#define KEY_WEAK \
	"v=DKIM1; k=rsa; p=" \
	"MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMZ+71d9cK9rpe2zQYxdZ+mbhrPtCwqk" \
	"xEcFpCCpKboMRBdBFlm5QJZgNUzwaceUkVSu7ueKonWt494689fcrN0CAwEAAQ=="
#define KEY_ED KEY_RFC_ED

static const char DNS_KEYS[] =
	"brisbane._domainkey.football.example.com TXT \"" KEY_RFC_ED "\"\n"
	"test._domainkey.football.example.com TXT \"" KEY_RFC_RSA "\"\n"
	"rsa._domainkey.example.org TXT \"" KEY_RSA "\"\n"
	"weak._domainkey.example.org TXT \"" KEY_WEAK "\"\n"
	"ed._domainkey.example.org TXT \"" KEY_ED "\"\n"
	"rsa._domainkey.example.net TXT \"" KEY_RSA "\"\n";

#ifndef DKIM_TEST_NO_CHECK
#include "tests/unit/runner.h"

/* s with its first `from` replaced by `to` (malloc'd); the test fails
 * when from is not in s. */
static inline char *
replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	ck_assert_msg(p != NULL, "\"%s\" not in the message", from);
	return xasprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}
#endif

#endif
