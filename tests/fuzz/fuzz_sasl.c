/*
 * libFuzzer target for core/sasl and core/base64.  The first byte picks the
 * mechanism and whether the client sent an initial response; the rest is
 * split at LF into the client's responses.  The exchange must end in
 * SASL_DONE with bounded, NUL-free credentials, or in SASL_FAIL with a
 * reason.  Base64 is checked on the same bytes: a strict decode re-encodes
 * to exactly its input (one value, one encoding).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_base64(const char *p, size_t n)
{
	struct buf dec = BUF_INIT, enc = BUF_INIT;

	if (base64_decode(&dec, p, n, false) == 0) {
		if (base64_encode(&enc, dec.data != NULL ? dec.data : "", dec.len) < 0 ||
		    enc.len != n || (n > 0 && memcmp(enc.data, p, n) != 0))
			panic("strict base64 decode does not round-trip");
		buf_reset(&dec);
		/* what strict mode takes, lenient mode takes alike */
		if (base64_decode(&dec, p, n, true) < 0)
			panic("lenient base64 refuses what strict accepts");
	}
	buf_free(&dec);
	buf_free(&enc);
	/* a limit is honoured and failure leaves the buffer as it was */
	struct buf small;
	buf_init(&small, 16);
	if (base64_decode(&small, p, n, true) < 0 && small.len != 0)
		panic("failed base64 decode left bytes behind");
	if (small.len > 16)
		panic("base64 decode passed the buffer's maximum");
	buf_free(&small);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	check_base64((const char *)data + 1, size - 1);

	struct sasl_server *s = sasl_server_new((data[0] & 1) ? "LOGIN" : "PLAIN");
	bool initial = (data[0] & 2) != 0;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	const char *challenge, *error = NULL;
	enum sasl_result r;

	if (!initial) {
		r = sasl_server_step(s, NULL, &challenge, &error);
		if (r != SASL_CONTINUE)
			panic("no initial response did not get a challenge");
	}
	do {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		char *line = malloc(n + 1);
		memcpy(line, p, n);
		line[n] = '\0';
		r = sasl_server_step(s, line, &challenge, &error);
		free(line);
		p += n + (lf != NULL);
		if (r == SASL_FAIL && error == NULL)
			panic("SASL_FAIL without a reason");
	} while (r == SASL_CONTINUE && p < end);

	if (r == SASL_DONE) {
		const char *u = sasl_server_user(s), *pw = sasl_server_password(s);
		const char *z = sasl_server_authzid(s);
		if (strlen(u) == 0 || strlen(u) > ADDRESS_MAX || strlen(pw) == 0 ||
		    strlen(pw) > PASSWORD_MAX || strlen(z) > ADDRESS_MAX)
			panic("SASL_DONE with credentials out of bounds");
	}
	sasl_server_free(&s);
	return 0;
}
