-- 028_queue_hold: outbound mail held back by a verdict (issue 21: mail a
-- local user submits that rspamd scores as spam is not sent).
--
-- held: why the recipient is held ("rspamd: reject, score=...") or NULL.
-- A held recipient stays pending but no relay worker takes it, retry and
-- flush leave it alone and it never expires; `mailhub queue release ID`
-- (or POST /api/v1/queue/{id}/release) clears it and makes it due now,
-- `mailhub queue delete ID` drops the message.
ALTER TABLE queue_recipients ADD COLUMN held TEXT;

-- tls_reports_in: SMTP TLS reports (RFC 8460) other servers sent about
-- mail to our domains, one row per policy of a report (the §4.4 policy
-- entries, for our domains only), for the panel and the API.  details: the
-- failure details in words ("certificate-expired x100 mx1.example ...",
-- one a line).  A report sent twice is kept once.
CREATE TABLE tls_reports_in (
	id INTEGER PRIMARY KEY,
	received INTEGER NOT NULL,		-- seconds since the epoch
	via TEXT NOT NULL CHECK (via IN ('https', 'mail')),
	organization TEXT NOT NULL,
	report_id TEXT NOT NULL,
	contact TEXT NOT NULL,
	start_time TEXT NOT NULL,		-- date-range, RFC 3339 as sent
	end_time TEXT NOT NULL,
	policy_type TEXT NOT NULL,
	policy_domain TEXT NOT NULL,		-- lowercase
	mx_host TEXT,
	success INTEGER NOT NULL,
	failure INTEGER NOT NULL,
	details TEXT NOT NULL DEFAULT '',
	UNIQUE (organization, report_id, policy_type, policy_domain)
);
CREATE INDEX tls_reports_in_received ON tls_reports_in(received);
