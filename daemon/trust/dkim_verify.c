/*
 * dkim_verify: the DKIM verifier of a message (see dkim_verify.h).
 */
#include "trust/dkim_verify.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "trust/arc.h"
#include "trust/dkim_verify_int.h"

struct dkim_verify {
	char *hdr;
	struct dkim_headers hs;
	int64_t now;
	struct dkim_sig sigs[DKIM_VERIFY_SIGS_MAX];
	size_t n_sigs, skipped;
	struct dkim_bodyhashes bodies;
	struct dkim_sig_result results[DKIM_VERIFY_SIGS_MAX];
	size_t n_results;
};

const char *
dkim_status_name(enum dkim_status status)
{
	switch (status) {
	case DKIM_NONE: return "none";
	case DKIM_PASS: return "pass";
	case DKIM_FAIL: return "fail";
	case DKIM_POLICY: return "policy";
	case DKIM_NEUTRAL: return "neutral";
	case DKIM_TEMPERROR: return "temperror";
	case DKIM_PERMERROR: return "permerror";
	}
	return "permerror";
}

struct dkim_verify *
dkim_verify_new(const char *hdr, size_t hdr_len, int64_t now)
{
	struct dkim_verify *v = xcalloc(1, sizeof *v);
	v->hdr = xmemdup(hdr, hdr_len);
	v->now = now;
	dkim_headers_init(&v->hs, v->hdr, hdr_len);
	dkim_bodyhashes_init(&v->bodies, DKIM_VERIFY_SIGS_MAX);
	/* §6.1: the signatures in the order they appear, topmost first */
	for (size_t i = 0; i < v->hs.n; i++) {
		if (!dkim_headers_is(&v->hs, i, "DKIM-Signature"))
			continue;
		if (v->n_sigs == DKIM_VERIFY_SIGS_MAX) {
			v->skipped++;
			continue;
		}
		struct dkim_sig *sig = &v->sigs[v->n_sigs++];
		if (dkim_sig_parse(sig, DKIM_SIG_DKIM, &v->hs, i, now) == 0)
			sig->body = dkim_bodyhashes_want(&v->bodies, sig->bcanon, sig->limited,
							 sig->limit);
	}
	return v;
}

void
dkim_verify_body(struct dkim_verify *v, const void *p, size_t n)
{
	dkim_bodyhashes_add(&v->bodies, p, n);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

void
dkim_verify_finish(struct dkim_verify *v, const struct dns_source *dns)
{
	struct buf data = BUF_INIT;
	dkim_bodyhashes_finish(&v->bodies);
	for (size_t k = 0; k < v->n_sigs; k++) {
		struct dkim_sig *sig = &v->sigs[k];
		const struct dkim_bodyhash *body = NULL;
		if (sig->status == DKIM_NONE) {
			/* §3.7: the signed fields, then the signature itself */
			buf_reset(&data);
			dkim_sig_select_fields(&v->hs, sig, true, &data);
			dkim_sig_canon_self(&v->hs, sig, sig->hcanon, &data);
			body = &v->bodies.h[sig->body];
			dkim_sig_check(sig, dns, body, data.data, data.len);
		}
		struct dkim_sig_result *r = &v->results[v->n_results++];
		r->status = sig->status;
		r->reason = sig->reason;
		r->domain = dup_or_null(sig->d);
		r->selector = dup_or_null(sig->s);
		r->identity = dup_or_null(sig->i);
		r->algorithm = dup_or_null(sig->a);
		r->b = dup_or_null(sig->b_text);
		r->key_bits = sig->key_bits;
		r->testing = sig->testing;
		if (sig->limited && body != NULL) {
			r->length_limited = true;
			r->length = sig->limit;
			r->body_length = body->total;
		}
	}
	buf_free(&data);
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->n_results;
}

const struct dkim_sig_result *
dkim_verify_result(const struct dkim_verify *v, size_t i)
{
	return i < v->n_results ? &v->results[i] : NULL;
}

size_t
dkim_verify_skipped(const struct dkim_verify *v)
{
	return v->skipped;
}

enum dkim_status
dkim_verify_summary(const struct dkim_verify *v)
{
	static const enum dkim_status order[] = {
		DKIM_PASS, DKIM_FAIL, DKIM_POLICY, DKIM_NEUTRAL, DKIM_TEMPERROR, DKIM_PERMERROR,
	};
	for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
		for (size_t i = 0; i < v->n_results; i++)
			if (v->results[i].status == order[o])
				return order[o];
	return DKIM_NONE;
}

void
dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n_sigs; i++)
		dkim_sig_free(&v->sigs[i]);
	for (size_t i = 0; i < v->n_results; i++) {
		struct dkim_sig_result *r = &v->results[i];
		free(r->domain);
		free(r->selector);
		free(r->identity);
		free(r->algorithm);
		free(r->b);
	}
	dkim_bodyhashes_free(&v->bodies);
	dkim_headers_free(&v->hs);
	free(v->hdr);
	free(v);
	*vp = NULL;
}

/* Reads up to n bytes; 0 at the end, -1 on an error. */
static ssize_t
read_some(int fd, char *p, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, p, n);
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

int
dkim_verify_fd(int fd, int64_t now, const struct dns_source *dns,
	       struct dkim_verify **dkim_r, struct arc_verify **arc_r,
	       const char **error_r)
{
	struct buf head = BUF_INIT;
	char *chunk = xmalloc(DKIM_VERIFY_CHUNK);
	size_t hdr_len = 0;
	bool eof = false;
	int ret = -1;

	*dkim_r = NULL;
	if (arc_r != NULL)
		*arc_r = NULL;
	/* the header block: read until something follows its empty line */
	for (;;) {
		ssize_t r = read_some(fd, chunk, DKIM_VERIFY_CHUNK);
		if (r < 0) {
			*error_r = "cannot read the message";
			goto out;
		}
		eof = r == 0;
		buf_append(&head, chunk, (size_t)r);
		hdr_len = mail_header_size(head.data != NULL ? head.data : "", head.len);
		if (hdr_len < head.len || eof)
			break;
		if (head.len > DKIM_VERIFY_HEADER_MAX) {
			*error_r = "the header block is too big to check";
			goto out;
		}
	}
	const char *data = head.data != NULL ? head.data : "";
	*dkim_r = dkim_verify_new(data, hdr_len, now);
	if (arc_r != NULL)
		*arc_r = arc_verify_new(data, hdr_len, now);
	/* the body: what came with the header, then the rest in pieces */
	size_t n = head.len - hdr_len;
	const char *p = data + hdr_len;
	while (n > 0) {
		dkim_verify_body(*dkim_r, p, n);
		if (arc_r != NULL)
			arc_verify_body(*arc_r, p, n);
		if (eof)
			break;
		ssize_t r = read_some(fd, chunk, DKIM_VERIFY_CHUNK);
		if (r < 0) {
			*error_r = "cannot read the message";
			dkim_verify_free(dkim_r);
			if (arc_r != NULL)
				arc_verify_free(arc_r);
			goto out;
		}
		p = chunk;
		n = (size_t)r;
		buf_free(&head);	/* the header block is copied */
	}
	dkim_verify_finish(*dkim_r, dns);
	if (arc_r != NULL)
		arc_verify_finish(*arc_r, dns);
	ret = 0;
out:
	buf_free(&head);
	free(chunk);
	return ret;
}
