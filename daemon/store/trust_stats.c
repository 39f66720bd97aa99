/* trust_stats: the inbound checks' counts per domain and hour; see
 * trust_stats.h. */
#include "store/trust_stats.h"

#include <string.h>

#include "store/store_int.h"

static const char SQL_ADD[] =
	"INSERT INTO trust_stats (hour, domain, messages, spf_pass, dkim_pass, dmarc_pass,"
	" dmarc_fail, refused, junk) VALUES (?1, lower(?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
	" ON CONFLICT (hour, domain) DO UPDATE SET messages = messages + ?3,"
	" spf_pass = spf_pass + ?4, dkim_pass = dkim_pass + ?5, dmarc_pass = dmarc_pass + ?6,"
	" dmarc_fail = dmarc_fail + ?7, refused = refused + ?8, junk = junk + ?9";
static const char SQL_SWEEP[] = "DELETE FROM trust_stats WHERE hour < ?1";
static const char SQL_DAY[] =
	"SELECT total(messages), total(spf_pass), total(dkim_pass), total(dmarc_pass),"
	" total(dmarc_fail), total(refused), total(junk) FROM trust_stats"
	" WHERE domain = lower(?1) AND hour > ?2";

int
store_trust_stats_add(struct store *st, const char *domain, int64_t now,
		      const struct store_trust_counts *c, const char **error_r)
{
	int ret = store_begin_light(st, error_r);
	if (ret < 0)
		return ret;
	ret = store_trust_stats_add_tx(st, domain, now, c, error_r);
	return store_end(st, ret, error_r);
}

int
store_trust_stats_add_tx(struct store *st, const char *domain, int64_t now,
			 const struct store_trust_counts *c, const char **error_r)
{
	int64_t hour = now / 3600;
	sqlite3_stmt *s = store_stmt(st, SQL_SWEEP);
	stmt_int(s, 1, hour - STORE_TRUST_STATS_KEEP_HOURS);
	int ret = stmt_exec(st, s, "cannot sweep the check counts", error_r);
	if (ret == STORE_OK) {
		s = store_stmt(st, SQL_ADD);
		stmt_int(s, 1, hour);
		stmt_text(s, 2, domain);
		const int64_t v[] = { c->messages, c->spf_pass, c->dkim_pass, c->dmarc_pass,
				      c->dmarc_fail, c->refused, c->junk };
		for (int i = 0; i < 7; i++)
			stmt_int(s, i + 3, v[i]);
		ret = stmt_exec(st, s, "cannot count the checks", error_r);
	}
	return ret;
}

int
store_trust_stats_day(struct store *st, const char *domain, int64_t now,
		      struct store_trust_counts *c_r, const char **error_r)
{
	int64_t v[7] = { 0 };
	memset(c_r, 0, sizeof *c_r);
	sqlite3_stmt *s = store_stmt(st, SQL_DAY);
	stmt_text(s, 1, domain);
	stmt_int(s, 2, now / 3600 - 24);
	int ret = stmt_ints(st, s, "cannot read the check counts", v, 7, error_r);
	if (ret != STORE_OK)
		return ret;
	c_r->messages = v[0];
	c_r->spf_pass = v[1];
	c_r->dkim_pass = v[2];
	c_r->dmarc_pass = v[3];
	c_r->dmarc_fail = v[4];
	c_r->refused = v[5];
	c_r->junk = v[6];
	return STORE_OK;
}
