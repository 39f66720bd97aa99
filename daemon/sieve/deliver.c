/*
 * deliver: the user's active script at final delivery (deliver.h).
 */
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/xmalloc.h"
#include "mail/header.h"
#include "sieve/cache.h"
#include "sieve/deliver.h"
#include "sieve/sieve.h"
#include "store/blob.h"
#include "store/queue.h"
#include "store/sieve_store.h"

struct ctx {
	struct store *st;
	int64_t user_id;
	const struct sieve_deliver_input *in;
};

static bool
seen(struct ctx *x, int kind, const char *id)
{
	if (x->in->pending_seen != NULL && x->in->pending_seen(x->in->pending_ctx, kind, id))
		return true;
	return store_sieve_memory_seen(x->st, x->user_id, kind, id);
}

static bool
cb_duplicate(void *c, const char *id, unsigned seconds)
{
	(void)seconds;
	return seen(c, SIEVE_MEMORY_DUPLICATE, id);
}

static bool
cb_vacation(void *c, const char *id, unsigned seconds)
{
	(void)seconds;
	return seen(c, SIEVE_MEMORY_VACATION, id);
}

static void
remember(struct sieve_delivery *d, const char *id, int kind, unsigned seconds)
{
	d->memory = xreallocarray(d->memory, d->n_memory + 1, sizeof *d->memory);
	d->memory_kind = xreallocarray(d->memory_kind, d->n_memory + 1, sizeof *d->memory_kind);
	d->memory_seconds = xreallocarray(d->memory_seconds, d->n_memory + 1,
					  sizeof *d->memory_seconds);
	d->memory[d->n_memory] = xstrdup(id);
	d->memory_kind[d->n_memory] = kind;
	d->memory_seconds[d->n_memory++] = seconds;
}

static struct sieve_outgoing *
add_out(struct sieve_delivery *d, const char *sender, const char *rcpt, const char *blob,
	uint64_t size)
{
	d->out = xreallocarray(d->out, d->n_out + 1, sizeof *d->out);
	struct sieve_outgoing *o = &d->out[d->n_out++];
	o->sender = xstrdup(sender);
	o->rcpt = xstrdup(rcpt);
	memcpy(o->blob, blob, SHA256_HEX_LEN + 1);
	o->size = size;
	o->redirect = false;
	return o;
}

/* A message made here (a reply, a note): stored as a blob. */
static int
put_blob(struct store *st, const char *text, char hash[SHA256_HEX_LEN + 1])
{
	const char *error;
	if (blob_put(st, text, strlen(text), hash, &error) != STORE_OK) {
		log_error("sieve cannot store a message: %s", error);
		return -1;
	}
	return 0;
}

static void
add_copy(struct sieve_delivery *d, const struct sieve_deliver_input *in, const char *mailbox,
	 bool create, char **flags, size_t n_flags, const char *blob, uint64_t size)
{
	static const struct {
		const char *name;
		unsigned bit;
	} sys[] = {
		{ "\\seen", STORE_FLAG_SEEN },	     { "\\answered", STORE_FLAG_ANSWERED },
		{ "\\flagged", STORE_FLAG_FLAGGED }, { "\\deleted", STORE_FLAG_DELETED },
		{ "\\draft", STORE_FLAG_DRAFT },
	};
	d->copies = xreallocarray(d->copies, d->n_copies + 1, sizeof *d->copies);
	d->keywords = xreallocarray(d->keywords, d->n_copies + 1, sizeof *d->keywords);
	d->mailboxes = xreallocarray(d->mailboxes, d->n_copies + 1, sizeof *d->mailboxes);
	d->mailboxes[d->n_copies] = mailbox != NULL ? xstrdup(mailbox) : NULL;
	struct store_copy *c = &d->copies[d->n_copies];
	*c = *in->base;
	c->blob = blob;
	c->size = size;
	c->create = create;
	if (mailbox != NULL) {
		c->mailbox = d->mailboxes[d->n_copies];
		c->special_use = NULL;
	}
	struct buf kw = BUF_INIT;
	for (size_t i = 0; i < n_flags; i++) {
		size_t k = 0;
		while (k < sizeof sys / sizeof sys[0] && !str_eq_nocase(sys[k].name, flags[i]))
			k++;
		if (k < sizeof sys / sizeof sys[0])
			c->flags |= sys[k].bit;
		else if (flags[i][0] != '\\')
			buf_printf(&kw, "%s%s", kw.len > 0 ? " " : "", flags[i]);
	}
	d->keywords[d->n_copies] = kw.len > 0 ? buf_steal(&kw) : NULL;
	buf_free(&kw);
	c->keywords = d->keywords[d->n_copies];
	d->n_copies++;
}

int
sieve_deliver_plan(struct store *st, const struct sieve_deliver_input *in,
		   struct sieve_delivery *d)
{
	const char *error;
	char *text = NULL, *name = NULL;
	memset(d, 0, sizeof *d);
	d->user_id = in->user_id;
	int64_t script_id = 0, version = 0;
	struct buf msg = BUF_INIT, errors = BUF_INIT;
	const struct sieve_script *script = NULL;
	struct sieve_cache_ref *ref = NULL;
	bool failed = false;
	char *why = NULL;
	/* kept compiled (cache.h): the text is read only when it is not */
	int ret = store_sieve_active_version(st, in->user_id, &script_id, &version, &error);
	if (ret == STORE_OK && sieve_cache_find(script_id, version, &script, &ref) < 0) {
		ret = store_sieve_active(st, in->user_id, &script_id, &version, &name, &text,
					 &error);
		/* compiled when it was stored; compiled again once per process
		 * and version */
		if (ret == STORE_OK && sieve_cache_get(script_id, version, in->user_id, text,
						       strlen(text), &script, &ref, &errors) < 0) {
			failed = true;
			why = xasprintf("the script '%s' does not compile:\n%s", name,
					buf_cstr(&errors));
		}
	}
	if (ret == STORE_NOTFOUND)
		return 0;	/* none active (or deactivated between the two reads) */
	if (ret != STORE_OK) {
		log_error("sieve user=%s cannot read the active script: %s", in->user, error);
		sieve_cache_release(&ref);
		free(text);
		free(name);
		buf_free(&errors);
		free(why);
		return STORE_ERROR;
	}
	struct sieve_result r;
	memset(&r, 0, sizeof r);
	/* a message just delivered is in the read cache (blob.h) */
	if (blob_read_cached(st, in->blob, &msg, &error) != STORE_OK) {
		log_error("sieve user=%s cannot read the message: %s", in->user, error);
		sieve_cache_release(&ref);
		free(text);
		free(name);
		buf_free(&errors);
		free(why);
		return STORE_ERROR;
	}
	buf_puts(&msg, "");
	if (!failed) {
		struct ctx x = { st, in->user_id, in };
		struct sieve_env env;
		memset(&env, 0, sizeof env);
		env.msg = msg.data;
		env.msg_len = msg.len;
		env.sender = in->sender;
		env.recipient = in->user;
		env.orig_recipient = in->orig_rcpt;
		env.now = time(NULL);
		env.spam_score = in->spam_score;
		env.spam_percent = in->spam_score <= 0	     ? -1
				   : in->have_spam_percent ? in->spam_percent
							   : (in->spam_score - 1) * 100 / 9;
		env.duplicate_seen = cb_duplicate;
		env.vacation_seen = cb_vacation;
		env.ctx = &x;
		if (sieve_run(script, &env, &r) < 0) {
			failed = true;
			if (name == NULL &&
			    store_sieve_active(st, in->user_id, NULL, NULL, &name, &text, &error) !=
				    STORE_OK)
				name = xstrdup("?");
			why = xasprintf("the script '%s' failed: %s", name, r.error);
		}
	}
	struct buf log = BUF_INIT;
	const char *blob = in->blob;
	uint64_t size = in->size;
	d->blobs = xcalloc(2, sizeof *d->blobs);
	if (!failed && r.header != NULL) {
		/* editheader: a new blob with the edited header */
		size_t hl = mail_header_size(msg.data, msg.len);
		struct buf nm = BUF_INIT;
		buf_puts(&nm, r.header);
		buf_append(&nm, msg.data + hl, msg.len - hl);
		if (put_blob(st, buf_cstr(&nm), d->blobs[1]) == 0) {
			blob = d->blobs[1];
			size = nm.len;
		}
		buf_free(&nm);
	}
	for (size_t i = 0; !failed && i < r.n_actions; i++) {
		struct sieve_action *a = &r.actions[i];
		char hash[SHA256_HEX_LEN + 1];
		switch (a->kind) {
		case SIEVE_ACT_KEEP:
			add_copy(d, in, "INBOX", false, a->flags, a->n_flags, blob, size);
			buf_puts(&log, " keep");
			break;
		case SIEVE_ACT_FILEINTO:
			add_copy(d, in, a->target, a->create, a->flags, a->n_flags, blob, size);
			buf_printf(&log, " fileinto=%s", esc_str(a->target));
			break;
		case SIEVE_ACT_REDIRECT:
			add_out(d, in->sender, a->target, blob, size)->redirect = true;
			buf_printf(&log, " redirect=%s", esc_str(a->target));
			break;
		case SIEVE_ACT_DISCARD:
			buf_puts(&log, " discard");
			break;
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			/* RFC 5429 §2.1.1: after acceptance, a rejection is sent
			 * to the sender (never to the null sender) */
			buf_puts(&log, " reject");
			if (*in->sender != 0) {
				struct buf m = BUF_INIT;
				buf_printf(&m, "From: <%s>\r\nTo: <%s>\r\n"
					   "Subject: Message rejected\r\n"
					   "Auto-Submitted: auto-replied (rejected)\r\n"
					   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
					   "Content-Transfer-Encoding: 8bit\r\n\r\n"
					   "Your message to <%s> was rejected:\r\n\r\n%s\r\n",
					   in->user, in->sender, in->user, a->text);
				if (put_blob(st, buf_cstr(&m), hash) == 0)
					add_out(d, "", in->sender, hash, m.len);
				buf_free(&m);
			}
			break;
		case SIEVE_ACT_VACATION:
		case SIEVE_ACT_NOTIFY:
			if (!a->send) {
				buf_printf(&log, " %s=skip", a->kind == SIEVE_ACT_VACATION ? "vacation"
										 : "notify");
				break;
			}
			if (put_blob(st, a->reply, hash) == 0) {
				/* a notification to several: one message each */
				char *list = xstrdup(a->reply_to), *save = NULL;
				for (char *t = strtok_r(list, ",", &save); t != NULL;
				     t = strtok_r(NULL, ",", &save))
					add_out(d, a->reply_from, t, hash, strlen(a->reply));
				free(list);
			}
			if (a->kind == SIEVE_ACT_VACATION)
				remember(d, a->id, SIEVE_MEMORY_VACATION, a->seconds);
			buf_printf(&log, " %s=%s", a->kind == SIEVE_ACT_VACATION ? "vacation" : "notify",
				   esc_str(a->reply_to));
			break;
		}
	}
	if (failed || r.implicit_keep)
		add_copy(d, in, NULL, false, failed ? NULL : r.implicit_flags,
			 failed ? 0 : r.n_implicit_flags, blob, size);
	for (size_t i = 0; !failed && i < r.n_duplicates; i++)
		remember(d, r.duplicates[i], SIEVE_MEMORY_DUPLICATE, r.duplicate_seconds[i]);
	if (failed) {
		/* tell the user, in the INBOX, beside the message */
		struct buf note = BUF_INIT;
		buf_printf(&note, "From: Mail filter <%s>\r\nTo: <%s>\r\n"
			   "Subject: Your mail filter failed\r\nAuto-Submitted: auto-generated\r\n"
			   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: 8bit\r\n\r\n"
			   "A message from <%s> was kept in your mailbox because %s\r\n",
			   in->user, in->user, in->sender, why);
		if (put_blob(st, buf_cstr(&note), d->blobs[0]) == 0)
			add_copy(d, in, "INBOX", false, NULL, 0, d->blobs[0], note.len);
		log_info("sieve user=%s error: %s", in->user, esc_str(why));
		buf_puts(&log, " error");
		buf_free(&note);
	} else if (r.implicit_keep) {
		buf_puts(&log, " implicit-keep");
	}
	d->log = buf_steal(&log);
	free(why);
	sieve_result_clear(&r);
	sieve_cache_release(&ref);
	buf_free(&msg);
	buf_free(&errors);
	free(text);
	free(name);
	return 1;
}

void
sieve_deliver_finish(struct store *st, struct sieve_delivery *d, const char *qid)
{
	const char *error;
	for (size_t i = 0; i < d->n_out; i++) {
		struct sieve_outgoing *o = &d->out[i];
		struct store_queue_message m;
		memset(&m, 0, sizeof m);
		m.qid = (char *)qid;
		memcpy(m.blob, o->blob, sizeof m.blob);
		m.size = o->size;
		m.sender = o->sender;
		m.user_id = d->user_id;
		m.kind = (char *)"relay";
		struct store_queue_recipient rc;
		memset(&rc, 0, sizeof rc);
		rc.address = o->rcpt;
		rc.state = STORE_QUEUE_PENDING;
		rc.notify = *o->sender == 0 ? STORE_QUEUE_NOTIFY_NEVER : 0;
		if (store_queue_add(st, &m, &rc, 1, NULL, &error) != STORE_OK)
			log_error("sieve cannot queue a message to %s: %s", esc_str(o->rcpt), error);
	}
	for (size_t i = 0; i < d->n_memory; i++)
		if (store_sieve_memory_put(st, d->user_id, d->memory_kind[i], d->memory[i],
					   d->memory_seconds[i], &error) != STORE_OK)
			log_error("sieve cannot remember a reply: %s", error);
}

bool
sieve_delivery_finishes(const struct sieve_delivery *d)
{
	return d->n_out > 0 || d->n_memory > 0;
}

void
sieve_delivery_redirect_sender(struct sieve_delivery *d, const char *sender)
{
	for (size_t i = 0; i < d->n_out; i++) {
		if (!d->out[i].redirect)
			continue;
		free(d->out[i].sender);
		d->out[i].sender = xstrdup(sender);
	}
}

void
sieve_delivery_clear(struct sieve_delivery *d)
{
	for (size_t i = 0; i < d->n_copies; i++) {
		free(d->keywords[i]);
		free(d->mailboxes[i]);
	}
	free(d->keywords);
	free(d->mailboxes);
	free(d->copies);
	free(d->blobs);
	for (size_t i = 0; i < d->n_out; i++) {
		free(d->out[i].sender);
		free(d->out[i].rcpt);
	}
	free(d->out);
	for (size_t i = 0; i < d->n_memory; i++)
		free(d->memory[i]);
	free(d->memory);
	free(d->memory_kind);
	free(d->memory_seconds);
	free(d->log);
	memset(d, 0, sizeof *d);
}
