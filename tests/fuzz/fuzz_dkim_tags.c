/* libFuzzer target: the tag=value lists of DKIM (RFC 6376 §3.2) as a peer
 * writes them: a DKIM-Signature field (parsed, its b= removed and
 * canonicalized, checked against a key from a table) and a key record (as
 * an RSA and as an Ed25519 key), and the value readers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "trust/dkim_verify.h"
#include "trust/dkim_verify_int.h"
#include "trust/dkim_verify_tags.h"
#include "trust/dns_source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key a signature of the input finds, whatever its d= and s=: any
 * name under the table's wildcard. */
static const char KEYS[] =
	"*.test TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n";

static void
readers(const struct dkim_tags *tags)
{
	for (size_t i = 0; i < tags->n; i++) {
		const struct dkim_tag *t = &tags->tag[i];
		struct buf out = BUF_INIT;
		unsigned long long v;
		size_t pos = 0, len;
		const char *item;
		(void)dkim_tag_base64(t, &out);
		(void)dkim_tag_squeeze(t, &out);
		(void)dkim_tag_uint(t, 76, &v);
		(void)dkim_tag_is(t, "relaxed", true);
		while (dkim_tag_list_next(t, ':', &pos, &item, &len))
			;
		buf_free(&out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct dkim_tags tags;
	const char *error;
	if (dkim_tags_parse(text, size, &tags, &error) == 0)
		readers(&tags);

	for (int alg = DKIM_ALG_RSA_SHA256; alg <= DKIM_ALG_ED25519_SHA256; alg++) {
		struct dkim_key_record key;
		enum dkim_status status;
		const char *reason;
		if (dkim_key_parse(text, size, alg, &key, &status, &reason) == 0)
			dkim_key_free(&key);
	}

	/* the input as the value of a DKIM-Signature field of a message */
	struct buf msg = BUF_INIT;
	buf_puts(&msg, "DKIM-Signature: ");
	buf_append(&msg, data, size);
	buf_puts(&msg, "\r\nFrom: a@b.test\r\nSubject: x\r\n\r\nbody\r\n");
	size_t hl = mail_header_size(msg.data, msg.len);
	struct dkim_verify *v = dkim_verify_new(msg.data, hl, 1700000000);
	dkim_verify_body(v, msg.data + hl, msg.len - hl);
	struct dns_table *t = dns_table_new();
	(void)dns_table_load(t, KEYS, strlen(KEYS), &error);
	struct dns_source src = dns_table_source(t);
	dkim_verify_finish(v, &src);
	(void)dkim_verify_summary(v);
	dkim_verify_free(&v);
	dns_table_free(&t);
	buf_free(&msg);
	return 0;
}
