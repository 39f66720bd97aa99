/* libFuzzer target: a message as a peer sends it, through the ARC and the
 * DKIM verifiers (keys from a table: every name under .test has one), the
 * Authentication-Results builder and the removal of forged ones. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/limits.h"
#include "mail/header.h"
#include "trust/arc.h"
#include "trust/authres.h"
#include "trust/dkim_verify.h"
#include "trust/dns_source.h"
#define DKIM_TEST_NO_CHECK
#include "tests/unit/dkim_test.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The keys of the seed messages (tests/unit/dkim_test.h), and one for
 * every name under .test. */
static const char KEYS[] =
	"*.test TXT \"" KEY_RFC_ED "\"\n"
	"brisbane._domainkey.football.example.com TXT \"" KEY_RFC_ED "\"\n"
	"test._domainkey.football.example.com TXT \"" KEY_RFC_RSA "\"\n"
	"rsa._domainkey.example.org TXT \"" KEY_RSA "\"\n"
	"rsa._domainkey.example.net TXT \"" KEY_RSA "\"\n"
	"ed._domainkey.example.org TXT \"" KEY_ED "\"\n"
	"weak._domainkey.example.org TXT \"" KEY_WEAK "\"\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	const char *error;
	size_t hl = mail_header_size(msg, size);
	struct dns_table *t = dns_table_new();
	(void)dns_table_load(t, KEYS, strlen(KEYS), &error);
	struct dns_source src = dns_table_source(t);

	struct arc_verify *a = arc_verify_new(msg, hl, 1700000000);
	struct dkim_verify *v = dkim_verify_new(msg, hl, 1700000000);
	/* the body in two pieces, split where the first byte says */
	size_t body = size - hl, cut = body > 0 ? (unsigned char)msg[0] % (body + 1) : 0;
	arc_verify_body(a, msg + hl, cut);
	arc_verify_body(a, msg + hl + cut, body - cut);
	dkim_verify_body(v, msg + hl, cut);
	dkim_verify_body(v, msg + hl + cut, body - cut);
	arc_verify_finish(a, &src);
	dkim_verify_finish(v, &src);

	struct authres_result r[DKIM_VERIFY_SIGS_MAX + 1];
	const struct dkim_sig_result *sigs[DKIM_VERIFY_SIGS_MAX];
	size_t n = dkim_verify_count(v);
	for (size_t i = 0; i < n; i++)
		sigs[i] = dkim_verify_result(v, i);
	size_t prefix = authres_dkim_b_prefix(sigs, n);
	for (size_t i = 0; i < n; i++)
		authres_from_dkim(sigs[i], prefix, &r[i]);
	authres_from_arc(arc_verify_result(a), &r[n]);
	struct buf out = BUF_INIT;
	authres_build(&out, "mx.example.org", r, n + 1);
	(void)authres_strip(msg, hl, "mx.example.org", &out);
	for (size_t i = 0; i <= n; i++)
		authres_result_free(&r[i]);
	buf_free(&out);

	arc_verify_free(&a);
	dkim_verify_free(&v);
	dns_table_free(&t);
	return 0;
}
