#include "core/totp.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* What a user may type for a code or a recovery code, spaces and dashes
 * included: anything longer is not one. */
#define TYPED_MAX 64

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

uint32_t
totp_hotp(const void *key, size_t key_len, uint64_t counter, unsigned digits)
{
	unsigned char msg[8], md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (digits < 1 || digits > 9)
		panic("totp_hotp: %u digits", digits);
	/* RFC 4226 §5.2: the counter is 8 bytes, big-endian */
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	if (HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof msg, md, &md_len) == NULL ||
	    md_len != 20)
		fatal("HMAC-SHA-1 failed");
	/* RFC 4226 §5.3: dynamic truncation to 31 bits */
	unsigned off = md[19] & 0x0f;
	uint32_t bin = (uint32_t)(md[off] & 0x7f) << 24 | (uint32_t)md[off + 1] << 16 |
		       (uint32_t)md[off + 2] << 8 | (uint32_t)md[off + 3];
	explicit_bzero(md, sizeof md);
	uint32_t mod = 1;
	for (unsigned i = 0; i < digits; i++)
		mod *= 10;
	return bin % mod;
}

int64_t
totp_step(int64_t unix_time)
{
	/* RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0 */
	return unix_time < 0 ? 0 : unix_time / TOTP_PERIOD;
}

void
totp_code(const void *key, size_t key_len, int64_t step, char out[TOTP_DIGITS + 1])
{
	uint32_t v = totp_hotp(key, key_len, (uint64_t)step, TOTP_DIGITS);
	for (int i = TOTP_DIGITS - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[TOTP_DIGITS] = '\0';
}

bool
totp_code_normalize(const char *text, char out[TOTP_DIGITS + 1])
{
	size_t n = 0;
	if (strlen(text) > TYPED_MAX)
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == ' ')
			continue;
		if (*p < '0' || *p > '9' || n == TOTP_DIGITS)
			return false;
		out[n++] = *p;
	}
	out[n] = '\0';
	return n == TOTP_DIGITS;
}

bool
totp_check(const void *key, size_t key_len, int64_t now, const char *code,
	   int64_t last_step, int64_t *step_r)
{
	int64_t t = totp_step(now), found = -1;

	if (strlen(code) != TOTP_DIGITS || key_len == 0 || key_len > TOTP_KEY_MAX)
		return false;
	for (int64_t s = t - TOTP_WINDOW; s <= t + TOTP_WINDOW; s++) {
		char want[TOTP_DIGITS + 1];
		totp_code(key, key_len, s < 0 ? 0 : s, want);
		bool same = mem_equal_ct(want, code, TOTP_DIGITS);
		if (same && s > last_step && s >= 0 && found < 0)
			found = s;
	}
	if (found < 0)
		return false;
	*step_r = found;
	return true;
}

size_t
base32_encode(const void *p, size_t n, char *out)
{
	const unsigned char *in = p;
	size_t o = 0;
	unsigned acc = 0, bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return o;
}

static int
b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int
base32_decode(const char *text, void *out, size_t max, size_t *len_r)
{
	unsigned char *o = out;
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	const char *end = text + strlen(text);

	/* padding only at the end */
	while (end > text && (end[-1] == '=' || end[-1] == ' '))
		end--;
	for (const char *p = text; p < end; p++) {
		if (*p == ' ')
			continue;
		int v = b32_value(*p);
		if (v < 0)
			return -1;
		acc = (acc << 5) | (unsigned)v;
		bits += 5;
		if (bits >= 8) {
			if (n == max)
				return -1;
			o[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
			acc &= (1u << bits) - 1;
		}
	}
	/* RFC 4648 §3.5: the bits past the last byte must be zero, and fewer
	 * than 5 of them (a whole letter left over is not an encoding) */
	if (bits >= 5 || acc != 0)
		return -1;
	*len_r = n;
	return 0;
}

/* RFC 3986 §2.1/§2.3: everything but the unreserved characters escaped. */
static void
put_escaped(struct buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~')
			(void)buf_putc(b, (char)*p);
		else
			(void)buf_printf(b, "%%%02X", *p);
	}
}

char *
totp_uri(const char *issuer, const char *account, const char *secret_b32)
{
	struct buf b;
	buf_init(&b, 4096);
	(void)buf_puts(&b, "otpauth://totp/");
	put_escaped(&b, issuer);
	(void)buf_putc(&b, ':');
	put_escaped(&b, account);
	(void)buf_puts(&b, "?secret=");
	put_escaped(&b, secret_b32);
	(void)buf_puts(&b, "&issuer=");
	put_escaped(&b, issuer);
	(void)buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_PERIOD);
	return buf_steal(&b);
}

void
totp_secret_new(char out[TOTP_SECRET_B32_LEN + 1])
{
	unsigned char raw[TOTP_SECRET_BYTES];
	random_bytes(raw, sizeof raw);
	base32_encode(raw, sizeof raw, out);
	explicit_bzero(raw, sizeof raw);
}

void
totp_recovery_new(char out[TOTP_RECOVERY_TEXT_LEN + 1])
{
	unsigned char raw[TOTP_RECOVERY_BYTES];
	char letters[TOTP_RECOVERY_CHARS + 1];
	size_t o = 0;

	random_bytes(raw, sizeof raw);
	base32_encode(raw, sizeof raw, letters);
	for (size_t i = 0; i < TOTP_RECOVERY_CHARS; i++) {
		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		/* lower case reads more easily off a sheet of paper */
		char c = letters[i];
		out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[o] = '\0';
	explicit_bzero(raw, sizeof raw);
	explicit_bzero(letters, sizeof letters);
}

bool
totp_recovery_normalize(const char *text, char out[TOTP_RECOVERY_CHARS + 1])
{
	size_t n = 0;
	if (strlen(text) > TYPED_MAX)
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '-' || *p == ' ')
			continue;
		if (b32_value(*p) < 0 || n == TOTP_RECOVERY_CHARS)
			return false;
		out[n++] = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
	}
	out[n] = '\0';
	return n == TOTP_RECOVERY_CHARS;
}
