/*
 * https_get: one HTTPS GET (see https_get.h).
 */
#include "core/https_get.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base64.h"
#include "core/conn.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* The status line and fields together may not be longer than this. */
#define HTTPS_HEAD_MAX (16 * 1024)

void
https_response_clear(struct https_response *resp)
{
	free(resp->content_type);
	buf_free(&resp->body);
	memset(resp, 0, sizeof *resp);
}

/* The end of the line starting at p (at its CRLF or LF), or NULL. */
static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return NULL;
	return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static const char *
next_line(const char *eol, const char *end)
{
	if (eol < end && *eol == '\r')
		eol++;
	return eol < end ? eol + 1 : end;
}

/* RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF */
static int
dechunk(const char *p, const char *end, size_t max_body, struct buf *out,
	const char **error_r)
{
	for (;;) {
		const char *eol = line_end(p, end);
		if (eol == NULL) {
			*error_r = "a chunked body ends early";
			return -1;
		}
		char *stop;
		unsigned long long size = strtoull(p, &stop, 16);
		if (stop == p || (stop < eol && *stop != ';' && *stop != ' ' && *stop != '\t')) {
			*error_r = "a malformed chunk size";
			return -1;
		}
		p = next_line(eol, end);
		if (size == 0)
			return 0;
		if (size > max_body || out->len + size > max_body) {
			*error_r = "the body is too large";
			return -1;
		}
		if ((size_t)(end - p) < size) {
			*error_r = "a chunk ends early";
			return -1;
		}
		buf_append(out, p, (size_t)size);
		p += size;
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
	}
}

int
https_response_parse(const char *data, size_t len, size_t max_body,
		     struct https_response *resp, const char **error_r)
{
	const char *p = data, *end = data + len;
	memset(resp, 0, sizeof *resp);
	buf_init(&resp->body, max_body + 1);
	const char *eol = line_end(p, end);
	/* RFC 9112 §4: HTTP/1.x SP 3DIGIT SP reason */
	if (eol == NULL || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9') {
		*error_r = "not an HTTP/1.x response";
		return -1;
	}
	resp->status = (unsigned)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	p = next_line(eol, end);
	long long content_length = -1;
	bool chunked = false;
	for (;;) {
		eol = line_end(p, end);
		if (eol == NULL) {
			*error_r = "the response's fields end early";
			goto bad;
		}
		if (eol == p) {
			p = next_line(eol, end);
			break;
		}
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL) {
			*error_r = "a malformed field in the response";
			goto bad;
		}
		size_t nlen = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		const char *ve = eol;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (nlen == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
			free(resp->content_type);
			resp->content_type = xstrndup(v, (size_t)(ve - v));
		} else if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			char *stop;
			char *num = xstrndup(v, (size_t)(ve - v));
			content_length = strtoll(num, &stop, 10);
			bool ok = stop != num && *stop == '\0' && content_length >= 0;
			free(num);
			if (!ok) {
				*error_r = "a malformed Content-Length";
				goto bad;
			}
		} else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			chunked = (size_t)(ve - v) >= 7 &&
				  strncasecmp(ve - 7, "chunked", 7) == 0;
		}
		p = next_line(eol, end);
	}
	if (chunked) {
		if (dechunk(p, end, max_body, &resp->body, error_r) < 0)
			goto bad;
	} else {
		size_t n = (size_t)(end - p);
		if (content_length >= 0) {
			if ((unsigned long long)content_length > n) {
				*error_r = "the body ends early";
				goto bad;
			}
			n = (size_t)content_length;
		}
		if (n > max_body) {
			*error_r = "the body is too large";
			goto bad;
		}
		buf_append(&resp->body, p, n);
	}
	if (resp->body.data == NULL)
		buf_puts(&resp->body, "");
	return 0;
bad:
	https_response_clear(resp);
	return -1;
}

void
https_form_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		/* RFC 3986 §2.3: unreserved */
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~') {
			buf_putc(out, (char)*p);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[*p >> 4]);
			buf_putc(out, hex[*p & 15]);
		}
	}
}

/* The request's head (and form) into out. */
static void
build_request(const struct https_get_params *params, struct buf *out)
{
	buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mailhub\r\n"
		   "Accept: %s\r\nConnection: close\r\n",
		   params->form != NULL || params->body != NULL ? "POST" : "GET", params->path,
		   params->host,
		   params->accept != NULL ? params->accept : "text/plain");
	if (params->basic_user != NULL) {
		/* RFC 6749 §2.3.1: both form-encoded, then Basic (RFC 7617) */
		struct buf cred = BUF_INIT;
		https_form_escape(&cred, params->basic_user);
		buf_putc(&cred, ':');
		https_form_escape(&cred, params->basic_password != NULL ? params->basic_password
									: "");
		buf_puts(out, "Authorization: Basic ");
		base64_encode(out, cred.data, cred.len);
		buf_puts(out, "\r\n");
		explicit_bzero(cred.data, cred.len);
		buf_free(&cred);
	}
	if (params->form != NULL)
		buf_printf(out, "Content-Type: application/x-www-form-urlencoded\r\n"
			   "Content-Length: %zu\r\n\r\n%s", strlen(params->form), params->form);
	else if (params->body != NULL) {
		buf_printf(out, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			   params->content_type != NULL ? params->content_type
							: "application/octet-stream",
			   params->body_len);
		buf_append(out, params->body, params->body_len);
	} else
		buf_puts(out, "\r\n");
}

int
https_request_on(struct conn *c, const struct https_get_params *params,
		 struct https_response *resp, bool *tls_failed_r, const char **error_r)
{
	const char *error;
	memset(resp, 0, sizeof *resp);
	if (tls_failed_r != NULL)
		*tls_failed_r = false;
	if (conn_starttls_client(c, params->ctx, params->host, &error) < 0) {
		*error_r = errfmt("TLS with %s failed: %s", params->host, error);
		if (tls_failed_r != NULL)
			*tls_failed_r = true;
		return -1;
	}
	struct buf req = BUF_INIT;
	build_request(params, &req);
	int wr = conn_write(c, req.data, req.len);
	explicit_bzero(req.data, req.len);
	buf_free(&req);
	if (wr < 0 || conn_flush(c) < 0) {
		*error_r = errfmt("cannot send to %s: %s", params->host, conn_error(c));
		return -1;
	}
	struct buf in = BUF_INIT;
	size_t cap = HTTPS_HEAD_MAX + params->max_body * 2 + 1024;
	buf_init(&in, cap);
	char chunk[4096];
	int ret = 0;
	for (;;) {
		ssize_t n = conn_read(c, chunk, sizeof chunk);
		if (n == 0)
			break;
		if (n < 0) {
			*error_r = errfmt("reading from %s: %s", params->host, conn_error(c));
			ret = -1;
			break;
		}
		if (in.len + (size_t)n > cap) {
			*error_r = errfmt("the answer of %s is too large", params->host);
			ret = -1;
			break;
		}
		buf_append(&in, chunk, (size_t)n);
	}
	if (ret == 0 && https_response_parse(in.data != NULL ? in.data : "", in.len,
					     params->max_body, resp, &error) < 0) {
		*error_r = errfmt("the answer of %s: %s", params->host, error);
		ret = -1;
	}
	if (in.data != NULL)
		explicit_bzero(in.data, in.len);
	buf_free(&in);
	return ret;
}

int
https_get(const struct https_get_params *params, struct https_response *resp,
	  bool *tls_failed_r, const char **error_r)
{
	const char *error;
	int timeout_ms = (int)(params->timeout > 0 ? params->timeout : 30) * 1000;
	memset(resp, 0, sizeof *resp);
	if (tls_failed_r != NULL)
		*tls_failed_r = false;
	struct conn *c = conn_connect(params->address, params->port, timeout_ms, &error);
	if (c == NULL) {
		*error_r = errfmt("cannot connect to %s[%s]:%u: %s", params->host,
				  params->address, params->port, error);
		return -1;
	}
	conn_set_deadline(c, timeout_ms);
	int ret = https_request_on(c, params, resp, tls_failed_r, error_r);
	conn_free(&c);
	return ret;
}
