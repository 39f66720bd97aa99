-- 019_outbound: what the relay learns and remembers about the TLS of the
-- domains it sends to, and the limits on what local users send.
--
-- mta_sts_policies: RFC 8461 policies as fetched (§3.3), kept until
-- fetched + max_age (§5.1: a policy in the cache is used while it is
-- fresh, and refreshed when the TXT record's id changes).
CREATE TABLE mta_sts_policies (
	domain TEXT PRIMARY KEY,		-- the recipient domain, lowercase
	policy_id TEXT NOT NULL,		-- the id of the _mta-sts TXT record
	mode TEXT NOT NULL CHECK (mode IN ('enforce', 'testing', 'none')),
	mx TEXT NOT NULL,			-- the mx patterns, one a line
	max_age INTEGER NOT NULL,
	fetched INTEGER NOT NULL,		-- seconds since the epoch
	checked INTEGER NOT NULL,		-- the TXT record was last looked at
	policy_text TEXT NOT NULL		-- the body as served (TLS-RPT's policy-string)
);

-- tls_results: RFC 8460 §4.4 counters, one row per day, recipient domain,
-- policy that applied, MX host, result ("success" or a result-type of
-- §4.3) and receiving IP; the daily report is made from them.
CREATE TABLE tls_results (
	day TEXT NOT NULL,			-- YYYY-MM-DD, UTC
	domain TEXT NOT NULL,
	policy_type TEXT NOT NULL CHECK (policy_type IN ('sts', 'tlsa', 'no-policy-found')),
	policy_string TEXT NOT NULL,		-- the policy's lines joined with LF
	mx_host TEXT NOT NULL,
	result TEXT NOT NULL,
	receiving_ip TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',	-- the last failure in words
	count INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (day, domain, policy_type, mx_host, result, receiving_ip)
);

-- tlsrpt_sent: the daily reports already sent (or found owed to nobody).
CREATE TABLE tlsrpt_sent (
	day TEXT NOT NULL,
	domain TEXT NOT NULL,
	sent INTEGER NOT NULL,
	rua TEXT,				-- where it went, NULL: the domain asks for none
	PRIMARY KEY (day, domain)
);

-- tlsrpt_received: reports other MTAs sent about our domains (RFC 8460
-- §4), parsed for the panel.
CREATE TABLE tlsrpt_received (
	id INTEGER PRIMARY KEY,
	organization TEXT NOT NULL,
	report_id TEXT NOT NULL,
	policy_domain TEXT NOT NULL,
	start INTEGER NOT NULL,
	end INTEGER NOT NULL,
	successes INTEGER NOT NULL,
	failures INTEGER NOT NULL,
	received INTEGER NOT NULL,
	report TEXT NOT NULL,			-- the JSON as received
	UNIQUE (organization, report_id, policy_domain)
);

-- relay_domains: per destination domain, how the last delivery went (the
-- panel's outgoing-mail page).
CREATE TABLE relay_domains (
	domain TEXT PRIMARY KEY,
	tls TEXT NOT NULL DEFAULT 'none',	-- "TLSv1.3", "none"
	mta_sts TEXT NOT NULL DEFAULT 'none',	-- "enforce", "testing", "none"
	dane TEXT NOT NULL DEFAULT 'none',	-- "verified", "none"
	last_host TEXT,
	last_error TEXT,
	last_ok INTEGER,
	updated INTEGER NOT NULL
);

-- send_counts: messages and recipients local users submitted, per user or
-- domain ("user:alice@example.org", "domain:example.org") and hour.
CREATE TABLE send_counts (
	scope TEXT NOT NULL,
	hour INTEGER NOT NULL,			-- seconds since the epoch / 3600
	messages INTEGER NOT NULL DEFAULT 0,
	recipients INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (scope, hour)
);

-- send_limit_hits: who ran into a sending limit, for the panel.
CREATE TABLE send_limit_hits (
	scope TEXT PRIMARY KEY,
	hits INTEGER NOT NULL,
	last_hit INTEGER NOT NULL,
	what TEXT NOT NULL			-- "messages per hour (100)"
);

-- RFC 8689: a message submitted with REQUIRETLS keeps the demand on every
-- hop; held: outbound mail rspamd judged spam waits for the admin (NULL:
-- not held, else the reason).
ALTER TABLE queue_messages ADD COLUMN requiretls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_messages ADD COLUMN held TEXT;
