/*
 * greylist: the greylisting triplets of port 25 (store/spam.h).
 *
 * A triplet is deferred when first seen, deferred again when retried
 * before the delay, and passed when retried after it (within the retry
 * window, else it starts over); from then on it passes until it has not
 * been seen for the expiry time.  Its last_seen is written at most once
 * per LAST_SEEN_STEP, so a busy sender's mail costs no write each time.
 */
#include <string.h>

#include "core/hash.h"
#include "core/log.h"
#include "store/spam.h"
#include "store/store_int.h"

/* Seconds by which last_seen may lag (expiry is counted in days). */
#define LAST_SEEN_STEP 3600

static const char SQL_GET[] =
	"SELECT first_seen, last_seen, passed FROM greylist WHERE key = ?1";
static const char SQL_PUT[] =
	"INSERT OR REPLACE INTO greylist (key, first_seen, last_seen, passed)"
	" VALUES (?1, ?2, ?3, ?4)";
static const char SQL_SWEEP[] =
	"DELETE FROM greylist WHERE (passed = 1 AND last_seen < ?1)"
	" OR (passed = 0 AND last_seen < ?2)";

static int
put(struct store *st, const char *key, int64_t first, int64_t last, bool passed,
    const char **error_r)
{
	sqlite3_stmt *s = store_stmt(st, SQL_PUT);
	stmt_text(s, 1, key);
	stmt_int(s, 2, first);
	stmt_int(s, 3, last);
	stmt_int(s, 4, passed);
	return stmt_exec(st, s, "cannot record a greylisting triplet", error_r);
}

int
store_greylist_check(struct store *st, const char *key, int64_t now,
		     const struct store_greylist_policy *p, enum store_greylist_verdict *verdict_r,
		     int64_t *retry_r, const char **error_r)
{
	if (strlen(key) != SHA256_HEX_LEN || !is_lower_hex(key, SHA256_HEX_LEN)) {
		*error_r = "invalid greylisting key";
		return STORE_INVALID;
	}
	int ret = store_begin_light(st, error_r);
	if (ret < 0)
		return ret;
	int64_t row[3] = { 0, 0, 0 };
	sqlite3_stmt *s = store_stmt(st, SQL_GET);
	stmt_text(s, 1, key);
	ret = stmt_ints(st, s, "cannot look up a greylisting triplet", row, 3, error_r);
	if (ret != STORE_OK && ret != STORE_NOTFOUND)
		return store_end(st, ret, error_r);
	int64_t first = row[0], last = row[1];
	bool known = ret == STORE_OK, passed = known && row[2] != 0;
	ret = STORE_OK;
	if (known && passed && now - last <= (int64_t)p->expire) {
		*verdict_r = STORE_GREYLIST_PASS;
		if (now - last >= LAST_SEEN_STEP)
			ret = put(st, key, first, now, true, error_r);
	} else if (known && !passed && now - first >= (int64_t)p->delay &&
		   now - first <= (int64_t)p->delay + (int64_t)p->retry_window) {
		*verdict_r = STORE_GREYLIST_PASS;
		ret = put(st, key, first, now, true, error_r);
	} else if (known && !passed && now - first >= 0 && now - first < (int64_t)p->delay) {
		*verdict_r = STORE_GREYLIST_EARLY;
		*retry_r = first + p->delay;
	} else {
		/* new, retried too late, expired, or a clock that went back */
		*verdict_r = STORE_GREYLIST_NEW;
		*retry_r = now + p->delay;
		ret = put(st, key, now, now, false, error_r);
	}
	return store_end(st, ret, error_r);
}

int
store_greylist_sweep(struct store *st, int64_t now, const struct store_greylist_policy *p,
		     unsigned *removed_r, const char **error_r)
{
	*removed_r = 0;
	int ret = store_begin_light(st, error_r);
	if (ret < 0)
		return ret;
	sqlite3_stmt *s = store_stmt(st, SQL_SWEEP);
	/* last_seen may lag by LAST_SEEN_STEP behind the real last use */
	stmt_int(s, 1, now - (int64_t)p->expire - LAST_SEEN_STEP);
	stmt_int(s, 2, now - (int64_t)p->delay - (int64_t)p->retry_window);
	ret = stmt_exec_n(st, s, "cannot sweep the greylisting triplets", removed_r, error_r);
	return store_end(st, ret, error_r);
}
