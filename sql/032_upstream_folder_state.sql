-- 032_upstream_folder_state: what the account's page in the panel shows
-- per fetched folder (GET /api/v1/upstreams/{id}/folders): when the folder
-- was last synced completely, how many messages the upstream folder held
-- then, and the last error of that folder in plain words (NULL after a
-- good pass).  Written with the account's run result, in the same
-- transaction (fetch/account.c): no commit of its own.  Whether a folder
-- is pushed (IDLE, NOTIFY) or polled is the running fetcher's (fetch.h),
-- not stored.
CREATE TABLE upstream_folder_state (
	upstream_id INTEGER NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
	folder TEXT NOT NULL,
	last_sync INTEGER NOT NULL DEFAULT 0,	-- unix seconds; 0: never
	messages INTEGER NOT NULL DEFAULT 0,	-- upstream EXISTS at last_sync
	last_attempt INTEGER NOT NULL DEFAULT 0,
	last_error TEXT,
	PRIMARY KEY (upstream_id, folder)
) WITHOUT ROWID;
