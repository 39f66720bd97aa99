/*
 * tlsrpt_report: parsing received SMTP TLS reports (see tlsrpt_report.h).
 */
#include "mail/tlsrpt_report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "core/xmalloc.h"

/* s reduced to printable ASCII (others become '?') and cut; malloc'd. */
static char *
text_dup(const char *s)
{
	size_t n = strlen(s);
	if (n > TLSRPT_TEXT_MAX)
		n = TLSRPT_TEXT_MAX;
	char *out = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
	return out;
}

/* The string member name of o, or NULL when absent or not a string. */
static const char *
member_string(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : NULL;
}

/* A count (§4.4: integers, not negative); -1 when not one. */
static int
member_count(const cJSON *o, const char *name, uint64_t *v_r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!isfinite(d) || d < 0 || d > 9007199254740992.0 || floor(d) != d)
		return -1;
	*v_r = (uint64_t)d;
	return 0;
}

/* RFC 3339 date-time, as far as a report needs it: YYYY-MM-DDTHH:MM:SS
 * then a fraction, Z or an offset. */
static int
check_datetime(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	if (strlen(s) < sizeof shape - 1 || strlen(s) > 40)
		return -1;
	for (size_t i = 0; i < sizeof shape - 1; i++) {
		char c = s[i];
		if (shape[i] == 'd' ? (c < '0' || c > '9')
				    : shape[i] == 'T' ? (c != 'T' && c != 't') : c != shape[i])
			return -1;
	}
	return 0;
}

static int
parse_failure(const cJSON *o, struct tlsrpt_failure *f, const char **error_r)
{
	const char *type = member_string(o, "result-type");
	if (!cJSON_IsObject(o) || type == NULL || type[0] == '\0') {
		*error_r = "a failure detail without a result-type";
		return -1;
	}
	if (member_count(o, "failed-session-count", &f->count) < 0) {
		*error_r = "a failure detail without a failed-session-count";
		return -1;
	}
	f->result_type = text_dup(type);
	const char *s = member_string(o, "receiving-mx-hostname");
	f->receiving_mx = s != NULL ? text_dup(s) : NULL;
	s = member_string(o, "receiving-ip");
	f->receiving_ip = s != NULL ? text_dup(s) : NULL;
	return 0;
}

static int
parse_policy(const cJSON *o, struct tlsrpt_policy *p, const char **error_r)
{
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(o, "policy");
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(o, "summary");
	if (!cJSON_IsObject(o) || !cJSON_IsObject(pol) || !cJSON_IsObject(sum)) {
		*error_r = "a policy entry needs policy and summary objects";
		return -1;
	}
	const char *type = member_string(pol, "policy-type");
	const char *domain = member_string(pol, "policy-domain");
	/* RFC 8460 §4.4: the policy types */
	if (type == NULL || (strcmp(type, "tlsa") != 0 && strcmp(type, "sts") != 0 &&
			     strcmp(type, "no-policy-found") != 0)) {
		*error_r = "a policy-type that is not tlsa, sts or no-policy-found";
		return -1;
	}
	if (domain == NULL || domain[0] == '\0') {
		*error_r = "a policy without its policy-domain";
		return -1;
	}
	if (member_count(sum, "total-successful-session-count", &p->success) < 0 ||
	    member_count(sum, "total-failure-session-count", &p->failure) < 0) {
		*error_r = "a summary without its session counts";
		return -1;
	}
	p->type = text_dup(type);
	p->domain = text_dup(domain);
	const cJSON *mx = cJSON_GetObjectItemCaseSensitive(pol, "mx-host");
	if (cJSON_IsArray(mx)) {
		struct buf b = BUF_INIT;
		const cJSON *e;
		cJSON_ArrayForEach(e, mx) {
			if (!cJSON_IsString(e) || b.len >= TLSRPT_TEXT_MAX)
				continue;
			if (b.len > 0)
				buf_puts(&b, ", ");
			buf_puts(&b, e->valuestring);
		}
		if (b.len > 0)
			p->mx_host = text_dup(buf_cstr(&b));
		buf_free(&b);
	}
	const cJSON *fd = cJSON_GetObjectItemCaseSensitive(o, "failure-details");
	if (fd == NULL)
		return 0;
	if (!cJSON_IsArray(fd)) {
		*error_r = "failure-details is not an array";
		return -1;
	}
	int n = cJSON_GetArraySize(fd);
	size_t keep = n > TLSRPT_FAILURES_MAX ? TLSRPT_FAILURES_MAX : (size_t)n;
	p->failures = xcalloc(keep + 1, sizeof *p->failures);
	const cJSON *e;
	cJSON_ArrayForEach(e, fd) {
		if (p->n_failures == keep)
			break;
		if (parse_failure(e, &p->failures[p->n_failures], error_r) < 0)
			return -1;
		p->n_failures++;
	}
	return 0;
}

int
tlsrpt_report_parse(const char *json, size_t len, struct tlsrpt_report *r,
		    const char **error_r)
{
	memset(r, 0, sizeof *r);
	if (len > TLSRPT_REPORT_MAX) {
		*error_r = "report too large";
		return -1;
	}
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (root == NULL) {
		*error_r = "not JSON";
		return -1;
	}
	int ret = -1;
	const char *org = member_string(root, "organization-name");
	const char *contact = member_string(root, "contact-info");
	const char *id = member_string(root, "report-id");
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(root, "date-range");
	const char *start = member_string(range, "start-datetime");
	const char *end = member_string(range, "end-datetime");
	const cJSON *pols = cJSON_GetObjectItemCaseSensitive(root, "policies");
	if (!cJSON_IsObject(root) || org == NULL || id == NULL || id[0] == '\0') {
		*error_r = "not a TLS report (no organization-name or report-id)";
		goto out;
	}
	if (start == NULL || end == NULL || check_datetime(start) < 0 ||
	    check_datetime(end) < 0) {
		*error_r = "a date-range without RFC 3339 start and end";
		goto out;
	}
	if (!cJSON_IsArray(pols)) {
		*error_r = "no policies array";
		goto out;
	}
	int n = cJSON_GetArraySize(pols);
	if (n > TLSRPT_POLICIES_MAX) {
		*error_r = "too many policies";
		goto out;
	}
	r->org = text_dup(org);
	r->contact = text_dup(contact != NULL ? contact : "");
	r->report_id = text_dup(id);
	r->start = text_dup(start);
	r->end = text_dup(end);
	r->policies = xcalloc((size_t)n + 1, sizeof *r->policies);
	const cJSON *e;
	cJSON_ArrayForEach(e, pols) {
		/* counted as soon as begun, so that a half-read one is freed */
		r->n_policies++;
		if (parse_policy(e, &r->policies[r->n_policies - 1], error_r) < 0)
			goto out;
	}
	ret = 0;
out:
	cJSON_Delete(root);
	if (ret < 0)
		tlsrpt_report_clear(r);
	return ret;
}

int
tlsrpt_gunzip(const void *data, size_t len, size_t max, struct buf *out,
	      const char **error_r)
{
	const unsigned char *p = data;
	if (len < 2 || p[0] != 0x1f || p[1] != 0x8b) {
		*error_r = "not gzip";
		return -1;
	}
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 16 + MAX_WBITS: a gzip wrapper, not zlib's */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		*error_r = "cannot start inflating";
		return -1;
	}
	z.next_in = (unsigned char *)p;
	z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	unsigned char chunk[16384];
	size_t total = 0;
	int ret;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof chunk;
		ret = inflate(&z, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END) {
			inflateEnd(&z);
			*error_r = ret == Z_BUF_ERROR ? "truncated gzip" : "corrupt gzip";
			return -1;
		}
		size_t got = sizeof chunk - z.avail_out;
		total += got;
		if (total > max) {
			inflateEnd(&z);
			*error_r = "report too large once inflated";
			return -1;
		}
		buf_append(out, chunk, got);
	} while (ret != Z_STREAM_END);
	inflateEnd(&z);
	return 0;
}

int
tlsrpt_report_decode(const void *data, size_t len, struct tlsrpt_report *r,
		     const char **error_r)
{
	const unsigned char *p = data;
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		struct buf json = BUF_INIT;
		int ret = tlsrpt_gunzip(data, len, TLSRPT_REPORT_MAX, &json, error_r);
		if (ret == 0)
			ret = tlsrpt_report_parse(json.data != NULL ? json.data : "", json.len, r,
						  error_r);
		else
			memset(r, 0, sizeof *r);
		buf_free(&json);
		return ret;
	}
	return tlsrpt_report_parse(data, len, r, error_r);
}

void
tlsrpt_report_clear(struct tlsrpt_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_policies; i++) {
		struct tlsrpt_policy *p = &r->policies[i];
		for (size_t k = 0; k < p->n_failures; k++) {
			free(p->failures[k].result_type);
			free(p->failures[k].receiving_mx);
			free(p->failures[k].receiving_ip);
		}
		free(p->failures);
		free(p->type);
		free(p->domain);
		free(p->mx_host);
	}
	free(r->policies);
	free(r->org);
	free(r->contact);
	free(r->report_id);
	free(r->start);
	free(r->end);
	memset(r, 0, sizeof *r);
}
