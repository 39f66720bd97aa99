-- 023_upstream_oauth: upstream accounts that log in with OAuth2 (SASL
-- XOAUTH2 or OAUTHBEARER, RFC 7628) instead of a password.
--
-- auth: 'password' (the password column holds the sealed password) or
-- 'oauth2' (it holds the sealed refresh token of the grant, core/seal.h).
-- oauth_provider: the [oauth2_NAME] section of the config whose client and
-- endpoints the grant belongs to.  oauth_access: the current access token,
-- sealed too, valid until oauth_expires (unix seconds; 0: none yet).
-- reconnect: 1 when the provider refused the refresh token (RFC 6749 §5.2
-- invalid_grant: revoked or expired): the fetcher leaves the account alone
-- until the user connects it again (a new refresh token clears it).
ALTER TABLE upstreams ADD COLUMN auth TEXT NOT NULL DEFAULT 'password'
	CHECK (auth IN ('password', 'oauth2'));
ALTER TABLE upstreams ADD COLUMN oauth_provider TEXT;
ALTER TABLE upstreams ADD COLUMN oauth_access TEXT;
ALTER TABLE upstreams ADD COLUMN oauth_expires INTEGER NOT NULL DEFAULT 0;
ALTER TABLE upstreams ADD COLUMN reconnect INTEGER NOT NULL DEFAULT 0;

-- The smarthost may log in with the OAuth2 grant of an upstream account
-- (the same Gmail or Outlook.com account whose mail is fetched): its
-- username and a renewed access token, SASL OAUTHBEARER or XOAUTH2.
-- NULL: no OAuth2 (username and password as before).
ALTER TABLE relay_smarthost ADD COLUMN oauth_upstream INTEGER;
