#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/cidr.h"
#include "core/log.h"
#include "core/xmalloc.h"

enum setting_type {
	SET_STRING,	/* char *: any text */
	SET_HOSTNAME,	/* char *: a DNS name */
	SET_USERNAME,	/* char *: a system user name */
	SET_PATH,	/* char *: an absolute path, trailing '/' removed */
	SET_BOOL,	/* bool */
	SET_UINT,	/* unsigned, decimal, within [min, max] */
	SET_SIZE,	/* uint64_t bytes, with K/M/G (1024-based), within [min, max] */
	SET_LISTEN,	/* struct config_listen */
	SET_RESOLVER,	/* char *: an IP address with an optional port, kept as "HOST:PORT" */
	SET_URL,	/* char *: "http://HOST[:PORT][/]" (config_parse_http_url) */
	SET_HOSTLIST,	/* char *: DNS names separated by commas and/or blanks */
	SET_NETLIST,	/* char *: IP networks separated by commas and/or blanks (cidr.h) */
};

struct setting {
	const char *section;
	const char *key;
	enum setting_type type;
	const char *def;	/* the default as it would be written; NULL: unset */
	uint64_t min, max;
	size_t offset;		/* of the field in struct config */
};

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define DAY 86400ull

#define F(field) offsetof(struct config, field)
#define LISTEN(kind) offsetof(struct config, listen[kind])
#define OAUTH(p, field) offsetof(struct config, oauth2[p].field)

/*
 * Every setting, once: the parser, the defaults, config_listen_name() and
 * config_free() all walk this table.  The hostname has no written default:
 * finish() asks the system for it.
 */
static const struct setting settings[] = {
	{ "server", "hostname", SET_HOSTNAME, NULL, 0, 0, F(hostname) },
	{ "server", "data_dir", SET_PATH, "/var/lib/mailhub", 0, 0, F(data_dir) },
	{ "server", "static_dir", SET_PATH, "/usr/share/mailhub/static", 0, 0, F(static_dir) },
	{ "server", "user", SET_USERNAME, NULL, 0, 0, F(user) },

	{ "auth", "plaintext_on_loopback", SET_BOOL, "no", 0, 0, F(plaintext_on_loopback) },
	{ "auth", "block_after", SET_UINT, "10", 1, 1000, F(auth_block_after) },
	{ "auth", "block_seconds", SET_UINT, "900", 1, 7 * DAY, F(auth_block_seconds) },
	{ "auth", "delay_max_ms", SET_UINT, "8000", 0, 60000, F(auth_delay_max_ms) },

	/* the listen keys are in enum listen_kind's order */
	{ "listen", "smtp", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_SMTP) },
	{ "listen", "submission", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_SUBMISSION) },
	{ "listen", "submissions", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_SUBMISSIONS) },
	{ "listen", "imap", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_IMAP) },
	{ "listen", "imaps", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_IMAPS) },
	{ "listen", "pop3", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_POP3) },
	{ "listen", "pop3s", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_POP3S) },
	{ "listen", "admin", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_ADMIN) },
	/* RFC 5804 §1.8: ManageSieve's port is 4190 */
	{ "listen", "managesieve", SET_LISTEN, NULL, 0, 0, LISTEN(LISTEN_MANAGESIEVE) },

	{ "admin", "tls", SET_STRING, "auto", 0, 0, F(admin_tls) },
	/* a scraper's own token, so that Prometheus holds no admin's */
	{ "admin", "metrics_token", SET_STRING, NULL, 0, 0, F(metrics_token) },
	/* a day of samples at the default (METRICS_HISTORY_MAX of them) */
	{ "admin", "metrics_interval", SET_UINT, "300", 1, 3600, F(metrics_interval) },

	{ "log", "target", SET_STRING, "auto", 0, 0, F(log_target) },
	{ "log", "level", SET_STRING, "info", 0, 0, F(log_level) },
	{ "log", "journal_socket", SET_PATH, "/run/systemd/journal/socket", 0, 0,
	  F(log_journal_socket) },

	{ "tls", "cert", SET_PATH, NULL, 0, 0, F(tls_cert) },
	{ "tls", "key", SET_PATH, NULL, 0, 0, F(tls_key) },
	/* RFC 6066 §3: a certificate per name, in certbot's live/ layout */
	{ "tls", "sni", SET_PATH, NULL, 0, 0, F(tls_sni) },

	{ "dns", "resolver", SET_RESOLVER, NULL, 0, 0, F(dns_resolver) },
	/* RFC 7672 §1.3: DANE needs a validating resolver this host trusts */
	{ "dns", "dnssec", SET_BOOL, "no", 0, 0, F(dns_dnssec) },

	/* RFC 5233: "alice+shopping@" reaches alice; "" turns it off */
	{ "smtp", "recipient_delimiter", SET_STRING, "+", 0, 0, F(recipient_delimiter) },

	{ "relay", "mx_port", SET_UINT, "25", 1, 65535, F(relay_mx_port) },
	{ "relay", "workers", SET_UINT, "4", 1, 64, F(relay_workers) },
	{ "relay", "retry_first", SET_UINT, "300", 1, DAY, F(relay_retry_first) },
	{ "relay", "retry_max", SET_UINT, "14400", 1, 7 * DAY, F(relay_retry_max) },
	/* RFC 5321 §4.5.4.1: give up after at least 4-5 days */
	{ "relay", "lifetime", SET_UINT, "432000", 60, 30 * DAY, F(relay_lifetime) },
	/* 0: never send a delay notice */
	{ "relay", "delay_notice", SET_UINT, "14400", 0, 30 * DAY, F(relay_delay_notice) },
	{ "relay", "mta_sts", SET_BOOL, "yes", 0, 0, F(relay_mta_sts) },
	{ "relay", "mta_sts_port", SET_UINT, "443", 1, 65535, F(relay_mta_sts_port) },
	{ "relay", "mta_sts_publish", SET_STRING, "none", 0, 0, F(relay_mta_sts_publish) },
	/* RFC 8461 §3.2: at most 31557600; weeks are recommended */
	{ "relay", "mta_sts_max_age", SET_UINT, "604800", 86400, 31557600,
	  F(relay_mta_sts_max_age) },
	{ "relay", "tls_reports", SET_BOOL, "yes", 0, 0, F(relay_tls_reports) },
	/* sending limits per clock hour, sized for a household */
	{ "relay", "user_messages_per_hour", SET_UINT, "100", 1, 1000000,
	  F(relay_user_messages) },
	{ "relay", "user_recipients_per_hour", SET_UINT, "500", 1, 10000000,
	  F(relay_user_recipients) },
	{ "relay", "domain_messages_per_hour", SET_UINT, "500", 1, 1000000,
	  F(relay_domain_messages) },
	{ "relay", "domain_recipients_per_hour", SET_UINT, "2000", 1, 10000000,
	  F(relay_domain_recipients) },

	{ "fetch", "workers", SET_UINT, "4", 1, 64, F(fetch_workers) },
	/* IMAP sessions one account may hold open for IDLE push */
	{ "fetch", "idle_connections", SET_UINT, "5", 1, 50, F(fetch_idle_connections) },
	/* no: upstream tests and fetches never reach loopback, link-local or
	 * private addresses (client_conn.h) */
	{ "fetch", "allow_private_hosts", SET_BOOL, "no", 0, 0, F(fetch_allow_private_hosts) },

	/* OAuth2 providers of upstream accounts (fetch/oauth.c); the
	 * endpoints of the big three are preset, the client is the admin's */
	{ "oauth2_google", "client_id", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_GOOGLE, client_id) },
	{ "oauth2_google", "client_secret", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_GOOGLE, client_secret) },
	{ "oauth2_google", "authorization_endpoint", SET_STRING, "https://accounts.google.com/o/oauth2/v2/auth", 0, 0, OAUTH(OAUTH2_GOOGLE, authorization_endpoint) },
	{ "oauth2_google", "token_endpoint", SET_STRING, "https://oauth2.googleapis.com/token", 0, 0, OAUTH(OAUTH2_GOOGLE, token_endpoint) },
	{ "oauth2_google", "device_authorization_endpoint", SET_STRING, "https://oauth2.googleapis.com/device/code", 0, 0, OAUTH(OAUTH2_GOOGLE, device_endpoint) },
	{ "oauth2_google", "revocation_endpoint", SET_STRING, "https://oauth2.googleapis.com/revoke", 0, 0, OAUTH(OAUTH2_GOOGLE, revocation_endpoint) },
	{ "oauth2_google", "scopes", SET_STRING, "https://mail.google.com/", 0, 0, OAUTH(OAUTH2_GOOGLE, scopes) },
	{ "oauth2_microsoft", "client_id", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_MICROSOFT, client_id) },
	{ "oauth2_microsoft", "client_secret", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_MICROSOFT, client_secret) },
	{ "oauth2_microsoft", "authorization_endpoint", SET_STRING, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize", 0, 0, OAUTH(OAUTH2_MICROSOFT, authorization_endpoint) },
	{ "oauth2_microsoft", "token_endpoint", SET_STRING, "https://login.microsoftonline.com/common/oauth2/v2.0/token", 0, 0, OAUTH(OAUTH2_MICROSOFT, token_endpoint) },
	{ "oauth2_microsoft", "device_authorization_endpoint", SET_STRING, "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", 0, 0, OAUTH(OAUTH2_MICROSOFT, device_endpoint) },
	{ "oauth2_microsoft", "revocation_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_MICROSOFT, revocation_endpoint) },
	{ "oauth2_microsoft", "scopes", SET_STRING, "offline_access https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send", 0, 0, OAUTH(OAUTH2_MICROSOFT, scopes) },
	{ "oauth2_yahoo", "client_id", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_YAHOO, client_id) },
	{ "oauth2_yahoo", "client_secret", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_YAHOO, client_secret) },
	{ "oauth2_yahoo", "authorization_endpoint", SET_STRING, "https://api.login.yahoo.com/oauth2/request_auth", 0, 0, OAUTH(OAUTH2_YAHOO, authorization_endpoint) },
	{ "oauth2_yahoo", "token_endpoint", SET_STRING, "https://api.login.yahoo.com/oauth2/get_token", 0, 0, OAUTH(OAUTH2_YAHOO, token_endpoint) },
	{ "oauth2_yahoo", "device_authorization_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_YAHOO, device_endpoint) },
	{ "oauth2_yahoo", "revocation_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_YAHOO, revocation_endpoint) },
	{ "oauth2_yahoo", "scopes", SET_STRING, "mail-w", 0, 0, OAUTH(OAUTH2_YAHOO, scopes) },
	{ "oauth2_custom", "client_id", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, client_id) },
	{ "oauth2_custom", "client_secret", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, client_secret) },
	{ "oauth2_custom", "authorization_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, authorization_endpoint) },
	{ "oauth2_custom", "token_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, token_endpoint) },
	{ "oauth2_custom", "device_authorization_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, device_endpoint) },
	{ "oauth2_custom", "revocation_endpoint", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, revocation_endpoint) },
	{ "oauth2_custom", "scopes", SET_STRING, NULL, 0, 0, OAUTH(OAUTH2_CUSTOM, scopes) },

	/* the spam defence; see mailhub.conf(5) */
	{ "spam", "rspamd", SET_URL, NULL, 0, 0, F(rspamd_url) },
	{ "spam", "rspamd_timeout", SET_UINT, "20", 1, 600, F(rspamd_timeout) },
	/* rspamd's own max_message is 50 MiB */
	{ "spam", "rspamd_max_size", SET_SIZE, "20M", 1 * KiB, 1 * GiB, F(rspamd_max_size) },
	{ "spam", "rspamd_controller", SET_URL, NULL, 0, 0, F(rspamd_controller) },
	{ "spam", "rspamd_password", SET_STRING, NULL, 0, 0, F(rspamd_password) },
	{ "spam", "dnsbl", SET_HOSTLIST, NULL, 0, 0, F(dnsbl) },
	{ "spam", "dnsbl_allow", SET_NETLIST, NULL, 0, 0, F(dnsbl_allow) },
	{ "spam", "greylist", SET_BOOL, "no", 0, 0, F(greylist) },
	{ "spam", "greylist_delay", SET_UINT, "300", 1, DAY, F(greylist_delay) },
	{ "spam", "greylist_retry_window", SET_UINT, "172800", 60, 30 * DAY,
	  F(greylist_retry_window) },
	{ "spam", "greylist_expire", SET_UINT, "3024000", 3600, 365 * DAY, F(greylist_expire) },
	{ "spam", "greylist_allow", SET_NETLIST, NULL, 0, 0, F(greylist_allow) },

	/* the sender checks of port 25; see mailhub.conf(5) */
	{ "trust", "checks", SET_BOOL, "yes", 0, 0, F(trust_checks) },
	{ "trust", "dmarc_policy", SET_BOOL, "yes", 0, 0, F(trust_dmarc_policy) },
	{ "trust", "refuse_spoofing", SET_BOOL, "yes", 0, 0, F(trust_refuse_spoofing) },
	{ "trust", "allow", SET_NETLIST, NULL, 0, 0, F(trust_allow) },
	{ "trust", "arc_sealers", SET_HOSTLIST, NULL, 0, 0, F(trust_arc_sealers) },

	/* the background search indexer; see mailhub.conf(5) */
	{ "search", "index_delay_ms", SET_UINT, "200", 0, 3600000, F(search_index_delay_ms) },

	{ "limits", "message_size", SET_SIZE, "50M", 1 * KiB, 1 * GiB, F(message_size) },
	/* RFC 5321 §4.5.3.1.8: a server must take at least 100 recipients;
	 * an administrator may still want fewer */
	{ "limits", "recipients", SET_UINT, "100", 1, 100000, F(recipients) },
	{ "limits", "connections", SET_UINT, "1000", 1, 100000, F(connections) },
	{ "limits", "connections_per_ip", SET_UINT, "50", 1, 100000, F(connections_per_ip) },
	{ "limits", "errors", SET_UINT, "10", 1, 1000, F(errors) },
	{ "limits", "smtp_timeout", SET_UINT, "300", 1, DAY, F(smtp_timeout) },
	{ "limits", "smtp_data_timeout", SET_UINT, "180", 1, DAY, F(smtp_data_timeout) },
	{ "limits", "imap_timeout", SET_UINT, "1800", 1, DAY, F(imap_timeout) },
	{ "limits", "imap_prelogin_timeout", SET_UINT, "60", 1, DAY, F(imap_prelogin_timeout) },
	{ "limits", "pop3_timeout", SET_UINT, "600", 1, DAY, F(pop3_timeout) },
	{ "limits", "managesieve_timeout", SET_UINT, "600", 1, DAY, F(managesieve_timeout) },
	{ "limits", "shutdown_grace", SET_UINT, "10", 0, 3600, F(shutdown_grace) },
};

#define N_SETTINGS (sizeof settings / sizeof settings[0])

/* The longest line a config file may have, and the largest file. */
#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)
/* RFC 1035 §2.3.4 */
#define HOSTNAME_MAX 253
#define LABEL_MAX 63
#define USERNAME_MAX 32
#define DNS_DEFAULT_PORT 53
/* [spam] dnsbl: more zones than this is a mistake (each costs a lookup) */
#define DNSBL_ZONES_MAX 16

/* The state of one parse: where each setting was set, for messages. */
struct parse_state {
	const char *path;
	unsigned lines[N_SETTINGS];	/* 0: not in the file */
};

static void *
field_of(struct config *cfg, const struct setting *s)
{
	return (char *)cfg + s->offset;
}

static const struct setting *
setting_of_listen(enum listen_kind kind)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (settings[i].type == SET_LISTEN && settings[i].offset == LISTEN(0) +
		    (size_t)kind * sizeof(struct config_listen))
			return &settings[i];
	}
	return NULL;
}

const char *
config_listen_name(enum listen_kind kind)
{
	const struct setting *s = setting_of_listen(kind);
	if (s == NULL)
		panic("config: no listen key for kind %d", (int)kind);
	return s->key;
}

bool
config_setting_info(size_t i, struct config_setting_info *info)
{
	if (i >= N_SETTINGS)
		return false;
	const struct setting *s = &settings[i];
	info->section = s->section;
	info->key = s->key;
	info->def = s->def;
	info->bounded = s->type == SET_UINT || s->type == SET_SIZE;
	info->size = s->type == SET_SIZE;
	info->min = s->min;
	info->max = s->max;
	return true;
}

const char *
config_path_choose(const char *from_argv)
{
	if (from_argv != NULL && *from_argv != '\0')
		return from_argv;
	const char *env = getenv("MAILHUB_CONFIG");
	if (env != NULL && *env != '\0')
		return env;
	return CONFIG_DEFAULT_PATH;
}

/* ---- values ---- */

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Decimal digits into *v; -1 when not a number or past UINT64_MAX. */
static int
parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* RFC 1123 §2.1 host names: labels of letters, digits and '-', not starting
 * or ending with '-'. */
static bool
valid_hostname(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > LABEL_MAX || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && label > 0))
			return false;
		label++;
	}
	return true;
}

/* A name useradd would make: [a-z_][a-z0-9_.-]*, not all digits. */
static bool
valid_username(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > USERNAME_MAX || all_digits(s))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (i > 0 && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

static int
parse_port(const char *s, bool allow_zero, unsigned *port_r, const char **error_r)
{
	uint64_t v;

	if (!all_digits(s) || strlen(s) > 5 || parse_u64(s, strlen(s), &v) < 0 ||
	    v > 65535 || (v == 0 && !allow_zero)) {
		*error_r = errfmt("'%s' is not a port number (1-65535)", esc_str(s));
		return -1;
	}
	*port_r = (unsigned)v;
	return 0;
}

/* A host before ":PORT": an IPv4 address or a host name. */
static int
check_host(const char *host, const char **error_r)
{
	struct in_addr a4;
	bool dotted = true;

	for (const char *p = host; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			dotted = false;
	}
	if (dotted) {
		if (inet_pton(AF_INET, host, &a4) != 1) {
			*error_r = errfmt("'%s' is not an IPv4 address", esc_str(host));
			return -1;
		}
		return 0;
	}
	if (!valid_hostname(host)) {
		*error_r = errfmt("'%s' is not a host name", esc_str(host));
		return -1;
	}
	return 0;
}

int
config_parse_address(const char *text, bool allow_zero, char **host_r,
		     unsigned *port_r, const char **error_r)
{
	char *host = NULL;
	const char *port;
	struct in6_addr a6;

	if (*text == '\0') {
		*error_r = "empty address";
		return -1;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL) {
			*error_r = errfmt("'%s' lacks the ']' after the IPv6 address", esc_str(text));
			return -1;
		}
		host = xstrndup(text + 1, (size_t)(close - text - 1));
		if (inet_pton(AF_INET6, host, &a6) != 1) {
			*error_r = errfmt("'%s' is not an IPv6 address", esc_str(host));
			free(host);
			return -1;
		}
		if (close[1] != ':' || close[2] == '\0') {
			*error_r = errfmt("'%s' lacks ':PORT' after the IPv6 address", esc_str(text));
			free(host);
			return -1;
		}
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (colon == NULL) {
			port = text;
		} else if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
			*error_r = errfmt("'%s': an IPv6 address goes in brackets, as [::1]:25",
					  esc_str(text));
			return -1;
		} else {
			if (colon == text) {
				*error_r = errfmt("'%s' lacks the host before ':'", esc_str(text));
				return -1;
			}
			host = xstrndup(text, (size_t)(colon - text));
			if (check_host(host, error_r) < 0) {
				free(host);
				return -1;
			}
			port = colon + 1;
		}
	}
	if (parse_port(port, allow_zero, port_r, error_r) < 0) {
		free(host);
		return -1;
	}
	*host_r = host;
	return 0;
}

/* [dns] resolver: an IP address (a resolver found by name would need a
 * resolver), with an optional port. */
static int
parse_resolver(const char *value, char **out_r, const char **error_r)
{
	struct in_addr a4;
	struct in6_addr a6;
	char *host = NULL;
	unsigned port = DNS_DEFAULT_PORT;
	size_t n = strlen(value);
	const char *colon = strchr(value, ':');

	if (value[0] == '[' && value[n - 1] == ']') {
		host = xstrndup(value + 1, n - 2);
	} else if (colon != NULL && strchr(colon + 1, ':') != NULL && value[0] != '[') {
		host = xstrdup(value);	/* a bare IPv6 address */
	} else if (colon != NULL) {
		if (config_parse_address(value, false, &host, &port, error_r) < 0)
			return -1;
		if (host == NULL) {
			*error_r = "the resolver needs an address";
			return -1;
		}
	} else {
		host = xstrdup(value);
	}
	if (inet_pton(AF_INET, host, &a4) == 1) {
		*out_r = xasprintf("%s:%u", host, port);
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		*out_r = xasprintf("[%s]:%u", host, port);
	} else {
		*error_r = errfmt("'%s' is not an IP address (the resolver cannot be "
				  "found by name)", esc_str(host));
		free(host);
		return -1;
	}
	free(host);
	return 0;
}

int
config_parse_http_url(const char *url, char **host_r, unsigned *port_r, const char **error_r)
{
	static const char scheme[] = "http://";
	if (!str_has_prefix_nocase(url, scheme)) {
		*error_r = errfmt("'%s' is not an http:// URL (rspamd speaks plain HTTP; "
				  "keep it on loopback or a trusted network)", esc_str(url));
		return -1;
	}
	const char *h = url + sizeof scheme - 1;
	size_t n = strlen(h);
	if (n > 0 && h[n - 1] == '/')
		n--;	/* "http://127.0.0.1:11333/": a path of "/" only */
	if (n == 0 || memchr(h, '/', n) != NULL || memchr(h, '@', n) != NULL ||
	    memchr(h, '?', n) != NULL) {
		*error_r = errfmt("'%s' must be http://HOST[:PORT], without a path or "
				  "credentials", esc_str(url));
		return -1;
	}
	char *hostport = xstrndup(h, n);
	const char *close = hostport[0] == '[' ? strchr(hostport, ']') : NULL;
	bool has_port = close != NULL ? close[1] == ':' : strchr(hostport, ':') != NULL;
	if (!has_port) {
		char *with = xasprintf("%s:80", hostport);
		free(hostport);
		hostport = with;
	}
	int ret = config_parse_address(hostport, false, host_r, port_r, error_r);
	free(hostport);
	if (ret == 0 && *host_r == NULL) {
		*error_r = errfmt("'%s' lacks the host", esc_str(url));
		return -1;
	}
	return ret;
}

/* A list of DNS names ([spam] dnsbl). */
static int
check_hostlist(const char *value, const char **error_r)
{
	unsigned n = 0;
	for (const char *p = value;;) {
		p += strspn(p, ", \t");
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		char *name = xstrndup(p, len);
		bool ok = valid_hostname(name) && strchr(name, '.') != NULL;
		free(name);
		if (!ok) {
			*error_r = errfmt("'%s' is not a DNS zone", esc(p, len));
			return -1;
		}
		if (++n > DNSBL_ZONES_MAX) {
			*error_r = errfmt("more than %d zones", DNSBL_ZONES_MAX);
			return -1;
		}
		p += len;
	}
	return 0;
}

static int
parse_size(const char *value, uint64_t *v_r, const char **error_r)
{
	size_t n = strlen(value);
	uint64_t mult = 1, v;

	switch (n > 0 ? value[n - 1] : '\0') {
	case 'k': case 'K': mult = KiB; n--; break;
	case 'm': case 'M': mult = MiB; n--; break;
	case 'g': case 'G': mult = GiB; n--; break;
	default: break;
	}
	if (parse_u64(value, n, &v) < 0) {
		*error_r = errfmt("'%s' is not a size (a number of bytes, or with K, M or G)",
				  esc_str(value));
		return -1;
	}
	if (v > UINT64_MAX / mult) {
		*error_r = errfmt("'%s' is too large", esc_str(value));
		return -1;
	}
	*v_r = v * mult;
	return 0;
}

static int
parse_bool(const char *value, bool *b_r, const char **error_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (str_eq_nocase(value, yes[i])) {
			*b_r = true;
			return 0;
		}
		if (str_eq_nocase(value, no[i])) {
			*b_r = false;
			return 0;
		}
	}
	*error_r = errfmt("'%s' is not yes/no, true/false, on/off or 1/0", esc_str(value));
	return -1;
}

static void
set_string(void *field, char *value)
{
	char **p = field;
	free(*p);
	*p = value;
}

/* Whether value is a valid SET_URL, SET_HOSTLIST or SET_NETLIST. */
static int
check_text(enum setting_type type, const char *value, const char **error_r)
{
	char *host = NULL;
	unsigned port;
	struct cidr *list = NULL;
	size_t n;
	int ret = -1;
	if (type == SET_URL)
		ret = config_parse_http_url(value, &host, &port, error_r);
	else if (type == SET_HOSTLIST)
		ret = check_hostlist(value, error_r);
	else if (type == SET_NETLIST)
		ret = cidr_list_parse(value, &list, &n, error_r);
	free(host);
	free(list);
	return ret;
}

/* Parses value for s into its field of cfg. Returns 0, or -1 with *error_r. */
static int
setting_parse(struct config *cfg, const struct setting *s, const char *value,
	      const char **error_r)
{
	void *field = field_of(cfg, s);
	uint64_t v;

	switch (s->type) {
	case SET_STRING:
		set_string(field, xstrdup(value));
		return 0;
	case SET_HOSTNAME:
		if (!valid_hostname(value)) {
			*error_r = errfmt("'%s' is not a host name", esc_str(value));
			return -1;
		}
		set_string(field, xstrdup(value));
		return 0;
	case SET_USERNAME:
		if (!valid_username(value)) {
			*error_r = errfmt("'%s' is not a user name", esc_str(value));
			return -1;
		}
		set_string(field, xstrdup(value));
		return 0;
	case SET_PATH: {
		if (value[0] != '/') {
			*error_r = errfmt("'%s' is not an absolute path", esc_str(value));
			return -1;
		}
		size_t n = strlen(value);
		while (n > 1 && value[n - 1] == '/')
			n--;
		set_string(field, xstrndup(value, n));
		return 0;
	}
	case SET_BOOL:
		return parse_bool(value, field, error_r);
	case SET_UINT:
		if (parse_u64(value, strlen(value), &v) < 0) {
			*error_r = errfmt("'%s' is not a whole number", esc_str(value));
			return -1;
		}
		if (v < s->min || v > s->max) {
			*error_r = errfmt("%s is out of range (%llu to %llu)", esc_str(value),
					  (unsigned long long)s->min, (unsigned long long)s->max);
			return -1;
		}
		*(unsigned *)field = (unsigned)v;
		return 0;
	case SET_SIZE:
		if (parse_size(value, &v, error_r) < 0)
			return -1;
		if (v < s->min || v > s->max) {
			*error_r = errfmt("%s is out of range (%llu to %llu bytes)", esc_str(value),
					  (unsigned long long)s->min, (unsigned long long)s->max);
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	case SET_LISTEN: {
		struct config_listen *l = field;
		char *host;
		unsigned port;
		if (config_parse_address(value, false, &host, &port, error_r) < 0)
			return -1;
		free(l->text);
		free(l->host);
		l->enabled = true;
		l->text = xstrdup(value);
		l->host = host;
		l->port = port;
		return 0;
	}
	case SET_RESOLVER: {
		char *text;
		if (parse_resolver(value, &text, error_r) < 0)
			return -1;
		set_string(field, text);
		return 0;
	}
	case SET_URL:
	case SET_HOSTLIST:
	case SET_NETLIST:
		/* kept as written; their users parse them again */
		if (check_text(s->type, value, error_r) < 0)
			return -1;
		set_string(field, xstrdup(value));
		return 0;
	}
	panic("config: setting type %d unknown", (int)s->type);
}

/* ---- the whole config ---- */

void
config_free(struct config **cfgp)
{
	struct config *cfg = *cfgp;
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		void *field = field_of(cfg, s);
		switch (s->type) {
		case SET_STRING:
		case SET_HOSTNAME:
		case SET_USERNAME:
		case SET_PATH:
		case SET_RESOLVER:
		case SET_URL:
		case SET_HOSTLIST:
		case SET_NETLIST:
			set_string(field, NULL);
			break;
		case SET_LISTEN: {
			struct config_listen *l = field;
			xfree(l->text);
			xfree(l->host);
			break;
		}
		case SET_BOOL:
		case SET_UINT:
		case SET_SIZE:
			break;
		}
	}
	free(cfg->path);
	free(cfg);
	*cfgp = NULL;
}

/* The system's host name, for [server] hostname's default. */
static char *
system_hostname(void)
{
	char name[256];

	if (gethostname(name, sizeof name) < 0 || name[0] == '\0')
		return xstrdup("localhost");
	name[sizeof name - 1] = '\0';
	return xstrdup(name);
}

static struct config *
defaults_new(void)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);
	const char *why;

	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (settings[i].def != NULL && setting_parse(cfg, &settings[i], settings[i].def, &why) < 0)
			panic("config: default of [%s] %s is invalid: %s", settings[i].section,
			      settings[i].key, why);
	}
	return cfg;
}

/* Where a setting was set, for messages: "FILE:LINE" or "FILE". */
static const char *
where(const struct parse_state *st, const struct setting *s)
{
	unsigned line = st->lines[s - settings];
	return line > 0 ? errfmt("%s:%u", st->path, line) : errfmt("%s", st->path);
}

static const struct setting *
find_setting(const char *section, const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (strcmp(settings[i].section, section) == 0 && strcmp(settings[i].key, key) == 0)
			return &settings[i];
	}
	return NULL;
}

/* The one verify step: rules across settings, after the parse. */
static int
verify(struct config *cfg, const struct parse_state *st, const char **error_r)
{
	const struct setting *cert = find_setting("tls", "cert");
	const struct setting *key = find_setting("tls", "key");

	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		const struct setting *set = cfg->tls_cert != NULL ? cert : key;
		*error_r = errfmt("%s: [tls] %s is set but %s is not (set both or neither)",
				  where(st, set), set->key, set == cert ? key->key : cert->key);
		return -1;
	}
	if (cfg->relay_retry_first > cfg->relay_retry_max) {
		*error_r = errfmt("%s: [relay] retry_first (%u) is longer than retry_max (%u)",
				  where(st, find_setting("relay", "retry_first")),
				  cfg->relay_retry_first, cfg->relay_retry_max);
		return -1;
	}
	if (cfg->relay_retry_max > cfg->relay_lifetime) {
		*error_r = errfmt("%s: [relay] retry_max (%u) is longer than lifetime (%u)",
				  where(st, find_setting("relay", "retry_max")),
				  cfg->relay_retry_max, cfg->relay_lifetime);
		return -1;
	}
	if (strcmp(cfg->relay_mta_sts_publish, "none") != 0 &&
	    strcmp(cfg->relay_mta_sts_publish, "testing") != 0 &&
	    strcmp(cfg->relay_mta_sts_publish, "enforce") != 0) {
		*error_r = errfmt("%s: [relay] mta_sts_publish must be none, testing or enforce,"
				  " not '%s'",
				  where(st, find_setting("relay", "mta_sts_publish")),
				  esc_str(cfg->relay_mta_sts_publish));
		return -1;
	}
	if (strcmp(cfg->admin_tls, "auto") != 0 && strcmp(cfg->admin_tls, "yes") != 0 &&
	    strcmp(cfg->admin_tls, "no") != 0) {
		*error_r = errfmt("%s: [admin] tls must be auto, yes or no, not '%s'",
				  where(st, find_setting("admin", "tls")), esc_str(cfg->admin_tls));
		return -1;
	}
	if (cfg->metrics_token != NULL) {
		size_t n = strlen(cfg->metrics_token);
		bool printable = true;
		for (size_t i = 0; i < n; i++)
			printable &= cfg->metrics_token[i] > ' ' && cfg->metrics_token[i] < 0x7f;
		if (n < 16 || n > 256 || !printable) {
			*error_r = errfmt("%s: [admin] metrics_token must be 16 to 256 printable"
					  " characters without spaces",
					  where(st, find_setting("admin", "metrics_token")));
			return -1;
		}
	}
	static const char *const targets[] = { "auto", "stderr", "journal", "syslog" };
	bool target_ok = false;
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
		target_ok |= strcmp(cfg->log_target, targets[i]) == 0;
	if (!target_ok) {
		*error_r = errfmt("%s: [log] target must be auto, stderr, journal or"
				  " syslog, not '%s'", where(st, find_setting("log", "target")),
				  esc_str(cfg->log_target));
		return -1;
	}
	enum log_level level;
	if (log_level_parse(cfg->log_level, &level) < 0) {
		*error_r = errfmt("%s: [log] level must be debug, info, warning or"
				  " error, not '%s'", where(st, find_setting("log", "level")),
				  esc_str(cfg->log_level));
		return -1;
	}
	/* atext that is neither a letter nor a digit, and never '@' */
	if (strlen(cfg->recipient_delimiter) > 8 ||
	    strspn(cfg->recipient_delimiter, "+-_.=~") != strlen(cfg->recipient_delimiter)) {
		*error_r = errfmt("%s: [smtp] recipient_delimiter takes up to 8 of the"
				  " characters + - _ . = ~, not '%s'",
				  where(st, find_setting("smtp", "recipient_delimiter")),
				  esc_str(cfg->recipient_delimiter));
		return -1;
	}
	if (cfg->rspamd_password != NULL && cfg->rspamd_controller == NULL) {
		*error_r = errfmt("%s: [spam] rspamd_password is set but rspamd_controller is not",
				  where(st, find_setting("spam", "rspamd_password")));
		return -1;
	}
	if (cfg->connections_per_ip > cfg->connections) {
		*error_r = errfmt("%s: [limits] connections_per_ip (%u) is above connections (%u)",
				  where(st, find_setting("limits", "connections_per_ip")),
				  cfg->connections_per_ip, cfg->connections);
		return -1;
	}
	/* an OAuth2 endpoint is an https URL (RFC 6749 §3.1, §3.2: TLS); its
	 * parts are checked where it is used (core/oauth2.h) */
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *set = &settings[i];
		if (strncmp(set->section, "oauth2_", 7) != 0 ||
		    strstr(set->key, "endpoint") == NULL)
			continue;
		const char *url = *(char *const *)((const char *)cfg + set->offset);
		if (url != NULL && (strncasecmp(url, "https://", 8) != 0 || url[8] == '\0' ||
				    url[8] == '/' || strpbrk(url, " \t#") != NULL)) {
			*error_r = errfmt("%s: [%s] %s must be an https:// URL, not '%s'",
					  where(st, set), set->section, set->key, esc_str(url));
			return -1;
		}
	}
	/* two listeners cannot bind the same port on overlapping addresses */
	for (int a = 0; a < LISTEN_COUNT; a++) {
		for (int b = a + 1; b < LISTEN_COUNT; b++) {
			const struct config_listen *la = &cfg->listen[a], *lb = &cfg->listen[b];
			if (!la->enabled || !lb->enabled || la->port != lb->port)
				continue;
			if (la->host != NULL && lb->host != NULL && !str_eq_nocase(la->host, lb->host))
				continue;
			*error_r = errfmt("%s: [listen] %s uses port %u like %s",
					  where(st, setting_of_listen((enum listen_kind)b)),
					  config_listen_name((enum listen_kind)b), lb->port,
					  config_listen_name((enum listen_kind)a));
			return -1;
		}
	}
	return 0;
}

/* Settings whose defaults come from the system, after the parse. */
static void
finish(struct config *cfg)
{
	if (cfg->hostname == NULL)
		cfg->hostname = system_hostname();
}

struct config *
config_defaults(void)
{
	struct config *cfg = defaults_new();
	struct parse_state st = { .path = "(defaults)" };
	const char *why;

	finish(cfg);
	if (verify(cfg, &st, &why) < 0)
		panic("config: the defaults do not verify: %s", why);
	return cfg;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims blanks at both ends of s[0..*n) in place; returns the new start. */
static char *
trim(char *s, size_t *n)
{
	while (*n > 0 && is_blank(s[*n - 1]))
		(*n)--;
	s[*n] = '\0';
	while (*n > 0 && is_blank(*s)) {
		s++;
		(*n)--;
	}
	return s;
}

/*
 * One line (no newline, NUL-terminated, writable).  *section is the current
 * section (a string of the table), updated by a section header.
 */
static int
parse_line(struct config *cfg, struct parse_state *st, unsigned lineno, char *line,
	   const char **section, const char **error_r)
{
	size_t n = strlen(line);
	const char *at = errfmt("%s:%u", st->path, lineno);

	/* '#' starts a comment at the start of a line or after a blank, so a
	 * value may hold '#' ("a#b") */
	for (size_t i = 0; i < n; i++) {
		if (line[i] == '#' && (i == 0 || is_blank(line[i - 1]))) {
			n = i;
			break;
		}
	}
	char *s = trim(line, &n);
	if (n == 0)
		return 0;
	if (s[0] == '[') {
		if (s[n - 1] != ']') {
			*error_r = errfmt("%s: malformed section header '%s'", at, esc(s, n));
			return -1;
		}
		size_t nn = n - 2;
		char *name = trim(s + 1, &nn);
		for (size_t i = 0; i < N_SETTINGS; i++) {
			if (strcmp(settings[i].section, name) == 0) {
				*section = settings[i].section;
				return 0;
			}
		}
		*error_r = errfmt("%s: unknown section [%s]", at, esc(name, nn));
		return -1;
	}
	char *eq = strchr(s, '=');
	if (eq == NULL) {
		*error_r = errfmt("%s: expected 'key = value' or '[section]', not '%s'", at,
				  esc(s, n));
		return -1;
	}
	size_t kn = (size_t)(eq - s), vn = n - kn - 1;
	char *key = trim(s, &kn);
	char *value = trim(eq + 1, &vn);
	if (kn == 0) {
		*error_r = errfmt("%s: a value without a key", at);
		return -1;
	}
	if (*section == NULL) {
		*error_r = errfmt("%s: key '%s' before any [section]", at, esc(key, kn));
		return -1;
	}
	const struct setting *set = find_setting(*section, key);
	if (set == NULL) {
		*error_r = errfmt("%s: unknown key '%s' in [%s]", at, esc(key, kn), *section);
		return -1;
	}
	unsigned *seen = &st->lines[set - settings];
	if (*seen != 0) {
		*error_r = errfmt("%s: duplicate key '%s' in [%s] (first set on line %u)", at,
				  set->key, set->section, *seen);
		return -1;
	}
	*seen = lineno;
	if (vn == 0) {
		*error_r = errfmt("%s: empty value for '%s' in [%s]", at, set->key, set->section);
		return -1;
	}
	const char *why;
	if (setting_parse(cfg, set, value, &why) < 0) {
		*error_r = errfmt("%s: bad value for '%s' in [%s]: %s", at, set->key,
				  set->section, why);
		return -1;
	}
	return 0;
}

int
config_parse(const char *path, const char *text, size_t len, struct config **cfg_r,
	     const char **error_r)
{
	struct config *cfg = defaults_new();
	struct parse_state st = { .path = path };
	const char *section = NULL;
	unsigned lineno = 0;
	size_t pos = 0;

	cfg->path = xstrdup(path);
	/* a UTF-8 byte order mark, as some editors write */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		size_t next = pos + n + (nl != NULL);
		lineno++;
		/* a file edited on Windows */
		if (n > 0 && text[pos + n - 1] == '\r')
			n--;
		if (n > CONFIG_LINE_MAX) {
			*error_r = errfmt("%s:%u: line longer than %d bytes", path, lineno,
					  CONFIG_LINE_MAX);
			goto fail;
		}
		if (memchr(text + pos, '\0', n) != NULL) {
			*error_r = errfmt("%s:%u: NUL byte in the line", path, lineno);
			goto fail;
		}
		char *line = xstrndup(text + pos, n);
		int r = parse_line(cfg, &st, lineno, line, &section, error_r);
		free(line);
		if (r < 0)
			goto fail;
		pos = next;
	}
	finish(cfg);
	if (verify(cfg, &st, error_r) < 0)
		goto fail;
	*cfg_r = cfg;
	return 0;
fail:
	config_free(&cfg);
	return -1;
}

int
config_load(const char *path, struct config **cfg_r, const char **error_r)
{
	struct buf text;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		*error_r = errfmt("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&text, CONFIG_FILE_MAX);
	for (;;) {
		size_t room = CONFIG_FILE_MAX - text.len;
		size_t want = room < 4096 ? room : 4096;
		if (want == 0) {
			int c = fgetc(f);
			if (c == EOF && !ferror(f))
				break;
			if (c == EOF)
				*error_r = errfmt("cannot read %s: %s", path, strerror(errno));
			else
				*error_r = errfmt("%s is larger than %d bytes", path,
						  CONFIG_FILE_MAX);
			goto fail;
		}
		char *p = buf_reserve(&text, want);
		if (p == NULL)
			panic("config: the read buffer refused room it has");
		size_t n = fread(p, 1, want, f);
		buf_commit(&text, n);
		if (n < want) {
			if (ferror(f)) {
				*error_r = errfmt("cannot read %s: %s", path, strerror(errno));
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	int r = config_parse(path, text.data != NULL ? text.data : "", text.len, cfg_r, error_r);
	buf_free(&text);
	return r;
fail:
	fclose(f);
	buf_free(&text);
	return -1;
}

static const char *const oauth2_names[OAUTH2_PROVIDERS] = { "google", "microsoft", "yahoo",
							    "custom" };

const char *
config_oauth2_name(enum config_oauth2_provider p)
{
	return (unsigned)p < OAUTH2_PROVIDERS ? oauth2_names[p] : "?";
}

const struct config_oauth2 *
config_oauth2_find(const struct config *cfg, const char *name)
{
	for (int i = 0; i < OAUTH2_PROVIDERS; i++) {
		if (name != NULL && strcmp(name, oauth2_names[i]) == 0)
			return &cfg->oauth2[i];
	}
	return NULL;
}
