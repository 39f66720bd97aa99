/*
 * tlsrpt_post: TLS reports POSTed to https: rua addresses (see
 * tlsrpt_post.h).
 */
#include "smtp/tlsrpt_post.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "core/dns.h"
#include "core/https_get.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/relaytls.h"
#include "store/store.h"

/* The most of an answer's body read (its words go to the log). */
#define TLSRPT_ANSWER_MAX (16 * 1024)

void
tlsrpt_uri_clear(struct tlsrpt_uri *u)
{
	free(u->host);
	free(u->path);
	memset(u, 0, sizeof *u);
}

int
tlsrpt_uri_parse(const char *uri, struct tlsrpt_uri *u, const char **error_r)
{
	memset(u, 0, sizeof *u);
	if (strncasecmp(uri, "https://", 8) != 0) {
		*error_r = "not an https: URI";
		return -1;
	}
	const char *p = uri + 8;
	size_t auth_len = strcspn(p, "/?#");
	const char *path = p + auth_len;
	if (memchr(p, '@', auth_len) != NULL) {
		*error_r = "user information in an https: URI";
		return -1;
	}
	const char *host = p, *host_end, *port = NULL;
	if (*p == '[') {
		/* RFC 3986 §3.2.2: IP-literal */
		const char *close = memchr(p, ']', auth_len);
		if (close == NULL) {
			*error_r = "an unterminated IPv6 literal";
			return -1;
		}
		host = p + 1;
		host_end = close;
		if (close + 1 < path) {
			if (close[1] != ':') {
				*error_r = "a malformed host";
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(p, ':', auth_len);
		host_end = colon != NULL ? colon : path;
		port = colon != NULL ? colon + 1 : NULL;
	}
	if (host_end == host || host_end - host > 253) {
		*error_r = "no host in the https: URI";
		return -1;
	}
	for (const char *c = host; c < host_end; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == ':')) {
			*error_r = "a host name with characters a host name cannot have";
			return -1;
		}
	}
	u->port = 443;
	if (port != NULL && port < path) {
		unsigned v = 0;
		for (const char *c = port; c < path; c++) {
			if (*c < '0' || *c > '9' || v > 6553) {
				*error_r = "a malformed port";
				return -1;
			}
			v = v * 10 + (unsigned)(*c - '0');
		}
		if (v == 0 || v > 65535) {
			*error_r = "a malformed port";
			return -1;
		}
		u->port = v;
	}
	size_t path_len = strcspn(path, "#");
	for (size_t i = 0; i < path_len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c >= 0x7f) {
			*error_r = "a path with spaces or bytes outside ASCII";
			return -1;
		}
	}
	u->host = xstrndup(host, (size_t)(host_end - host));
	if (path_len == 0 || path[0] == '?') {
		u->path = xmalloc(path_len + 2);
		u->path[0] = '/';
		memcpy(u->path + 1, path, path_len);
		u->path[path_len + 1] = '\0';
	} else {
		u->path = xstrndup(path, path_len);
	}
	return 0;
}

void
tlsrpt_gzip(const void *data, size_t len, struct buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 16 + MAX_WBITS: a gzip header and trailer (RFC 1952) */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		fatal("zlib: cannot start deflating");
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	int ret;
	do {
		unsigned char *p = (unsigned char *)buf_reserve(out, 16384);
		if (p == NULL)
			fatal("tlsrpt: no room for a gzipped report");
		z.next_out = p;
		z.avail_out = 16384;
		ret = deflate(&z, Z_FINISH);
		buf_commit(out, 16384 - z.avail_out);
	} while (ret == Z_OK || ret == Z_BUF_ERROR);
	if (ret != Z_STREAM_END)
		fatal("zlib: deflate failed (%d)", ret);
	deflateEnd(&z);
}

/* One POST of gz to u: 0 when a 2xx came back, else -1 with *error_r.
 * Each of the host's addresses is tried until one answers. */
static int
post_once(struct dns_resolver *dns, SSL_CTX *ctx, const struct tlsrpt_uri *u,
	  const struct buf *gz, unsigned *status_r, const char **error_r)
{
	char **addrs = NULL;
	size_t n = 0;
	const char *error;
	*status_r = 0;
	if (dns_lookup_addr(dns, u->host, &addrs, &n, &error) != DNS_OK) {
		*error_r = errfmt("cannot find the address of %s: %s", u->host, error);
		return -1;
	}
	int ret = -1;
	for (size_t i = 0; i < n && ret < 0 && *status_r == 0; i++) {
		struct https_get_params hp = {
			.host = u->host,
			.address = addrs[i],
			.port = u->port,
			.path = u->path,
			.ctx = ctx,
			.timeout = TLSRPT_POST_TIMEOUT,
			.max_body = TLSRPT_ANSWER_MAX,
			/* RFC 8460 §5.4: compressed, as application/tlsrpt+gzip */
			.body = gz->data,
			.body_len = gz->len,
			.content_type = "application/tlsrpt+gzip",
			.accept = "*/*",
		};
		struct https_response resp;
		if (https_get(&hp, &resp, NULL, &error) < 0) {
			*error_r = errfmt("%s", error);
			continue;
		}
		*status_r = resp.status;
		/* §5.4: "a 'successful' response ..., typically a 200 or 201" */
		if (resp.status >= 200 && resp.status <= 299)
			ret = 0;
		else
			*error_r = errfmt("HTTP status %u from %s", resp.status, u->host);
		https_response_clear(&resp);
	}
	dns_strings_free(&addrs, n);
	return ret;
}

unsigned
tlsrpt_post_due(struct store *st, struct dns_resolver *dns,
		const struct tlsrpt_post_settings *set, int64_t now)
{
	struct relaytls_post *list = NULL;
	size_t n = 0;
	const char *error;
	unsigned sent = 0;
	if (relaytls_post_due(st, now, TLSRPT_POSTS_PER_ROUND, &list, &n, &error) != STORE_OK) {
		log_error("tlsrpt cannot read the reports owed to https: addresses: %s", error);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const struct relaytls_post *p = &list[i];
		struct tlsrpt_uri u;
		unsigned status = 0;
		const char *why;
		bool malformed = tlsrpt_uri_parse(p->uri, &u, &why) < 0;
		int ret = -1;
		if (!malformed) {
			struct buf gz = BUF_INIT;
			tlsrpt_gzip(p->report, strlen(p->report), &gz);
			ret = post_once(dns, set->ctx, &u, &gz, &status, &why);
			buf_free(&gz);
			tlsrpt_uri_clear(&u);
		}
		char *reason = ret == 0 ? NULL : xstrdup(why);
		int64_t attempt = p->attempts + 1;
		const char *state = "sent";
		int64_t next = 0;
		if (ret == 0) {
			log_info("tlsrpt day=%s domain=%s to=%s posted status=%u attempts=%lld",
				 p->day, p->domain, esc_str(p->uri), status, (long long)attempt);
			sent++;
		} else {
			/* §5.5: exponential back-off, for up to a day */
			uint64_t wait = set->retry_first > 0 ? set->retry_first : 60;
			for (int64_t k = 1; k < attempt && wait < set->retry_max; k++)
				wait *= 2;
			if (set->retry_max > 0 && wait > set->retry_max)
				wait = set->retry_max;
			next = now + (int64_t)wait;
			if (malformed || next - p->created > TLSRPT_POST_RETRY_SECONDS) {
				state = "failed";
				log_warning("tlsrpt day=%s domain=%s to=%s not delivered: %s; given up"
					    " after %lld attempts in %lld seconds", p->day, p->domain,
					    esc_str(p->uri), reason, (long long)attempt,
					    (long long)(now - p->created));
			} else {
				state = "pending";
				log_warning("tlsrpt day=%s domain=%s to=%s attempt %lld failed: %s;"
					    " next in %llu seconds", p->day, p->domain,
					    esc_str(p->uri), (long long)attempt, reason,
					    (unsigned long long)wait);
			}
		}
		if (relaytls_post_result(st, p->id, state, next, reason, now, &error) != STORE_OK)
			log_error("tlsrpt domain=%s to=%s: %s", p->domain, esc_str(p->uri), error);
		free(reason);
	}
	relaytls_post_free(&list, n);
	return sent;
}
