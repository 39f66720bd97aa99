/*
 * config: the INI file of INTERFACE.md, parsed against one declarative table.
 *
 * Every setting is declared once (section, key, type, default, bounds) in
 * config.c; the parser fills a struct config from the table and then runs one
 * verify step.  Unknown sections and keys, bad values and out-of-range numbers
 * are errors naming the file and line.  The parsed config is read-only; a
 * reload builds a new one and replaces the old one whole.
 *
 * The format: "[section]" and "key = value" lines; '#' starts a comment at
 * the start of a line or after a space or tab (so "a#b" is a value); blank
 * lines and a CR before the LF are ignored; a line may have 4096 bytes.  A
 * section may appear more than once, a key only once.  Booleans are
 * yes/no, true/false, on/off, 1/0; sizes take K, M, G (1024-based); paths
 * must be absolute (a trailing '/' is dropped).  The verify step then checks
 * rules across keys: [tls] cert and key both or neither, retry_first <=
 * retry_max <= lifetime, connections_per_ip <= connections, no two
 * listeners on one port of overlapping addresses, and [spam]
 * rspamd_password only with rspamd_controller.
 */
#ifndef MAILHUB_CORE_CONFIG_H
#define MAILHUB_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "/etc/mailhub/mailhub.conf"

enum listen_kind {
	LISTEN_SMTP,
	LISTEN_SUBMISSION,
	LISTEN_SUBMISSIONS,
	LISTEN_IMAP,
	LISTEN_IMAPS,
	LISTEN_POP3,
	LISTEN_POP3S,
	LISTEN_ADMIN,
	LISTEN_MANAGESIEVE,
	LISTEN_COUNT
};

struct config_listen {
	bool enabled;		/* the key was present */
	char *text;		/* as written, for messages and the status API */
	char *host;		/* NULL: all addresses */
	unsigned port;
};

/* An OAuth2 provider of upstream accounts: [oauth2_NAME].  The endpoints
 * are https URLs; NULL where the provider has none (or it is not set). */
enum config_oauth2_provider {
	OAUTH2_GOOGLE,
	OAUTH2_MICROSOFT,
	OAUTH2_YAHOO,
	OAUTH2_CUSTOM,		/* any OpenID/OAuth2 provider, by its endpoints */
	OAUTH2_PROVIDERS
};
struct config_oauth2 {
	char *client_id;		/* NULL: the provider is not set up */
	char *client_secret;		/* NULL: a public client (PKCE only) */
	char *authorization_endpoint;	/* RFC 6749 §3.1 */
	char *token_endpoint;		/* RFC 6749 §3.2 */
	char *device_endpoint;		/* RFC 8628 §3.1 */
	char *revocation_endpoint;	/* RFC 7009 §2 */
	char *scopes;			/* space-separated */
};

struct config {
	char *path;		/* the file it came from */

	/* [server] */
	char *hostname;		/* default: the system's host name */
	char *data_dir;		/* default: /var/lib/mailhub */
	char *static_dir;	/* default: /usr/share/mailhub/static */
	char *user;		/* NULL: stay as started */

	/* [auth] */
	bool plaintext_on_loopback;	/* default no */
	unsigned auth_block_after;	/* failures before a block (default 10) */
	unsigned auth_block_seconds;	/* how long a block lasts (default 900) */
	unsigned auth_delay_max_ms;	/* longest delay after a failure (default 8000) */

	/* [listen] */
	struct config_listen listen[LISTEN_COUNT];

	/* [admin] */
	char *admin_tls;	/* "auto" (default: HTTPS unless the admin listener is
				 * on loopback only), "yes" or "no" */
	char *metrics_token;	/* a bearer token for GET /metrics only (16 to 256
				 * printable characters), or NULL: admins' tokens */
	unsigned metrics_interval;	/* seconds between samples of the dashboard's
					 * chart, default 300 */

	/* [log] */
	char *log_target;	/* "auto" (default: the journal when started by
				 * systemd, else stderr), "stderr", "journal",
				 * "syslog" */
	char *log_level;	/* lowest level written: "info" (default),
				 * "debug", "warning", "error" */
	char *log_journal_socket;	/* systemd's native journal socket */

	/* [tls] */
	char *tls_cert;		/* NULL: data_dir/tls/cert.pem */
	char *tls_key;
	char *tls_sni;		/* a folder of one subfolder per certificate
				 * (fullchain.pem, privkey.pem), or NULL */

	/* [dns] */
	char *dns_resolver;	/* "IP:PORT" or "[IPv6]:PORT" (port 53 when the
				 * file gives none; config_parse_address reads
				 * it), or NULL: /etc/resolv.conf */
	bool dns_dnssec;	/* default no: the resolver validates DNSSEC and its
				 * AD bit is trusted (DANE, RFC 7672) */

	/* [smtp] */
	char *recipient_delimiter;	/* RFC 5233 subaddress separators, default
					 * "+"; "" for none */

	/* [relay] */
	unsigned relay_mx_port;		/* default 25 */
	unsigned relay_workers;		/* default 4 */
	unsigned relay_retry_first;	/* seconds, default 300 */
	unsigned relay_retry_max;	/* seconds, default 14400 */
	unsigned relay_lifetime;	/* seconds, default 432000 (5 days) */
	unsigned relay_delay_notice;	/* seconds, default 14400 */
	bool relay_mta_sts;		/* default yes: apply RFC 8461 policies */
	unsigned relay_mta_sts_port;	/* default 443: where policies are fetched */
	char *relay_mta_sts_publish;	/* "none" (default), "testing", "enforce" */
	unsigned relay_mta_sts_max_age;	/* seconds, default 604800 */
	bool relay_tls_reports;		/* default yes: send RFC 8460 reports */
	unsigned relay_user_messages;	/* per user and hour, default 100 */
	unsigned relay_user_recipients;	/* per user and hour, default 500 */
	unsigned relay_domain_messages;	/* per domain and hour, default 500 */
	unsigned relay_domain_recipients; /* per domain and hour, default 2000 */

	/* [fetch] */
	unsigned fetch_workers;		/* default 4 */
	unsigned fetch_idle_connections; /* default 5: IDLE sessions per account */
	bool fetch_allow_private_hosts;	/* default no: upstreams only on public addresses */

	/* [oauth2_google], [oauth2_microsoft], [oauth2_yahoo], [oauth2_custom] */
	struct config_oauth2 oauth2[OAUTH2_PROVIDERS];

	/* [spam] (all off by default) */
	char *rspamd_url;		/* "http://HOST:PORT" of rspamd's normal worker, or NULL */
	unsigned rspamd_timeout;	/* seconds per check, default 20 */
	uint64_t rspamd_max_size;	/* bytes; larger messages are not sent, default 20 MiB */
	char *rspamd_controller;	/* URL of rspamd's controller (learning), or NULL */
	char *rspamd_password;		/* the controller's password, or NULL */
	char *dnsbl;			/* DNS blocklist zones, "zone, zone", or NULL */
	char *dnsbl_allow;		/* networks never looked up (cidr.h list), or NULL */
	bool greylist;			/* default no */
	unsigned greylist_delay;	/* seconds before a retry passes, default 300 */
	unsigned greylist_retry_window;	/* seconds a retry may take, default 2 days */
	unsigned greylist_expire;	/* seconds a passed triplet is kept unused, default 35 days */
	char *greylist_allow;		/* networks never greylisted, or NULL */

	/* [trust] the sender checks of port 25 (smtp/trust_inbound.c) */
	bool trust_checks;		/* SPF, DKIM, ARC, DMARC; default yes */
	bool trust_dmarc_policy;	/* apply p=reject/quarantine; default yes */
	bool trust_refuse_spoofing;	/* local domains only through auth; default yes */
	char *trust_allow;		/* networks never checked, or NULL */
	char *trust_arc_sealers;	/* ARC sealers trusted over DMARC, or NULL */

	/* [limits] */
	uint64_t message_size;		/* bytes, default 52428800 (50 MiB) */
	unsigned recipients;		/* per message, default 100 */
	unsigned connections;		/* all listeners, default 1000 */
	unsigned connections_per_ip;	/* default 50 */
	unsigned errors;		/* protocol errors before disconnect, default 10 */
	unsigned smtp_timeout;		/* seconds per command, default 300 (RFC 5321 §4.5.3.2.7) */
	unsigned smtp_data_timeout;	/* seconds per DATA block, default 180 (§4.5.3.2.6) */
	unsigned imap_timeout;		/* seconds idle after login, default 1800 (RFC 3501 §5.4) */
	unsigned imap_prelogin_timeout;	/* seconds before login, default 60 */
	unsigned pop3_timeout;		/* seconds, default 600 (RFC 1939 §3) */
	unsigned managesieve_timeout;	/* seconds, default 600 */
	unsigned shutdown_grace;	/* seconds sessions get at SIGTERM, default 10 */
	/* [search] */
	unsigned search_index_delay_ms;	/* the indexer's wait after a message
					 * arrives, default 200 */
};

/* Reads and verifies path.  On error returns -1 with *error_r such as
 * "/etc/mailhub/mailhub.conf:12: unknown key 'smpt' in [listen]",
 * "FILE:3: bad value for 'imaps' in [listen]: '99999' is not a port number
 * (1-65535)" or "cannot open FILE: No such file or directory" (*error_r is
 * errfmt() text: copy it to keep it). */
int config_load(const char *path, struct config **cfg_r, const char **error_r);
/* The same over text[0..len) already read; path only names it in messages.
 * Pure (no file access), for tests and fuzzing. */
int config_parse(const char *path, const char *text, size_t len,
		 struct config **cfg_r, const char **error_r);
/* A config with every default (path NULL), for `mailhub init` without a
 * file and tests. */
struct config *config_defaults(void);
void config_free(struct config **cfg);

/* Parses a listener address "HOST:PORT", "[IPv6]:PORT" or "PORT" into
 * *host_r (malloc'd; NULL for all addresses; an IPv6 address without its
 * brackets) and *port_r (1-65535, or 0 only when allow_zero, for tests).
 * HOST is a dotted IPv4 address or a host name (RFC 1123); an IPv6 address
 * needs its brackets and has no zone ("%eth0").  Returns 0, or -1 with
 * *error_r. */
int config_parse_address(const char *text, bool allow_zero, char **host_r,
			 unsigned *port_r, const char **error_r);

/* Parses "http://HOST[:PORT][/]" ([spam] rspamd and rspamd_controller):
 * *host_r (malloc'd; an IPv6 address without its brackets) and *port_r
 * (80 when the URL names none).  0, or -1 with *error_r. */
int config_parse_http_url(const char *url, char **host_r, unsigned *port_r,
			  const char **error_r);

/* "smtp", "submission", ... */
const char *config_listen_name(enum listen_kind kind);
/* "google", "microsoft", "yahoo", "custom" (the NAME of [oauth2_NAME]). */
const char *config_oauth2_name(enum config_oauth2_provider p);
/* The provider of that name, or NULL when there is none. */
const struct config_oauth2 *config_oauth2_find(const struct config *cfg, const char *name);

/* One row of the settings table, for the documentation and the test that
 * keeps packaging/man/mailhub.conf.5 true to it. */
struct config_setting_info {
	const char *section;
	const char *key;
	const char *def;	/* the default as it would be written; NULL: none */
	bool bounded;		/* a number or a size within [min, max] */
	bool size;		/* min and max are bytes (written with K, M, G) */
	uint64_t min, max;
};
/* The i-th setting into *info; false past the last. */
bool config_setting_info(size_t i, struct config_setting_info *info);

/* The path to use: --config, else $MAILHUB_CONFIG, else the default. */
const char *config_path_choose(const char *from_argv);

#endif
