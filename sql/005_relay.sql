-- 005_relay: what the outbound relay adds to the queue of 002: worker
-- leases, the recipient's domain for batching, the smarthost setting, and
-- the DKIM keys of the local domains.

-- lease_until: a worker has claimed the recipient until then (NULL: not
-- claimed).  A lease is separate from next_attempt so that `queue flush`
-- (which moves next_attempt) never hands a recipient that is being sent to
-- a second worker; at start-up every lease is dropped (no worker survives a
-- restart), so a crash mid-delivery retries at once.
ALTER TABLE queue_recipients ADD COLUMN lease_until INTEGER;
-- the recipient's domain, for one transaction per domain (RFC 5321 §5)
ALTER TABLE queue_recipients ADD COLUMN domain TEXT
	GENERATED ALWAYS AS (lower(substr(address, instr(address, '@') + 1))) VIRTUAL;
-- the last host tried (for DSNs' Remote-MTA and the panel)
ALTER TABLE queue_recipients ADD COLUMN last_host TEXT;
CREATE INDEX queue_recipients_domain_due ON queue_recipients(domain, next_attempt)
	WHERE state IN ('pending', 'deferred');
-- the bounce sweep's question: which failures still owe a DSN?
CREATE INDEX queue_recipients_dsn ON queue_recipients(state, dsn_sent);

-- One row (id 1) or none: the smarthost that takes all outbound mail.
-- tls: 'implicit' (RFC 8314) or 'starttls' (RFC 3207), the certificate
-- always verified.  password: sealed (core/seal.h), never shown.
CREATE TABLE relay_smarthost (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	host TEXT NOT NULL,
	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls TEXT NOT NULL CHECK (tls IN ('implicit', 'starttls')),
	username TEXT,
	password TEXT,
	updated INTEGER NOT NULL
);

-- DKIM keys (RFC 6376), one per algorithm per local domain, made at first
-- need (first signature, `mailhub domain show`, the DNS records API).
-- private_key: PKCS#8 PEM; public_key: the p= value of the DNS record.
CREATE TABLE dkim_keys (
	id INTEGER PRIMARY KEY,
	domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'rsa')),
	selector TEXT NOT NULL,
	private_key TEXT NOT NULL,
	public_key TEXT NOT NULL,
	created INTEGER NOT NULL,
	UNIQUE (domain_id, algorithm)
);
