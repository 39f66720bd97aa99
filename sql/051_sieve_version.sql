-- 051_sieve_version: a version for each Sieve script's text, so that
-- delivery finds its compiled form kept in memory (sieve/cache.h) by
-- (id, version), read from an index, instead of reading the whole text
-- (on overflow pages past a few kilobytes) and comparing it at every
-- message.
--
-- sieve_versions holds one counter; every insert of a script and every
-- change of its text (by whichever process: the daemon, the CLI, plain
-- SQL) takes the next value, so that (id, version) never names two texts,
-- even when a deleted script's id is used again.  Scripts stored before
-- have version 0 until their text changes.
ALTER TABLE sieve_scripts ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sieve_versions (last INTEGER NOT NULL);
INSERT INTO sieve_versions (last) VALUES (0);

CREATE TRIGGER sieve_scripts_version_insert AFTER INSERT ON sieve_scripts
BEGIN
	UPDATE sieve_versions SET last = last + 1;
	UPDATE sieve_scripts SET version = (SELECT last FROM sieve_versions) WHERE id = new.id;
END;

CREATE TRIGGER sieve_scripts_version_update AFTER UPDATE OF script ON sieve_scripts
BEGIN
	UPDATE sieve_versions SET last = last + 1;
	UPDATE sieve_scripts SET version = (SELECT last FROM sieve_versions) WHERE id = new.id;
END;

-- The active script's id and version without its row (covering: the
-- text is not read; active is in it so that the query needs nothing else
-- of the row).
CREATE INDEX sieve_scripts_active_version ON sieve_scripts(user_id, active, version)
	WHERE active = 1;
