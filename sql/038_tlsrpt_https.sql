-- 038_tlsrpt_https: our daily TLS reports (RFC 8460) owed to https: rua
-- addresses (issue 21).  A domain's _smtp._tls record may name https: URIs
-- besides mailto: ones (RFC 8460 §3); the report for each is POSTed
-- (§5.4, application/tlsrpt+gzip) by the relay's worker 0, and retried
-- with exponential back-off for up to a day after it was first owed
-- (§5.5).
--
-- state: 'pending' (next_try says when), 'sent' (a 2xx came back) or
-- 'failed' (given up); attempts counts the POSTs made, last_error says
-- why the last one failed.  report is the JSON (gzipped when sent).
-- Rows that are done are removed after 30 days.
CREATE TABLE tlsrpt_posts (
	id INTEGER PRIMARY KEY,
	day TEXT NOT NULL,
	domain TEXT NOT NULL,
	uri TEXT NOT NULL,
	report TEXT NOT NULL,
	created INTEGER NOT NULL,
	next_try INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL DEFAULT 'pending',
	last_error TEXT,
	done INTEGER,
	UNIQUE (day, domain, uri)
);
CREATE INDEX tlsrpt_posts_due ON tlsrpt_posts(state, next_try);
