/*
 * relayq: the relay's part of the store (see relayq.h).
 */
#include "store/relayq.h"

#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/base64.h"
#include "core/config.h"
#include "core/seal.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_int.h"

#define OPEN "state IN ('pending', 'deferred')"
/* open and not held back (sql/028): what the workers may take */
#define SENDABLE OPEN " AND held IS NULL"

static const char SQL_RELEASE[] =
	"UPDATE queue_recipients SET lease_until = NULL, next_attempt = ?1"
	" WHERE lease_until IS NOT NULL AND " OPEN;
static const char SQL_PICK[] =
	"SELECT domain FROM queue_recipients WHERE " SENDABLE " AND next_attempt <= ?1"
	" AND (lease_until IS NULL OR lease_until <= ?1)"
	" ORDER BY next_attempt, id LIMIT 1";
static const char SQL_OF_DOMAIN[] =
	"SELECT " QUEUE_RCPT_COLUMNS " FROM queue_recipients r WHERE r.domain = ?1"
	" AND r." SENDABLE " AND r.next_attempt <= ?2"
	" AND (r.lease_until IS NULL OR r.lease_until <= ?2)"
	" ORDER BY r.message_id, r.id LIMIT ?3";
static const char SQL_LEASE[] =
	"UPDATE queue_recipients SET lease_until = ?2, next_attempt = ?2 WHERE id = ?1";
static const char SQL_NEXT_DUE[] =
	"SELECT min(next_attempt) FROM queue_recipients WHERE " SENDABLE;
static const char SQL_RECORD[] =
	"UPDATE queue_recipients SET attempts = attempts + 1, last_attempt = ?2,"
	" dsn_sent = CASE WHEN ?7 THEN 1 WHEN state = ?3 THEN dsn_sent ELSE 0 END,"
	" state = ?3, next_attempt = ?4, last_reply = ?5, last_host = ?6,"
	" lease_until = NULL WHERE id = ?1";
static const char SQL_DSN_DUE[] =
	"SELECT " QUEUE_RCPT_COLUMNS " FROM queue_recipients r"
	" JOIN queue_messages m ON m.id = r.message_id"
	" WHERE r.dsn_sent = 0 AND m.kind = 'relay' AND m.sender <> ''"
	" AND (r.state = 'failed'"
	"   OR (r.state = 'delivered' AND (r.notify & 3) = 2)"
	"   OR (r.state = 'deferred' AND r.lease_until IS NULL AND m.created <= ?1))"
	" ORDER BY r.message_id, r.id LIMIT ?2";
static const char SQL_DSN_DONE[] =
	"UPDATE queue_recipients SET dsn_sent = 1 WHERE id = ?1";
static const char SQL_EXPIRE[] =
	"UPDATE queue_recipients SET state = 'failed', dsn_sent = 0, last_reply = ?2"
	" WHERE " SENDABLE " AND lease_until IS NULL AND message_id IN"
	" (SELECT id FROM queue_messages WHERE created < ?1)";

static const char SQL_SH_GET[] =
	"SELECT host, port, tls, username, password, updated, oauth_upstream"
	" FROM relay_smarthost WHERE id = 1";
static const char SQL_SH_SET[] =
	"INSERT OR REPLACE INTO relay_smarthost (id, host, port, tls, username,"
	" password, updated, oauth_upstream) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_SH_DEL[] = "DELETE FROM relay_smarthost";

static const char SQL_DKIM_GET[] =
	"SELECT algorithm, selector, private_key, public_key, created FROM dkim_keys"
	" WHERE domain_id = ?1 ORDER BY algorithm = 'rsa', id";
static const char SQL_DKIM_ADD[] =
	"INSERT OR IGNORE INTO dkim_keys (domain_id, algorithm, selector,"
	" private_key, public_key, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/* a sealed value starts with its format version (core/seal.h) */
static const char SQL_DKIM_PLAIN[] =
	"SELECT id, private_key FROM dkim_keys WHERE private_key NOT LIKE 'v1:%'";
static const char SQL_DKIM_SEAL[] =
	"UPDATE dkim_keys SET private_key = ?2 WHERE id = ?1 AND private_key = ?3";

/* ---- rows -------------------------------------------------------------- */

void
relayq_items_free(struct relayq_item **items, size_t n)
{
	if (*items == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		store_queue_message_clear(&(*items)[i].msg);
		store_queue_recipient_list_free(&(*items)[i].rcpts, (*items)[i].n_rcpts);
	}
	xfree(*items);
}

void
relayq_batch_clear(struct relayq_batch *batch)
{
	free(batch->domain);
	relayq_items_free(&batch->items, batch->n_items);
	memset(batch, 0, sizeof *batch);
}

/* Reads recipient rows grouped by message (rows come in message order)
 * into items, at most max_messages messages; loads each message. */
static int
read_grouped(struct store *st, sqlite3_stmt *s, size_t max_messages,
	     struct relayq_item **items_r, size_t *n_r, const char **error_r)
{
	struct relayq_item *items = NULL;
	size_t n = 0, cap = 0, rcap = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t mid = sqlite3_column_int64(s, 1);
		if (n == 0 || items[n - 1].msg.id != mid) {
			if (n == max_messages)
				break;
			if (n == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				items = xreallocarray(items, cap, sizeof *items);
			}
			memset(&items[n], 0, sizeof items[n]);
			items[n].msg.id = mid;
			n++;
			rcap = 0;
		}
		struct relayq_item *it = &items[n - 1];
		if (it->n_rcpts == rcap) {
			rcap = rcap == 0 ? 4 : rcap * 2;
			it->rcpts = xreallocarray(it->rcpts, rcap, sizeof *it->rcpts);
		}
		struct store_queue_recipient *r = &it->rcpts[it->n_rcpts++];
		memset(r, 0, sizeof *r);
		store_queue_recipient_read(s, r);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		*error_r = store_db_error(st, "cannot read queue recipients");
		relayq_items_free(&items, n);
		return STORE_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		/* relayq.h: the counts are not filled */
		int ret = store_queue_message_load(st, items[i].msg.id, false,
						   &items[i].msg, error_r);
		if (ret != STORE_OK) {
			relayq_items_free(&items, n);
			return ret;
		}
	}
	*items_r = items;
	*n_r = n;
	return STORE_OK;
}

int
relayq_release_all(struct store *st, unsigned *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_RELEASE);
	stmt_int(s, 1, store_now());
	return stmt_exec_n(st, s, "cannot release queue leases", n_r, error_r);
}

int
relayq_claim(struct store *st, int64_t now, int64_t lease_until,
	     size_t max_rcpts, size_t max_messages, struct relayq_batch *batch_r,
	     const char **error_r)
{
	memset(batch_r, 0, sizeof *batch_r);
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_PICK);
	stmt_int(s, 1, now);
	ret = stmt_row(st, s, "cannot read the queue", error_r);
	if (ret != STORE_OK) {
		store_rollback(st);
		/* STORE_NOTFOUND: nothing due, an empty batch */
		return ret == STORE_NOTFOUND ? STORE_OK : ret;
	}
	char *domain = stmt_col_strdup(s, 0);
	stmt_done(s);
	if (domain == NULL)
		domain = xstrdup("");

	s = store_stmt(st, SQL_OF_DOMAIN);
	stmt_text(s, 1, domain);
	stmt_int(s, 2, now);
	stmt_int(s, 3, (int64_t)max_rcpts);
	ret = read_grouped(st, s, max_messages, &batch_r->items, &batch_r->n_items,
			   error_r);
	for (size_t i = 0; i < batch_r->n_items && ret == STORE_OK; i++) {
		const struct relayq_item *it = &batch_r->items[i];
		for (size_t k = 0; k < it->n_rcpts && ret == STORE_OK; k++) {
			s = store_stmt(st, SQL_LEASE);
			stmt_int(s, 1, it->rcpts[k].id);
			stmt_int(s, 2, lease_until);
			ret = stmt_exec(st, s, "cannot lease a queue recipient", error_r);
		}
	}
	ret = store_end(st, ret, error_r);
	if (ret != STORE_OK) {
		free(domain);
		relayq_batch_clear(batch_r);
		return ret;
	}
	batch_r->domain = domain;
	return STORE_OK;
}

int
relayq_next_due(struct store *st, int64_t *when_r, const char **error_r)
{
	return stmt_ints(st, store_stmt(st, SQL_NEXT_DUE), "cannot read the queue",
			 when_r, 1, error_r);
}

int
relayq_record(struct store *st, const struct relayq_outcome *o, size_t n,
	      const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	int64_t now = store_now();
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		sqlite3_stmt *s = store_stmt(st, SQL_RECORD);
		stmt_int(s, 1, o[i].rcpt_id);
		stmt_int(s, 2, now);
		stmt_text(s, 3, store_queue_state_name(o[i].state));
		stmt_int(s, 4, o[i].state == STORE_QUEUE_DEFERRED ? o[i].next_attempt : now);
		stmt_text(s, 5, o[i].reply);
		stmt_text(s, 6, o[i].host);
		stmt_int(s, 7, o[i].dsn_passed ? 1 : 0);
		ret = stmt_exec(st, s, "cannot record a delivery attempt", error_r);
	}
	return store_end(st, ret, error_r);
}

int
relayq_dsn_due(struct store *st, int64_t delayed_before, size_t max,
	       struct relayq_item **items_r, size_t *n_r, const char **error_r)
{
	*items_r = NULL;
	*n_r = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_DSN_DUE);
	stmt_int(s, 1, delayed_before);
	stmt_int(s, 2, (int64_t)max);
	return read_grouped(st, s, max, items_r, n_r, error_r);
}

int
relayq_dsn_done(struct store *st, const int64_t *ids, size_t n, const char **error_r)
{
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		sqlite3_stmt *s = store_stmt(st, SQL_DSN_DONE);
		stmt_int(s, 1, ids[i]);
		ret = stmt_exec(st, s, "cannot mark a DSN as sent", error_r);
	}
	return store_end(st, ret, error_r);
}

int
relayq_expire(struct store *st, int64_t created_before, const char *reason,
	      unsigned *n_r, const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_EXPIRE);
	stmt_int(s, 1, created_before);
	stmt_text(s, 2, reason);
	return stmt_exec_n(st, s, "cannot expire queue recipients", n_r, error_r);
}

/* ---- smarthost ---------------------------------------------------------- */

void
relayq_smarthost_clear(struct relayq_smarthost *sh)
{
	free(sh->host);
	free(sh->tls);
	free(sh->username);
	if (sh->password_sealed != NULL)
		explicit_bzero(sh->password_sealed, strlen(sh->password_sealed));
	free(sh->password_sealed);
	memset(sh, 0, sizeof *sh);
}

int
relayq_smarthost_get(struct store *st, struct relayq_smarthost *sh_r,
		     const char **error_r)
{
	memset(sh_r, 0, sizeof *sh_r);
	sqlite3_stmt *s = store_stmt(st, SQL_SH_GET);
	int ret = stmt_row(st, s, "cannot read the smarthost", error_r);
	if (ret == STORE_NOTFOUND)
		*error_r = "no smarthost: direct delivery";
	if (ret != STORE_OK)
		return ret;
	sh_r->host = stmt_col_strdup(s, 0);
	sh_r->port = (unsigned)sqlite3_column_int(s, 1);
	sh_r->tls = stmt_col_strdup(s, 2);
	sh_r->username = stmt_col_strdup(s, 3);
	sh_r->password_sealed = stmt_col_strdup(s, 4);
	sh_r->updated = sqlite3_column_int64(s, 5);
	sh_r->oauth_upstream = sqlite3_column_int64(s, 6);
	stmt_done(s);
	if (sh_r->host == NULL)
		sh_r->host = xstrdup("");
	if (sh_r->tls == NULL)
		sh_r->tls = xstrdup("starttls");
	return STORE_OK;
}

static bool
host_valid(const char *h)
{
	/* a host name (LDH labels) or an IPv4/IPv6 literal */
	size_t n = strlen(h);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

int
relayq_smarthost_set(struct store *st, const struct relayq_smarthost *sh,
		     const char **error_r)
{
	sqlite3_stmt *s;
	if (sh == NULL) {
		s = store_stmt(st, SQL_SH_DEL);
		return stmt_exec(st, s, "cannot remove the smarthost", error_r);
	}
	if (sh->host == NULL || !host_valid(sh->host)) {
		*error_r = "the smarthost is not a valid host name or address";
		return STORE_INVALID;
	}
	if (sh->port < 1 || sh->port > 65535) {
		*error_r = "the smarthost port must be 1-65535";
		return STORE_INVALID;
	}
	if (sh->tls == NULL ||
	    (strcmp(sh->tls, "implicit") != 0 && strcmp(sh->tls, "starttls") != 0)) {
		*error_r = "the smarthost tls must be \"implicit\" or \"starttls\"";
		return STORE_INVALID;
	}
	if (sh->oauth_upstream != 0 && sh->username != NULL) {
		*error_r = "a smarthost logs in with a password or an account's OAuth2 grant, "
			   "not both";
		return STORE_INVALID;
	}
	if ((sh->username == NULL) != (sh->password_sealed == NULL)) {
		*error_r = "a smarthost username needs a password, and a password a username";
		return STORE_INVALID;
	}
	if (sh->username != NULL && (sh->username[0] == '\0' || strlen(sh->username) > 320)) {
		*error_r = "the smarthost username must have 1 to 320 bytes";
		return STORE_INVALID;
	}
	s = store_stmt(st, SQL_SH_SET);
	stmt_text(s, 1, sh->host);
	stmt_int(s, 2, sh->port);
	stmt_text(s, 3, sh->tls);
	stmt_text(s, 4, sh->username);
	stmt_text(s, 5, sh->password_sealed);
	stmt_int(s, 6, store_now());
	if (sh->oauth_upstream != 0)
		stmt_int(s, 7, sh->oauth_upstream);
	return stmt_exec(st, s, "cannot set the smarthost", error_r);
}

/* ---- DKIM keys ------------------------------------------------------------ */

static void
key_read(sqlite3_stmt *s, void *elem)
{
	struct relayq_dkim_key *k = elem;
	k->algorithm = stmt_col_strdup(s, 0);
	k->selector = stmt_col_strdup(s, 1);
	k->private_key = stmt_col_strdup(s, 2);
	k->public_key = stmt_col_strdup(s, 3);
	k->created = sqlite3_column_int64(s, 4);
}

static void
key_clear(void *elem)
{
	struct relayq_dkim_key *k = elem;
	free(k->algorithm);
	free(k->selector);
	if (k->private_key != NULL)
		explicit_bzero(k->private_key, strlen(k->private_key));
	free(k->private_key);
	free(k->public_key);
}

static const struct stmt_rows key_rows = {
	.size = sizeof(struct relayq_dkim_key),
	.read = key_read,
	.clear = key_clear,
};

void
relayq_dkim_keys_free(struct relayq_dkim_key **keys, size_t n)
{
	stmt_rows_free(&key_rows, *keys, n);
	*keys = NULL;
}

static bool
is_sealed(const char *value)
{
	return strncmp(value, "v1:", 3) == 0;
}

/* A private key as stored: sealed (plain PEM only from older versions). */
static int
open_key(struct relayq_dkim_key *k, const char **error_r)
{
	if (k->private_key == NULL || !is_sealed(k->private_key))
		return STORE_OK;
	char *pem;
	size_t len;
	const char *err;
	if (unseal(k->private_key, &pem, &len, &err) < 0) {
		*error_r = errfmt("cannot open the DKIM key %s: %s", k->selector, err);
		return STORE_ERROR;
	}
	explicit_bzero(k->private_key, strlen(k->private_key));
	free(k->private_key);
	k->private_key = pem;
	return STORE_OK;
}

static int
read_keys(struct store *st, int64_t domain_id, struct relayq_dkim_key **keys_r,
	  size_t *n_r, const char **error_r)
{
	void *keys;
	sqlite3_stmt *s = store_stmt(st, SQL_DKIM_GET);
	stmt_int(s, 1, domain_id);
	int ret = stmt_list(st, s, &key_rows, "cannot read DKIM keys", &keys, n_r,
			    error_r);
	if (ret != STORE_OK)
		return ret;
	struct relayq_dkim_key *list = keys;
	for (size_t i = 0; i < *n_r && ret == STORE_OK; i++)
		ret = open_key(&list[i], error_r);
	if (ret != STORE_OK) {
		relayq_dkim_keys_free(&list, *n_r);
		*n_r = 0;
		return ret;
	}
	*keys_r = list;
	return STORE_OK;
}

int
relayq_dkim_seal_plain(struct store *st, unsigned *sealed_r, const char **error_r)
{
	unsigned sealed = 0;
	if (sealed_r != NULL)
		*sealed_r = 0;
	if (!seal_key_ready())
		return STORE_OK;
	int ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		return ret;
	/* read all first: the UPDATEs must not run under the open SELECT */
	int64_t *ids = NULL;
	char **plain = NULL;
	size_t n = 0;
	sqlite3_stmt *s = store_stmt(st, SQL_DKIM_PLAIN);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		plain = xreallocarray(plain, n + 1, sizeof *plain);
		ids[n] = sqlite3_column_int64(s, 0);
		plain[n++] = stmt_col_strdup(s, 1);
	}
	stmt_done(s);
	if (rc != SQLITE_DONE) {
		*error_r = store_db_error(st, "cannot read DKIM keys");
		ret = STORE_ERROR;
	}
	for (size_t i = 0; i < n && ret == STORE_OK; i++) {
		char *value;
		const char *err;
		if (plain[i] == NULL)
			continue;
		if (seal(plain[i], strlen(plain[i]), &value, &err) < 0) {
			*error_r = errfmt("cannot seal a DKIM key: %s", err);
			ret = STORE_ERROR;
			break;
		}
		s = store_stmt(st, SQL_DKIM_SEAL);
		stmt_int(s, 1, ids[i]);
		stmt_text(s, 2, value);
		stmt_text(s, 3, plain[i]);
		unsigned changed = 0;
		ret = stmt_exec_n(st, s, "cannot seal a DKIM key", &changed, error_r);
		sealed += changed;
		free(value);
	}
	for (size_t i = 0; i < n; i++) {
		if (plain[i] != NULL)
			explicit_bzero(plain[i], strlen(plain[i]));
		free(plain[i]);
	}
	free(plain);
	free(ids);
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK && sealed_r != NULL)
		*sealed_r = sealed;
	return ret;
}

/* A new key pair: the private key as PKCS#8 PEM and the DNS p= value
 * (RFC 8463 §4: Ed25519's raw 32 bytes; RFC 6376 §3.6.1: RSA's
 * SubjectPublicKeyInfo DER), both base64. */
static int
make_key(bool ed25519, char **pem_r, char **pub_r, const char **error_r)
{
	EVP_PKEY *pkey = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
				 : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (pkey == NULL) {
		*error_r = "cannot make a DKIM key";
		return STORE_ERROR;
	}
	struct buf pub = BUF_INIT;
	unsigned char *der = NULL;
	int ok = 0;
	if (ed25519) {
		unsigned char raw[32];
		size_t rl = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(pkey, raw, &rl) == 1 && rl == 32) {
			base64_encode(&pub, raw, rl);
			ok = 1;
		}
	} else {
		int dl = i2d_PUBKEY(pkey, &der);
		if (dl > 0) {
			base64_encode(&pub, der, (size_t)dl);
			ok = 1;
		}
		OPENSSL_free(der);
	}
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	if (ok && bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1) {
		char *p;
		long l = BIO_get_mem_data(bio, &p);
		pem = xstrndup(p, (size_t)l);
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	if (pem == NULL) {
		buf_free(&pub);
		*error_r = "cannot write a DKIM key";
		return STORE_ERROR;
	}
	*pem_r = pem;
	*pub_r = buf_steal(&pub);
	return STORE_OK;
}

int
relayq_dkim_keys(struct store *st, const char *domain, bool create,
		 struct relayq_dkim_key **keys_r, size_t *n_r, const char **error_r)
{
	int64_t domain_id;
	*keys_r = NULL;
	*n_r = 0;
	char *lower = xstrdup(domain);
	str_lower(lower);
	int ret = store_domain_id(st, lower, &domain_id, error_r);
	free(lower);
	if (ret != STORE_OK)
		return ret;
	ret = read_keys(st, domain_id, keys_r, n_r, error_r);
	if (ret != STORE_OK || *n_r >= 2 || !create) {
		if (ret == STORE_OK && *n_r == 0) {
			*error_r = "the domain has no DKIM keys yet";
			return STORE_NOTFOUND;
		}
		return ret;
	}
	relayq_dkim_keys_free(keys_r, *n_r);
	*n_r = 0;

	/* made outside the transaction (RSA takes a moment), stored in one,
	 * sealed (the PEM never reaches the database) */
	char *pem[2] = { NULL, NULL }, *pub[2] = { NULL, NULL };
	char *sealed[2] = { NULL, NULL };
	for (int i = 0; i < 2; i++) {
		ret = make_key(i == 0, &pem[i], &pub[i], error_r);
		if (ret != STORE_OK)
			goto out;
		const char *err;
		if (seal(pem[i], strlen(pem[i]), &sealed[i], &err) < 0) {
			*error_r = errfmt("cannot seal a new DKIM key: %s", err);
			ret = STORE_ERROR;
			goto out;
		}
	}
	char month[16];
	time_t now = (time_t)store_now();
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(month, sizeof month, "%Y%m", &tm);
	ret = store_begin(st, error_r);
	if (ret != STORE_OK)
		goto out;
	for (int i = 0; i < 2 && ret == STORE_OK; i++) {
		char *sel = xasprintf("%s-%s", i == 0 ? "ed" : "rsa", month);
		sqlite3_stmt *s = store_stmt(st, SQL_DKIM_ADD);
		stmt_int(s, 1, domain_id);
		stmt_text(s, 2, i == 0 ? "ed25519" : "rsa");
		stmt_text(s, 3, sel);
		stmt_text(s, 4, sealed[i]);
		stmt_text(s, 5, pub[i]);
		stmt_int(s, 6, (int64_t)now);
		free(sel);
		ret = stmt_exec(st, s, "cannot store a DKIM key", error_r);
	}
	ret = store_end(st, ret, error_r);
	if (ret == STORE_OK) {
		log_info("dkim keys created domain=%s", esc_str(domain));
		ret = read_keys(st, domain_id, keys_r, n_r, error_r);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (pem[i] != NULL)
			explicit_bzero(pem[i], strlen(pem[i]));
		free(pem[i]);
		free(pub[i]);
		free(sealed[i]);
	}
	return ret;
}

void
relayq_dkim_txt(const struct relayq_dkim_key *key, struct buf *out)
{
	buf_printf(out, "v=DKIM1; k=%s; p=%s",
		   strcmp(key->algorithm, "ed25519") == 0 ? "ed25519" : "rsa",
		   key->public_key);
}

/* ---- DNS records ---------------------------------------------------------- */

static void
add_record(struct relayq_dns_record **list, size_t *n, const char *purpose,
	   const char *name, const char *type, const char *value, const char *selector)
{
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	struct relayq_dns_record *r = &(*list)[(*n)++];
	r->purpose = xstrdup(purpose);
	r->name = xstrdup(name);
	r->type = xstrdup(type);
	r->value = xstrdup(value);
	r->selector = selector != NULL ? xstrdup(selector) : NULL;
}

void
relayq_dns_records_free(struct relayq_dns_record **list, size_t n)
{
	if (*list == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*list)[i].purpose);
		free((*list)[i].name);
		free((*list)[i].type);
		free((*list)[i].value);
		free((*list)[i].selector);
	}
	xfree(*list);
}

/*
 * RFC 6186 §3: _imap, _imaps, _pop3, _pop3s and _submission SRV records;
 * RFC 8314 §5.1 adds _submissions.  The port is the listener's as the
 * config has it; a service this server does not offer gets the "not
 * available" form of RFC 6186 §4 (priority 0, weight 0, port 0, target
 * ".") so that clients do not guess.
 */
static void
add_srv(struct relayq_dns_record **list, size_t *n, const struct config *cfg,
	const char *domain, const char *hostname, const char *service,
	enum listen_kind kind)
{
	char *name = xasprintf("_%s._tcp.%s.", service, domain);
	char *value = cfg->listen[kind].enabled
		? xasprintf("0 1 %u %s.", cfg->listen[kind].port, hostname)
		: xstrdup("0 0 0 .");
	add_record(list, n, "client autoconfiguration (RFC 6186)", name, "SRV", value, NULL);
	free(name);
	free(value);
}

bool
relayq_mta_sts_policy(const struct config *cfg, struct buf *text, char id[17])
{
	id[0] = '\0';
	if (cfg->relay_mta_sts_publish == NULL ||
	    strcmp(cfg->relay_mta_sts_publish, "none") == 0)
		return false;
	buf_printf(text, "version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: %u\r\n",
		   cfg->relay_mta_sts_publish,
		   cfg->hostname != NULL ? cfg->hostname : "localhost",
		   cfg->relay_mta_sts_max_age);
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(text->data, text->len, md, &mdlen, EVP_sha256(), NULL) != 1)
		memset(md, 0, sizeof md);
	for (int i = 0; i < 8; i++)
		snprintf(id + i * 2, 3, "%02x", md[i]);
	return true;
}

int
relayq_dns_records(struct store *st, const char *domain, const struct config *cfg,
		   struct relayq_dns_record **list_r, size_t *n_r,
		   char **dkim_error_r, const char **error_r)
{
	struct relayq_dkim_key *keys = NULL;
	size_t n_keys = 0;
	const char *error;
	*list_r = NULL;
	*n_r = 0;
	*dkim_error_r = NULL;
	/* RFC 6376 §3.6.2.1: the relay signs with these (made here on first
	 * use), so what is shown is what signatures will need */
	int ret = relayq_dkim_keys(st, domain, true, &keys, &n_keys, &error);
	if (ret == STORE_NOTFOUND) {
		*error_r = errfmt("domain '%s' does not exist", esc_str(domain));
		return ret;
	}
	if (ret != STORE_OK || n_keys == 0) {
		/* the other records are still worth showing */
		*dkim_error_r = xstrdup(ret != STORE_OK ? error : "the domain has no DKIM key");
		n_keys = 0;
	}
	const char *hostname = cfg->hostname != NULL ? cfg->hostname : "localhost";
	char *d = xstrdup(domain);
	str_lower(d);
	struct relayq_dns_record *list = NULL;
	size_t n = 0;
	char *name = xasprintf("%s.", d);
	char *v = xasprintf("10 %s.", hostname);
	/* RFC 5321 §5.1: mail for the domain goes to its MX host */
	add_record(&list, &n, "receive mail (MX)", name, "MX", v, NULL);
	free(v);
	/* RFC 7208: the MX may send for the domain, nobody else (with a
	 * smarthost, add its own SPF mechanism before -all) */
	add_record(&list, &n, "sender policy (SPF)", name, "TXT", "v=spf1 mx -all", NULL);
	free(name);
	for (size_t i = 0; i < n_keys; i++) {
		struct buf txt = BUF_INIT;
		relayq_dkim_txt(&keys[i], &txt);
		name = xasprintf("%s._domainkey.%s.", keys[i].selector, d);
		char *purpose = xasprintf("DKIM signing key (%s)", keys[i].algorithm);
		add_record(&list, &n, purpose, name, "TXT", buf_cstr(&txt), keys[i].selector);
		free(name);
		free(purpose);
		buf_free(&txt);
	}
	/* RFC 7489 §6.3: start with p=none, tighten once reports look right */
	name = xasprintf("_dmarc.%s.", d);
	add_record(&list, &n, "DMARC policy", name, "TXT", "v=DMARC1; p=none; adkim=r; aspf=r",
		   NULL);
	free(name);
	/* what mail clients look up first (the admin listener answers them) */
	char *target = xasprintf("%s.", hostname);
	name = xasprintf("autoconfig.%s.", d);
	add_record(&list, &n, "Thunderbird autoconfig", name, "CNAME", target, NULL);
	free(name);
	name = xasprintf("autodiscover.%s.", d);
	add_record(&list, &n, "Outlook autodiscover", name, "CNAME", target, NULL);
	free(name);
	/* RFC 8461 §3.1: the policy's id, and its host (the admin listener
	 * answers https://mta-sts.DOMAIN/.well-known/mta-sts.txt) */
	struct buf policy = BUF_INIT;
	char id[17];
	if (relayq_mta_sts_policy(cfg, &policy, id)) {
		name = xasprintf("_mta-sts.%s.", d);
		v = xasprintf("v=STSv1; id=%s", id);
		add_record(&list, &n, "MTA-STS policy id (RFC 8461)", name, "TXT", v, NULL);
		free(name);
		free(v);
		name = xasprintf("mta-sts.%s.", d);
		add_record(&list, &n, "MTA-STS policy host (HTTPS on port 443)", name, "CNAME",
			   target, NULL);
		free(name);
	}
	buf_free(&policy);
	/* RFC 8460 §3: where other servers send their TLS reports */
	name = xasprintf("_smtp._tls.%s.", d);
	v = xasprintf("v=TLSRPTv1; rua=mailto:postmaster@%s", d);
	add_record(&list, &n, "TLS reports (RFC 8460)", name, "TXT", v, NULL);
	free(name);
	free(v);
	add_srv(&list, &n, cfg, d, hostname, "submissions", LISTEN_SUBMISSIONS);
	add_srv(&list, &n, cfg, d, hostname, "submission", LISTEN_SUBMISSION);
	add_srv(&list, &n, cfg, d, hostname, "imaps", LISTEN_IMAPS);
	add_srv(&list, &n, cfg, d, hostname, "imap", LISTEN_IMAP);
	add_srv(&list, &n, cfg, d, hostname, "pop3s", LISTEN_POP3S);
	add_srv(&list, &n, cfg, d, hostname, "pop3", LISTEN_POP3);
	free(target);
	free(d);
	relayq_dkim_keys_free(&keys, n_keys);
	*list_r = list;
	*n_r = n;
	return STORE_OK;
}
