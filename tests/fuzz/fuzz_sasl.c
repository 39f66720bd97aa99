/*
 * libFuzzer target for core/sasl, core/scram and core/base64.  The first
 * byte picks the mechanism (PLAIN, LOGIN, SCRAM-SHA-256, -PLUS), whether
 * the client sent an initial response, and whether the connection offers
 * channel bindings; the rest is split at LF into the client's responses.
 * SCRAM gets two keys (RFC 7677's "pencil" among them) when it asks, and a
 * fixed server nonce, so a recorded exchange replays to success.  The
 * exchange must end in SASL_DONE with bounded, NUL-free credentials (for
 * SCRAM: the index of a key given), or in SASL_FAIL with a reason.  Base64
 * is checked on the same bytes: a strict decode re-encodes to exactly its
 * input (one value, one encoding).  The stored SCRAM form is parsed too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/sasl.h"
#include "core/scram.h"

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

/* The stored form: what parses formats back to the same keys. */
static void
check_stored(const char *p, size_t n)
{
	struct scram_keys k, again;
	char *text = malloc(n + 1);
	memcpy(text, p, n);
	text[n] = '\0';
	if (scram_parse(text, &k) == 0) {
		char *f = scram_format(&k);
		if (scram_parse(f, &again) != 0 || memcmp(&k, &again, sizeof k) != 0)
			panic("SCRAM stored form does not round-trip");
		free(f);
	}
	free(text);
}

/* SCRAM asks for the user's keys: a wrong one and RFC 7677's. */
static enum sasl_result
give_keys(struct sasl_server *s, const char **challenge_r, const char **error_r)
{
	struct scram_keys keys[2];
	const char *u = sasl_server_user(s), *z = sasl_server_authzid(s);
	if (strlen(u) == 0 || strlen(u) > ADDRESS_MAX || strlen(z) > ADDRESS_MAX)
		panic("SASL_NEED_KEYS with names out of bounds");
	if (scram_parse("{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"
			"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=,"
			"wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", &keys[1]) != 0)
		panic("the RFC 7677 keys do not parse");
	keys[0] = keys[1];
	keys[0].stored_key[0] ^= 0x55;
	return sasl_server_scram_keys(s, keys, 2, challenge_r, error_r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	check_base64((const char *)data + 1, size - 1);

	static const char *const mechs[] = {
		"PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
	};
	struct sasl_server *s = sasl_server_new(mechs[data[0] & 3]);
	bool initial = (data[0] & 4) != 0;
	if (data[0] & 8) {
		static const unsigned char cb[32] = { 1, 2, 3, 4 };
		sasl_server_channel_binding(s, "tls-exporter", cb, 32);
		sasl_server_channel_binding(s, "tls-unique", cb, 12);
	}
	sasl_server_set_nonce(s, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	check_stored((const char *)data + 1, size - 1);
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
		if (r == SASL_NEED_KEYS)
			r = give_keys(s, &challenge, &error);
		if (r == SASL_FAIL && error == NULL)
			panic("SASL_FAIL without a reason");
	} while (r == SASL_CONTINUE && p < end);

	if (r == SASL_DONE) {
		const char *u = sasl_server_user(s), *pw = sasl_server_password(s);
		const char *z = sasl_server_authzid(s);
		if (strlen(u) == 0 || strlen(u) > ADDRESS_MAX || strlen(z) > ADDRESS_MAX)
			panic("SASL_DONE with names out of bounds");
		if (sasl_server_is_scram(s)) {
			int m = sasl_server_scram_match(s);
			if (pw != NULL || m < 0 || m > 1)
				panic("SCRAM done without a matching key");
		} else if (pw == NULL || strlen(pw) == 0 || strlen(pw) > PASSWORD_MAX) {
			panic("SASL_DONE with a password out of bounds");
		}
	}
	sasl_server_free(&s);
	return 0;
}
