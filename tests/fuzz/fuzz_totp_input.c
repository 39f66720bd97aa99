/* libFuzzer target: what a client types for two-factor sign-in and token
 * expiry (codes, recovery codes, base32 secrets, RFC 3339 date-times),
 * with the invariants each parser promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/totp.h"
#include "web/rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';

	int64_t t;
	if (rfc3339_parse(text, &t) && (t < 0 || t > 253402300799 + 86400))
		abort();

	char code[TOTP_DIGITS + 1];
	if (totp_code_normalize(text, code)) {
		if (strlen(code) != TOTP_DIGITS || strspn(code, "0123456789") != TOTP_DIGITS)
			abort();
		int64_t step;
		(void)totp_check("12345678901234567890", 20, 1111111111, code, 0, &step);
	}

	char rc[TOTP_RECOVERY_CHARS + 1];
	if (totp_recovery_normalize(text, rc) &&
	    (strlen(rc) != TOTP_RECOVERY_CHARS ||
	     strspn(rc, "abcdefghijklmnopqrstuvwxyz234567") != TOTP_RECOVERY_CHARS))
		abort();

	unsigned char raw[256], again[256];
	size_t len, len2;
	if (base32_decode(text, raw, sizeof raw, &len) == 0) {
		char *enc = malloc(len * 8 / 5 + 2);
		base32_encode(raw, len, enc);
		if (base32_decode(enc, again, sizeof again, &len2) != 0 || len2 != len ||
		    memcmp(raw, again, len) != 0)
			abort();
		free(enc);
	}
	free(text);
	return 0;
}
