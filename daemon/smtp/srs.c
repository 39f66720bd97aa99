/* srs: the Sender Rewriting Scheme; see srs.h. */
#include "smtp/srs.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/base64.h"
#include "core/seal.h"
#include "core/xmalloc.h"

#define SRS_DAY 86400
/* two base32 characters: 1024 days */
#define SRS_TIME_SLOTS 1024

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void
timestamp(time_t now, char out[3])
{
	long days = (long)(now / SRS_DAY);
	out[0] = base32[(days >> 5) & 31];
	out[1] = base32[days & 31];
	out[2] = '\0';
}

/* 0 when stamp (two base32 characters, any case) is at most max_age days
 * old, -1 otherwise; as libsrs2, a stamp "in the future" is taken as 1024
 * days older. */
static int
timestamp_check(const char *stamp, size_t len, time_t now)
{
	long then = 0;
	if (len != 2)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		char c = stamp[i] >= 'a' && stamp[i] <= 'z' ? (char)(stamp[i] - 32) : stamp[i];
		const char *p = c != '\0' ? strchr(base32, c) : NULL;
		if (p == NULL)
			return -1;
		then = (then << 5) | (long)(p - base32);
	}
	long today = (long)(now / SRS_DAY) % SRS_TIME_SLOTS;
	while (today < then)
		today += SRS_TIME_SLOTS;
	return today <= then + SRS_MAX_AGE_DAYS ? 0 : -1;
}

/* The hash of the parts (lowercased, concatenated) with secret:
 * SRS_HASH_LEN base64 characters and a NUL into out. */
static void
hash(const char *secret, const char *const *parts, const size_t *lens, size_t n,
     char out[SRS_HASH_LEN + 1])
{
	struct buf data = BUF_INIT, b64 = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < lens[i]; k++) {
			char c = parts[i][k];
			buf_putc(&data, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
		}
	HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)buf_cstr(&data),
	     data.len, mac, &mac_len);
	/* the first 4 base64 characters are those of the first 3 bytes */
	base64_encode(&b64, mac, 3);
	memcpy(out, b64.data, SRS_HASH_LEN);
	out[SRS_HASH_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof mac);
	buf_free(&data);
	buf_free(&b64);
}

static bool
hash_ok(const struct srs_key *k, const char *given, size_t given_len,
	const char *const *parts, const size_t *lens, size_t n)
{
	/* libsrs2 takes a longer hash's first characters, and no shorter one */
	if (given_len < SRS_HASH_LEN)
		return false;
	bool ok = false;
	for (size_t i = 0; i < k->n; i++) {
		char want[SRS_HASH_LEN + 1];
		hash(k->secrets[i], parts, lens, n, want);
		bool same = true;
		for (size_t j = 0; j < SRS_HASH_LEN; j++) {
			char a = given[j], b = want[j];
			a = a >= 'A' && a <= 'Z' ? (char)(a + 32) : a;
			b = b >= 'A' && b <= 'Z' ? (char)(b + 32) : b;
			same &= a == b;
		}
		ok |= same;
	}
	return ok;
}

/* "SRS0" or "SRS1" (any case) and a separator libsrs2 knows: 0 or 1, or
 * -1 for neither. */
static int
srs_tag(const char *local, size_t len, bool any_separator)
{
	if (len < 5 || strncasecmp(local, "SRS", 3) != 0 || (local[3] != '0' && local[3] != '1'))
		return -1;
	if (local[4] != '=' && !(any_separator && (local[4] == '-' || local[4] == '+')))
		return -1;
	return local[3] - '0';
}

int
srs_forward(const struct srs_key *k, const char *sender, const char *alias_domain,
	    time_t now, struct buf *out)
{
	const char *at = strrchr(sender, '@');
	if (at == NULL || at == sender || at[1] == '\0' || strcasecmp(at + 1, alias_domain) == 0)
		return 0;
	const char *user = sender, *host = at + 1;
	size_t user_len = (size_t)(at - sender), host_len = strlen(host);
	char h[SRS_HASH_LEN + 1];
	size_t start = out->len;
	int tag = srs_tag(user, user_len, true);

	if (tag == 1) {
		/* SRS1 of another forwarder: re-signed for its host and user */
		const char *hh = user + 5, *end = user + user_len;
		const char *shost = memchr(hh, '=', (size_t)(end - hh));
		const char *suser = shost != NULL ? memchr(shost + 1, '=', (size_t)(end - shost - 1)) : NULL;
		if (shost == NULL || suser == NULL || shost + 1 == suser || suser + 1 == end)
			return 0;	/* not one we can wrap: sent as it is */
		shost++;
		const char *parts[] = { shost, suser + 1 };
		size_t lens[] = { (size_t)(suser - shost), (size_t)(end - suser - 1) };
		hash(k->secrets[0], parts, lens, 2, h);
		buf_printf(out, "SRS1=%s=%.*s=%.*s@%s", h, (int)lens[0], shost, (int)lens[1],
			   suser + 1, alias_domain);
	} else if (tag == 0) {
		/* SRS0 of another forwarder: SRS1=HHHH=host==HHHH=TT=... */
		const char *parts[] = { host, user + 4 };
		size_t lens[] = { host_len, user_len - 4 };
		hash(k->secrets[0], parts, lens, 2, h);
		buf_printf(out, "SRS1=%s=%s=%.*s@%s", h, host, (int)lens[1], user + 4, alias_domain);
	} else {
		char stamp[3];
		timestamp(now, stamp);
		const char *parts[] = { stamp, host, user };
		size_t lens[] = { 2, host_len, user_len };
		hash(k->secrets[0], parts, lens, 3, h);
		buf_printf(out, "SRS0=%s=%s=%s=%.*s@%s", h, stamp, host, (int)user_len, user,
			   alias_domain);
	}
	if (out->len - start > SRS_ADDRESS_MAX) {
		buf_truncate(out, start);
		return -1;
	}
	return 1;
}

/* Splits s[0..len) at its first '=' into the part before and after it;
 * false when there is none or the part before is empty. */
static bool
split_eq(const char *s, size_t len, size_t *first_r)
{
	const char *eq = memchr(s, '=', len);
	if (eq == NULL || eq == s)
		return false;
	*first_r = (size_t)(eq - s);
	return true;
}

int
srs_reverse(const struct srs_key *k, const char *address, time_t now, struct buf *out,
	    const char **error_r)
{
	const char *at = strrchr(address, '@');
	size_t len = at != NULL ? (size_t)(at - address) : strlen(address);
	int tag = srs_tag(address, len, false);
	if (tag < 0)
		return 0;
	if (len > SRS_ADDRESS_MAX) {
		*error_r = "SRS address too long";
		return -1;
	}
	const char *p = address + 5, *end = address + len;
	size_t h_len, a_len, b_len;
	*error_r = "malformed SRS address";
	if (!split_eq(p, (size_t)(end - p), &h_len))
		return -1;
	const char *a = p + h_len + 1;
	if (!split_eq(a, (size_t)(end - a), &a_len))
		return -1;
	const char *b = a + a_len + 1;
	if (tag == 1) {
		/* SRS1=HHHH=host=<rest of an SRS0 local part> */
		b_len = (size_t)(end - b);
		if (b_len == 0)
			return -1;
		const char *parts[] = { a, b };
		size_t lens[] = { a_len, b_len };
		if (!hash_ok(k, p, h_len, parts, lens, 2)) {
			*error_r = "SRS address with a wrong hash";
			return -1;
		}
		buf_printf(out, "SRS0%.*s@%.*s", (int)b_len, b, (int)a_len, a);
		return 1;
	}
	/* SRS0=HHHH=TT=host=user */
	if (!split_eq(b, (size_t)(end - b), &b_len))
		return -1;
	const char *user = b + b_len + 1;
	size_t user_len = (size_t)(end - user);
	if (user_len == 0)
		return -1;
	if (timestamp_check(a, a_len, now) < 0) {
		*error_r = "SRS address too old (or with a bad timestamp)";
		return -1;
	}
	const char *parts[] = { a, b, user };
	size_t lens[] = { a_len, b_len, user_len };
	if (!hash_ok(k, p, h_len, parts, lens, 3)) {
		*error_r = "SRS address with a wrong hash";
		return -1;
	}
	buf_printf(out, "%.*s@%.*s", (int)user_len, user, (int)b_len, b);
	return 1;
}

/* The process's key: set once at start, read-only afterwards. */
static char *srs_secret;
static const char *srs_secrets[1];
static struct srs_key srs_key;

int
srs_key_init(const char **error_r)
{
	unsigned char raw[SEAL_DERIVED_LEN];
	struct buf b = BUF_INIT;

	if (seal_derive("mailhub srs v1", raw, error_r) < 0)
		return -1;
	/* text, as postsrsd's secrets are: the HMAC key is its characters */
	base64_encode(&b, raw, sizeof raw);
	OPENSSL_cleanse(raw, sizeof raw);
	if (srs_secret != NULL) {
		OPENSSL_cleanse(srs_secret, strlen(srs_secret));
		free(srs_secret);
	}
	srs_secret = buf_steal(&b);
	srs_secrets[0] = srs_secret;
	srs_key.secrets = srs_secrets;
	srs_key.n = 1;
	return 0;
}

const struct srs_key *
srs_key_current(void)
{
	return srs_secret != NULL ? &srs_key : NULL;
}
