-- 013_trust_stats: what the sender checks of port 25 said, per local
-- recipient domain and hour (issue 15: the panel's summary of the last
-- day).  One row per (hour, domain); a message to two local domains counts
-- in both.  Written in a light transaction per message (store/trust_stats.c);
-- rows older than two days are removed as new ones are written.
CREATE TABLE trust_stats (
	hour INTEGER NOT NULL,		-- Unix time / 3600
	domain TEXT NOT NULL,		-- the local domain (lowercase)
	messages INTEGER NOT NULL DEFAULT 0,	-- checked (refused ones too)
	spf_pass INTEGER NOT NULL DEFAULT 0,
	dkim_pass INTEGER NOT NULL DEFAULT 0,	-- at least one signature passed
	dmarc_pass INTEGER NOT NULL DEFAULT 0,
	dmarc_fail INTEGER NOT NULL DEFAULT 0,
	refused INTEGER NOT NULL DEFAULT 0,	-- DMARC reject, spoofing, spam
	junk INTEGER NOT NULL DEFAULT 0,	-- delivered into Junk
	PRIMARY KEY (hour, domain)
) WITHOUT ROWID;
