/*
 * oauth2: SASL responses, token answers, PKCE and URLs (see oauth2.h).
 */
#include "core/oauth2.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/sha.h>

#include "core/base64.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"

void
oauth2_sasl_xoauth2(struct buf *out, const char *user, const char *token)
{
	buf_printf(out, "user=%s\001auth=Bearer %s\001\001", user, token);
}

void
oauth2_sasl_oauthbearer(struct buf *out, const char *user, const char *host,
			unsigned port, const char *token)
{
	buf_puts(out, "n,a=");
	for (const char *p = user; *p != '\0'; p++) {
		/* RFC 5801 §4: saslname escapes ',' and '=' */
		if (*p == ',')
			buf_puts(out, "=2C");
		else if (*p == '=')
			buf_puts(out, "=3D");
		else
			buf_putc(out, *p);
	}
	buf_printf(out, ",\001host=%s\001port=%u\001auth=Bearer %s\001\001", host, port, token);
}

/* A string member of at most max bytes, copied; NULL when absent or not a
 * string. */
static char *
member_str(const cJSON *obj, const char *name, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!cJSON_IsString(v) || v->valuestring == NULL || strlen(v->valuestring) > max)
		return NULL;
	return xstrdup(v->valuestring);
}

/* A number member (some providers send "3599" as a string). */
static int64_t
member_int(const cJSON *obj, const char *name, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9)
		return (int64_t)v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring != NULL) {
		char *end;
		long long n = strtoll(v->valuestring, &end, 10);
		if (end != v->valuestring && *end == '\0' && n >= 0 && n < 1000000000)
			return n;
	}
	return def;
}

/* RFC 6749 §5.2: the error answer's kind and words. */
static enum oauth2_result
error_answer(unsigned status, const cJSON *root, const char **error_r)
{
	const cJSON *e = root != NULL ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
	if (!cJSON_IsString(e) || e->valuestring == NULL) {
		*error_r = errfmt("the provider's token endpoint answered HTTP %u without an "
				  "OAuth2 error", status);
		return OAUTH2_ERROR;
	}
	const char *code = e->valuestring;
	if (strcmp(code, "authorization_pending") == 0) {
		*error_r = "the authorization is still pending";
		return OAUTH2_PENDING;
	}
	if (strcmp(code, "slow_down") == 0) {
		*error_r = "the provider asks to poll more slowly";
		return OAUTH2_SLOW_DOWN;
	}
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "error_description");
	const char *desc = cJSON_IsString(d) && d->valuestring != NULL ? d->valuestring : NULL;
	char *words = desc != NULL ? xstrdup(esc_str(desc)) : NULL;
	if (words != NULL && strlen(words) > 200)
		words[200] = '\0';
	enum oauth2_result kind = OAUTH2_ERROR;
	if (strcmp(code, "invalid_grant") == 0 || strcmp(code, "access_denied") == 0 ||
	    strcmp(code, "expired_token") == 0)
		kind = OAUTH2_INVALID_GRANT;
	*error_r = errfmt("the provider refused: %s%s%s%s", esc_str(code),
			  words != NULL ? " (" : "", words != NULL ? words : "",
			  words != NULL ? ")" : "");
	free(words);
	return kind;
}

enum oauth2_result
oauth2_token_parse(unsigned status, const char *body, size_t len, struct oauth2_token *tok,
		   const char **error_r)
{
	memset(tok, 0, sizeof *tok);
	cJSON *root = cJSON_ParseWithLength(body, len);
	enum oauth2_result ret;
	if (status != 200 || root == NULL || !cJSON_IsObject(root)) {
		/* RFC 6749 §5.2: errors come with 400 (401 for client auth) */
		ret = error_answer(status, cJSON_IsObject(root) ? root : NULL, error_r);
		if (ret == OAUTH2_OK)
			ret = OAUTH2_ERROR;
		goto out;
	}
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "token_type");
	tok->access_token = member_str(root, "access_token", OAUTH2_TOKEN_MAX);
	if (tok->access_token == NULL || tok->access_token[0] == '\0' ||
	    strpbrk(tok->access_token, "\001\r\n ") != NULL) {
		*error_r = "the provider's token answer holds no usable access_token";
		ret = OAUTH2_ERROR;
		goto out;
	}
	/* RFC 6749 §7.1: we only know how to use bearer tokens (RFC 6750) */
	if (!cJSON_IsString(type) || strcasecmp(type->valuestring, "Bearer") != 0) {
		*error_r = "the provider's token is not a bearer token";
		ret = OAUTH2_ERROR;
		goto out;
	}
	tok->refresh_token = member_str(root, "refresh_token", OAUTH2_TOKEN_MAX);
	tok->expires_in = member_int(root, "expires_in", 0);
	ret = OAUTH2_OK;
out:
	cJSON_Delete(root);
	if (ret != OAUTH2_OK)
		oauth2_token_clear(tok);
	return ret;
}

static void
zfree(char **p)
{
	if (*p != NULL) {
		explicit_bzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void
oauth2_token_clear(struct oauth2_token *tok)
{
	zfree(&tok->access_token);
	zfree(&tok->refresh_token);
	tok->expires_in = 0;
}

int
oauth2_device_parse(unsigned status, const char *body, size_t len,
		    struct oauth2_device *dev, const char **error_r)
{
	memset(dev, 0, sizeof *dev);
	cJSON *root = cJSON_ParseWithLength(body, len);
	if (status != 200 || !cJSON_IsObject(root)) {
		(void)error_answer(status, cJSON_IsObject(root) ? root : NULL, error_r);
		cJSON_Delete(root);
		return -1;
	}
	dev->device_code = member_str(root, "device_code", OAUTH2_TOKEN_MAX);
	dev->user_code = member_str(root, "user_code", 64);
	dev->verification_uri = member_str(root, "verification_uri", 2048);
	if (dev->verification_uri == NULL)	/* Google's older name */
		dev->verification_uri = member_str(root, "verification_url", 2048);
	dev->verification_uri_complete = member_str(root, "verification_uri_complete", 2048);
	dev->expires_in = member_int(root, "expires_in", 600);
	dev->interval = member_int(root, "interval", 5);
	if (dev->interval < 1)
		dev->interval = 5;
	cJSON_Delete(root);
	if (dev->device_code == NULL || dev->user_code == NULL || dev->verification_uri == NULL) {
		*error_r = "the provider's device authorization answer lacks device_code, "
			   "user_code or verification_uri";
		oauth2_device_clear(dev);
		return -1;
	}
	return 0;
}

void
oauth2_device_clear(struct oauth2_device *dev)
{
	zfree(&dev->device_code);
	free(dev->user_code);
	free(dev->verification_uri);
	free(dev->verification_uri_complete);
	memset(dev, 0, sizeof *dev);
}

/* base64url without padding (RFC 4648 §5) of n bytes into out. */
static void
b64url(const unsigned char *p, size_t n, char *out, size_t out_size)
{
	struct buf b = BUF_INIT;
	base64_encode(&b, p, n);
	size_t k = 0;
	for (size_t i = 0; i < b.len && k + 1 < out_size; i++) {
		char c = b.data[i];
		if (c == '=')
			break;
		out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[k] = '\0';
	buf_free(&b);
}

void
oauth2_pkce_challenge(const char *verifier, char challenge[44])
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)verifier, strlen(verifier), digest);
	b64url(digest, sizeof digest, challenge, 44);
}

void
oauth2_pkce_new(char verifier[44], char challenge[44])
{
	/* RFC 7636 §4.1: 32 random octets as base64url: 43 characters */
	unsigned char r[32];
	random_bytes(r, sizeof r);
	b64url(r, sizeof r, verifier, 44);
	explicit_bzero(r, sizeof r);
	oauth2_pkce_challenge(verifier, challenge);
}

int
oauth2_url_split(const char *url, char **host_r, unsigned *port_r, char **path_r,
		 const char **error_r)
{
	*host_r = *path_r = NULL;
	if (strncasecmp(url, "https://", 8) != 0) {
		*error_r = "the URL must start with https://";
		return -1;
	}
	const char *h = url + 8, *hend, *p;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (hend == NULL) {
			*error_r = "the URL's IPv6 address lacks its ]";
			return -1;
		}
		h++;
		p = hend + 1;
	} else {
		hend = h + strcspn(h, ":/?#");
		p = hend;
	}
	if (hend == h || (size_t)(hend - h) > 253) {
		*error_r = "the URL has no host";
		return -1;
	}
	for (const char *q = h; q < hend; q++) {
		if ((unsigned char)*q <= ' ' || *q == '@' || (unsigned char)*q >= 0x7f) {
			*error_r = "the URL's host is malformed";
			return -1;
		}
	}
	unsigned port = 443;
	if (*p == ':') {
		char *end;
		unsigned long v = strtoul(p + 1, &end, 10);
		if (end == p + 1 || v == 0 || v > 65535 || (*end != '/' && *end != '\0' &&
							   *end != '?')) {
			*error_r = "the URL's port is malformed";
			return -1;
		}
		port = (unsigned)v;
		p = end;
	} else if (*p != '/' && *p != '\0' && *p != '?') {
		*error_r = "the URL is malformed";
		return -1;
	}
	if (strpbrk(p, " \r\n\t#") != NULL) {
		*error_r = "the URL's path holds blanks or a fragment";
		return -1;
	}
	*host_r = xstrndup(h, (size_t)(hend - h));
	*port_r = port;
	*path_r = *p == '/' ? xstrdup(p) : xasprintf("/%s", p);
	return 0;
}
