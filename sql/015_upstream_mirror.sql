-- 015_upstream_mirror: per upstream account, whether its folders are
-- mirrored one to one (each upstream folder F into the local mailbox
-- target/F, created when missing) instead of all landing in target.
ALTER TABLE upstreams ADD COLUMN mirror INTEGER NOT NULL DEFAULT 0;
