/*
 * maildir_form: a mailbox in Dovecot's Maildir form (maildir_form.h).
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "mail/mailfile.h"
#include "store/blob.h"
#include "store/maildir_form.h"

void
maildir_keywords_of(const struct store_message *msgs, size_t n, struct maildir_keywords *kw)
{
	memset(kw, 0, sizeof *kw);
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].keywords == NULL)
			continue;
		char *copy = xstrdup(msgs[i].keywords), *save = NULL;
		for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
			bool seen = false;
			for (size_t j = 0; j < kw->n && !seen; j++)
				seen = str_eq_nocase(kw->names[j], t);
			if (!seen && kw->n < MAILDIR_KEYWORDS_MAX)
				kw->names[kw->n++] = xstrdup(t);
		}
		free(copy);
	}
}

void
maildir_keywords_clear(struct maildir_keywords *kw)
{
	for (size_t j = 0; j < kw->n; j++)
		free(kw->names[j]);
	memset(kw, 0, sizeof *kw);
}

void
maildir_keywords_file(const struct maildir_keywords *kw, struct buf *out)
{
	buf_reset(out);
	for (size_t j = 0; j < kw->n; j++)
		buf_printf(out, "%zu %s\n", j, kw->names[j]);
}

static uint32_t
keyword_bits(const char *keywords, const struct maildir_keywords *kw)
{
	uint32_t bits = 0;
	if (keywords == NULL)
		return 0;
	char *copy = xstrdup(keywords), *save = NULL;
	for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
		for (size_t j = 0; j < kw->n; j++)
			if (str_eq_nocase(kw->names[j], t))
				bits |= 1u << j;
	free(copy);
	return bits;
}

void
maildir_uidlist_start(const struct store_mailbox *mb, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "3 V%u N%u\n", mb->uidvalidity, mb->uidnext);
}

int
maildir_message(struct store *st, const struct store_message *m,
		const struct maildir_keywords *kw, struct buf *raw, struct buf *lf,
		struct buf *name, struct buf *uidlist, const char **error_r)
{
	buf_reset(raw);
	int ret = blob_read(st, m->blob, raw, error_r);
	if (ret != STORE_OK)
		return ret;
	buf_reset(lf);
	for (size_t i = 0; i < raw->len; i++) {
		if (raw->data[i] == '\r' && i + 1 < raw->len && raw->data[i + 1] == '\n')
			continue;
		buf_putc(lf, raw->data[i]);
	}
	char base[128];
	snprintf(base, sizeof base, "%lld.M%uP0.mailhub,S=%zu,W=%zu",
		 (long long)m->internal_date, m->uid, lf->len, raw->len);
	struct buf info = BUF_INIT;
	maildir_info(m->flags, keyword_bits(m->keywords, kw), &info);
	buf_reset(name);
	buf_puts(name, base);
	buf_append(name, info.data, info.len);
	buf_free(&info);
	buf_printf(uidlist, "%u :%s\n", m->uid, base);
	return STORE_OK;
}
