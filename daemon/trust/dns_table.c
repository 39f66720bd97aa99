/*
 * dns_table: a DNS source answered from records in memory (see
 * dns_source.h), for unit tests, fuzzers and reproducing a report.
 */
#include "trust/dns_source.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* A table is small by nature; the bound keeps a fuzzer's one cheap. */
#define TABLE_RECORDS_MAX 4096
#define TABLE_TTL 300

struct trec {
	char *name;		/* lowercase, no trailing dot */
	enum dns_type type;
	enum dns_status fail;	/* DNS_OK, or the failure this question gets */
	struct dns_rr rr;
};

struct dns_table {
	struct trec *recs;
	size_t n, cap;
	size_t queries;
};

struct dns_table *
dns_table_new(void)
{
	return xcalloc(1, sizeof(struct dns_table));
}

void
dns_table_free(struct dns_table **t)
{
	if (*t == NULL)
		return;
	for (size_t i = 0; i < (*t)->n; i++) {
		free((*t)->recs[i].name);
		free((*t)->recs[i].rr.text);
	}
	free((*t)->recs);
	xfree(*t);
}

size_t
dns_table_queries(const struct dns_table *t)
{
	return t->queries;
}

static const struct {
	const char *name;
	enum dns_type type;
} type_names[] = {
	{ "A", DNS_T_A },   { "AAAA", DNS_T_AAAA }, { "MX", DNS_T_MX },
	{ "TXT", DNS_T_TXT }, { "PTR", DNS_T_PTR },
};

/* The next blank-separated word of line[*pos..len). */
static bool
next_word(const char *line, size_t len, size_t *pos, const char **w_r, size_t *l_r)
{
	while (*pos < len && (line[*pos] == ' ' || line[*pos] == '\t'))
		(*pos)++;
	size_t start = *pos;
	while (*pos < len && line[*pos] != ' ' && line[*pos] != '\t')
		(*pos)++;
	*w_r = line + start;
	*l_r = *pos - start;
	return *l_r > 0;
}

/* TXT data: one or more "quoted strings", joined. */
static int
parse_txt(const char *p, size_t len, struct dns_rr *rr)
{
	struct buf b = BUF_INIT;
	size_t i = 0, strings = 0;
	for (;;) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (p[i] != '"')
			goto bad;
		for (i++; i < len && p[i] != '"'; i++) {
			if (p[i] == '\\' && i + 1 < len)
				i++;
			buf_putc(&b, p[i]);
		}
		if (i == len)
			goto bad;
		i++;
		strings++;
	}
	if (strings == 0)
		goto bad;
	rr->text_len = b.len;
	if (b.data == NULL)
		buf_puts(&b, "");
	rr->text = buf_steal(&b);
	return 0;
bad:
	buf_free(&b);
	return -1;
}

static int
parse_data(enum dns_type type, const char *p, size_t len, struct dns_rr *rr)
{
	char tmp[256];
	size_t pos = 0;
	const char *w;
	size_t wl;
	switch (type) {
	case DNS_T_A:
	case DNS_T_AAAA:
		if (!next_word(p, len, &pos, &w, &wl) || wl >= sizeof tmp)
			return -1;
		memcpy(tmp, w, wl);
		tmp[wl] = '\0';
		return inet_pton(type == DNS_T_A ? AF_INET : AF_INET6, tmp, rr->addr) == 1 ? 0 : -1;
	case DNS_T_TXT:
		return parse_txt(p, len, rr);
	case DNS_T_MX:
		if (!next_word(p, len, &pos, &w, &wl) || wl >= 6)
			return -1;
		memcpy(tmp, w, wl);
		tmp[wl] = '\0';
		char *end;
		unsigned long pref = strtoul(tmp, &end, 10);
		if (*end != '\0' || pref > 65535)
			return -1;
		rr->pref = (unsigned)pref;
		/* the exchange follows, as a PTR's name */
		/* fall through */
	case DNS_T_PTR:
		if (!next_word(p, len, &pos, &w, &wl))
			return -1;
		rr->text = dns_name_canon(w, wl);
		rr->text_len = strlen(rr->text);
		return 0;
	case DNS_T_TLSA:
		/* the inbound checks never ask for TLSA */
		return -1;
	}
	return -1;
}

static int
load_line(struct dns_table *t, const char *line, size_t len)
{
	size_t pos = 0;
	const char *name, *type;
	size_t name_l, type_l;
	if (!next_word(line, len, &pos, &name, &name_l) ||
	    !next_word(line, len, &pos, &type, &type_l))
		return -1;
	struct trec r;
	memset(&r, 0, sizeof r);
	size_t i;
	for (i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (strlen(type_names[i].name) == type_l &&
		    mem_eq_nocase(type_names[i].name, type, type_l))
			break;
	if (i == sizeof type_names / sizeof type_names[0])
		return -1;
	r.type = type_names[i].type;
	r.rr.ttl = TABLE_TTL;
	const char *data = line + pos;
	size_t data_l = len - pos;
	while (data_l > 0 && (*data == ' ' || *data == '\t')) {
		data++;
		data_l--;
	}
	if (data_l == 9 && memcmp(data, "!TEMPFAIL", 9) == 0)
		r.fail = DNS_TEMPFAIL;
	else if (data_l == 6 && memcmp(data, "!ERROR", 6) == 0)
		r.fail = DNS_ERROR;
	else if (parse_data(r.type, data, data_l, &r.rr) < 0)
		return -1;
	if (t->n >= TABLE_RECORDS_MAX) {
		free(r.rr.text);
		return -1;
	}
	r.name = dns_name_canon(name, name_l);
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->recs = xreallocarray(t->recs, t->cap, sizeof *t->recs);
	}
	t->recs[t->n++] = r;
	return 0;
}

int
dns_table_load(struct dns_table *t, const char *text, size_t len, const char **error_r)
{
	size_t pos = 0, lineno = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		const char *line = text + pos;
		size_t l = end - pos;
		lineno++;
		pos = nl != NULL ? end + 1 : len;
		while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
			l--;
		size_t lead = 0;
		while (lead < l && (line[lead] == ' ' || line[lead] == '\t'))
			lead++;
		if (lead == l || line[lead] == '#')
			continue;
		if (load_line(t, line + lead, l - lead) < 0) {
			*error_r = errfmt("DNS table line %zu not understood: %s", lineno,
					  esc(line, l));
			return -1;
		}
	}
	return 0;
}

/* Whether name is name or a name below it. */
static bool
at_or_below(const char *name, const char *parent)
{
	size_t nl = strlen(name), pl = strlen(parent);
	if (pl == 0)
		return true;
	if (nl == pl)
		return strcmp(name, parent) == 0;
	return nl > pl && name[nl - pl - 1] == '.' && strcmp(name + nl - pl, parent) == 0;
}

/* Whether owner has any record, or a name below it has (RFC 4592 §2.2.2:
 * an empty non-terminal exists). */
static bool
name_exists(const struct dns_table *t, const char *owner)
{
	for (size_t i = 0; i < t->n; i++)
		if (at_or_below(t->recs[i].name, owner))
			return true;
	return false;
}

static void
answer_from(const struct dns_table *t, const char *owner, enum dns_type type,
	    struct dns_answer *ans)
{
	size_t cap = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct trec *r = &t->recs[i];
		if (r->type != type || strcmp(r->name, owner) != 0)
			continue;
		if (r->fail != DNS_OK) {
			dns_answer_free(ans);
			ans->status = r->fail;
			return;
		}
		if (ans->n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			ans->rr = xreallocarray(ans->rr, cap, sizeof *ans->rr);
		}
		struct dns_rr *rr = &ans->rr[ans->n++];
		*rr = r->rr;
		if (r->rr.text != NULL)
			rr->text = xmemdup(r->rr.text, r->rr.text_len);
	}
	ans->status = ans->n > 0 ? DNS_OK : DNS_NODATA;
	ans->ttl = TABLE_TTL;
}

static int
table_query(void *ctx, const char *name, enum dns_type type, struct dns_answer *ans_r)
{
	struct dns_table *t = ctx;
	t->queries++;
	memset(ans_r, 0, sizeof *ans_r);
	char *key = dns_name_canon(name, strlen(name));
	if (name_exists(t, key)) {
		answer_from(t, key, type, ans_r);
	} else {
		/* RFC 4592: a wildcard "*.P" answers for a name below P that
		 * does not exist; the closest enclosing one counts */
		ans_r->status = DNS_NXDOMAIN;
		ans_r->ttl = TABLE_TTL;
		for (const char *p = strchr(key, '.'); p != NULL; p = strchr(p + 1, '.')) {
			char *wild = xasprintf("*%s", p);
			bool exists = name_exists(t, wild);
			if (exists)
				answer_from(t, wild, type, ans_r);
			free(wild);
			if (exists || name_exists(t, p + 1))
				break;
		}
	}
	free(key);
	return ans_r->status;
}

struct dns_source
dns_table_source(struct dns_table *t)
{
	struct dns_source s = { table_query, t };
	return s;
}
