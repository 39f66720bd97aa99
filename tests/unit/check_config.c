/* Unit tests for core/config: the INI format, the table, the verify step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "tests/unit/runner.h"

static const char *last_error;

/* Parses text as "t.conf"; NULL (and last_error) on error. */
static struct config *
parse(const char *text)
{
	struct config *cfg = NULL;
	last_error = NULL;
	if (config_parse("t.conf", text, strlen(text), &cfg, &last_error) < 0) {
		ck_assert_ptr_null(cfg);
		ck_assert_ptr_nonnull(last_error);
		return NULL;
	}
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/* Asserts that text fails with exactly the message want. */
static void
assert_error(const char *text, const char *want)
{
	struct config *cfg = parse(text);
	ck_assert_msg(cfg == NULL, "accepted: %s", text);
	ck_assert_str_eq(last_error, want);
}

START_TEST(test_defaults)
{
	struct config *cfg = config_defaults();
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	ck_assert_str_eq(cfg->hostname, host[0] != '\0' ? host : "localhost");
	ck_assert_str_eq(cfg->data_dir, "/var/lib/mailhub");
	ck_assert_str_eq(cfg->static_dir, "/usr/share/mailhub/static");
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->path);
	ck_assert(!cfg->plaintext_on_loopback);
	ck_assert_uint_eq(cfg->auth_block_after, 10);
	ck_assert_uint_eq(cfg->auth_block_seconds, 900);
	ck_assert_uint_eq(cfg->auth_delay_max_ms, 8000);
	for (int k = 0; k < LISTEN_COUNT; k++) {
		ck_assert(!cfg->listen[k].enabled);
		ck_assert_ptr_null(cfg->listen[k].text);
	}
	ck_assert_ptr_null(cfg->tls_cert);
	ck_assert_ptr_null(cfg->tls_key);
	ck_assert_ptr_null(cfg->dns_resolver);
	ck_assert_uint_eq(cfg->relay_mx_port, 25);
	ck_assert_uint_eq(cfg->relay_workers, 4);
	ck_assert_uint_eq(cfg->relay_retry_first, 300);
	ck_assert_uint_eq(cfg->relay_retry_max, 14400);
	ck_assert_uint_eq(cfg->relay_lifetime, 432000);
	ck_assert_uint_eq(cfg->relay_delay_notice, 14400);
	ck_assert_uint_eq(cfg->fetch_workers, 4);
	ck_assert_uint_eq(cfg->message_size, 52428800);
	ck_assert_uint_eq(cfg->recipients, 100);
	ck_assert_uint_eq(cfg->connections, 1000);
	ck_assert_uint_eq(cfg->connections_per_ip, 50);
	ck_assert_uint_eq(cfg->errors, 10);
	ck_assert_uint_eq(cfg->smtp_timeout, 300);
	ck_assert_uint_eq(cfg->smtp_data_timeout, 180);
	ck_assert_uint_eq(cfg->imap_timeout, 1800);
	ck_assert_uint_eq(cfg->imap_prelogin_timeout, 60);
	ck_assert_uint_eq(cfg->pop3_timeout, 600);
	ck_assert_uint_eq(cfg->shutdown_grace, 10);
	config_free(&cfg);
	ck_assert_ptr_null(cfg);
	config_free(&cfg);

	/* an empty file is all defaults */
	cfg = parse("");
	ck_assert_str_eq(cfg->path, "t.conf");
	ck_assert_uint_eq(cfg->message_size, 52428800);
	config_free(&cfg);
}
END_TEST

START_TEST(test_interface_example)
{
	/* the example of INTERFACE.md, comments and all */
	struct config *cfg = parse(
		"[server]\n"
		"hostname = mail.example.org\n"
		"data_dir = /var/lib/mailhub\n"
		"static_dir = /usr/share/mailhub/static   # the panel's files\n"
		"user = mailhub       # optional: started as root\n"
		"\n"
		"[auth]\n"
		"plaintext_on_loopback = no   # yes: allow LOGIN/AUTH without TLS\n"
		"\n"
		"[listen]\n"
		"smtp        = 25        # inbound MX, STARTTLS offered\n"
		"submission  = 587       # STARTTLS, AUTH required\n"
		"submissions = 465       # implicit TLS, AUTH required\n"
		"imap        = 143       # STARTTLS\n"
		"imaps       = 993       # implicit TLS\n"
		"pop3        = 110       # STLS\n"
		"pop3s       = 995       # implicit TLS\n"
		"admin       = 127.0.0.1:8080   # REST API + HTML panel\n"
		"managesieve = 4190      # ManageSieve, STARTTLS\n"
		"\n"
		"[tls]\n"
		"cert = /etc/mailhub/tls/fullchain.pem   # absent: the self-signed one\n"
		"key  = /etc/mailhub/tls/privkey.pem     # re-read on SIGHUP\n"
		"\n"
		"[dns]\n"
		"resolver = 127.0.0.1:53   # optional\n"
		"\n"
		"[relay]\n"
		"mx_port = 25              # port used for direct MX delivery\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_str_eq(cfg->hostname, "mail.example.org");
	ck_assert_str_eq(cfg->static_dir, "/usr/share/mailhub/static");
	ck_assert_str_eq(cfg->user, "mailhub");
	static const unsigned ports[LISTEN_COUNT] = { 25, 587, 465, 143, 993, 110, 995, 8080, 4190 };
	for (int k = 0; k < LISTEN_COUNT; k++) {
		ck_assert(cfg->listen[k].enabled);
		ck_assert_uint_eq(cfg->listen[k].port, ports[k]);
	}
	ck_assert_ptr_null(cfg->listen[LISTEN_SMTP].host);
	ck_assert_str_eq(cfg->listen[LISTEN_SMTP].text, "25");
	ck_assert_str_eq(cfg->listen[LISTEN_ADMIN].host, "127.0.0.1");
	ck_assert_str_eq(cfg->listen[LISTEN_ADMIN].text, "127.0.0.1:8080");
	ck_assert_str_eq(cfg->tls_cert, "/etc/mailhub/tls/fullchain.pem");
	ck_assert_str_eq(cfg->tls_key, "/etc/mailhub/tls/privkey.pem");
	ck_assert_str_eq(cfg->dns_resolver, "127.0.0.1:53");
	config_free(&cfg);
}
END_TEST

START_TEST(test_listen_names)
{
	static const char *const names[LISTEN_COUNT] = {
		"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "admin",
		"managesieve"
	};
	for (int k = 0; k < LISTEN_COUNT; k++)
		ck_assert_str_eq(config_listen_name((enum listen_kind)k), names[k]);
}
END_TEST

START_TEST(test_comments_and_blanks)
{
	struct config *cfg = parse(
		"# a comment\n"
		"   # an indented comment\n"
		"\t\n"
		"[server]   # a comment after a section\n"
		"static_dir=/srv/x#not-a-comment\n"
		"user =\tmail_hub  \t\n"
		"data_dir = /srv/mail/\r\n"
		"[ limits ]\n"
		"message_size = 10M\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	/* '#' inside a value without a blank before it is part of the value */
	ck_assert_str_eq(cfg->static_dir, "/srv/x#not-a-comment");
	ck_assert_str_eq(cfg->user, "mail_hub");
	ck_assert_str_eq(cfg->data_dir, "/srv/mail");
	ck_assert_uint_eq(cfg->message_size, 10 * 1024 * 1024);
	config_free(&cfg);
	ck_assert(cfg == NULL);
	/* and host names cannot have one */
	assert_error("[server]\nhostname = mx.example.org#x\n",
		     "t.conf:2: bad value for 'hostname' in [server]: "
		     "'mx.example.org#x' is not a host name");
	cfg = parse("[server]\nhostname = mx.example.org # x\nstatic_dir = /a#b\t#c\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_str_eq(cfg->hostname, "mx.example.org");
	ck_assert_str_eq(cfg->static_dir, "/a#b");
	config_free(&cfg);
	/* CRLF lines, no final newline, a byte order mark */
	cfg = parse("\xef\xbb\xbf[server]\r\ndata_dir = /srv/mail/\r\n[limits]\r\nmessage_size = 10M");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_str_eq(cfg->data_dir, "/srv/mail");
	ck_assert_uint_eq(cfg->message_size, 10 * 1024 * 1024);
	config_free(&cfg);
}
END_TEST

START_TEST(test_structure_errors)
{
	assert_error("[server]\n[listen]\nsmpt = 25\n",
		     "t.conf:3: unknown key 'smpt' in [listen]");
	assert_error("\n\n[sever]\n", "t.conf:3: unknown section [sever]");
	assert_error("[server\n", "t.conf:1: malformed section header '[server'");
	assert_error("hostname = x\n", "t.conf:1: key 'hostname' before any [section]");
	assert_error("[server]\njust words\n",
		     "t.conf:2: expected 'key = value' or '[section]', not 'just words'");
	assert_error("[server]\n= value\n", "t.conf:2: a value without a key");
	assert_error("[server]\nuser =\n", "t.conf:2: empty value for 'user' in [server]");
	assert_error("[server]\nuser = # only a comment\n",
		     "t.conf:2: empty value for 'user' in [server]");
	/* a key of another section */
	assert_error("[auth]\nhostname = x\n", "t.conf:2: unknown key 'hostname' in [auth]");
	/* keys are case-sensitive */
	assert_error("[listen]\nSMTP = 25\n", "t.conf:2: unknown key 'SMTP' in [listen]");
}
END_TEST

START_TEST(test_duplicate_key)
{
	assert_error("[listen]\nsmtp = 25\n\nsmtp = 2525\n",
		     "t.conf:4: duplicate key 'smtp' in [listen] (first set on line 2)");
	/* a section may appear twice, a key still only once */
	assert_error("[limits]\nerrors = 5\n[server]\n[limits]\nerrors = 6\n",
		     "t.conf:5: duplicate key 'errors' in [limits] (first set on line 2)");
	struct config *cfg = parse("[limits]\nerrors = 5\n[server]\nuser = x\n[limits]\nrecipients = 7\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_uint_eq(cfg->errors, 5);
	ck_assert_uint_eq(cfg->recipients, 7);
	config_free(&cfg);
}
END_TEST

START_TEST(test_line_limits)
{
	/* a line of 4096 bytes is fine, 4097 is not */
	size_t n = 4096;
	char *text = malloc(n + 64);
	int k = snprintf(text, n + 64, "[server]\nuser = ");
	memset(text + k, 'a', 4096 - 7);
	text[k + 4096 - 7] = '\0';
	struct config *cfg = parse(text);
	/* too long for a user name, but it got that far */
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(strstr(last_error, "is not a user name"));
	memcpy(text + k + 4096 - 7, "a\n", 3);
	assert_error(text, "t.conf:2: line longer than 4096 bytes");
	free(text);
	/* a NUL byte */
	const char nul[] = "[server]\nuser = a\0b\n";
	ck_assert_int_eq(config_parse("t.conf", nul, sizeof nul - 1, &cfg, &last_error), -1);
	ck_assert_str_eq(last_error, "t.conf:2: NUL byte in the line");
}
END_TEST

START_TEST(test_numbers)
{
	struct config *cfg = parse("[limits]\nrecipients = 1\nconnections = 100000\n"
				   "connections_per_ip = 100000\nshutdown_grace = 0\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_uint_eq(cfg->recipients, 1);
	ck_assert_uint_eq(cfg->connections, 100000);
	ck_assert_uint_eq(cfg->shutdown_grace, 0);
	config_free(&cfg);
	assert_error("[limits]\nrecipients = 0\n",
		     "t.conf:2: bad value for 'recipients' in [limits]: 0 is out of range (1 to 100000)");
	assert_error("[limits]\nconnections = 100001\n",
		     "t.conf:2: bad value for 'connections' in [limits]: "
		     "100001 is out of range (1 to 100000)");
	assert_error("[relay]\nmx_port = 65536\n",
		     "t.conf:2: bad value for 'mx_port' in [relay]: 65536 is out of range (1 to 65535)");
	assert_error("[relay]\nworkers = -1\n",
		     "t.conf:2: bad value for 'workers' in [relay]: '-1' is not a whole number");
	assert_error("[relay]\nworkers = 4 workers\n",
		     "t.conf:2: bad value for 'workers' in [relay]: '4 workers' is not a whole number");
	assert_error("[relay]\nworkers = 0x10\n",
		     "t.conf:2: bad value for 'workers' in [relay]: '0x10' is not a whole number");
	/* far past 64 bits */
	assert_error("[relay]\nworkers = 99999999999999999999999\n",
		     "t.conf:2: bad value for 'workers' in [relay]: "
		     "'99999999999999999999999' is not a whole number");
	/* sizes are not numbers with suffixes elsewhere */
	assert_error("[limits]\nerrors = 1K\n",
		     "t.conf:2: bad value for 'errors' in [limits]: '1K' is not a whole number");
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} ok[] = {
		{ "1024", 1024 }, { "1K", 1024 }, { "64k", 65536 }, { "50M", 52428800 },
		{ "3m", 3145728 }, { "1G", 1073741824 }, { "1g", 1073741824 },
		{ "1048576", 1048576 },
	};
	char text[128];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(text, sizeof text, "[limits]\nmessage_size = %s\n", ok[i].text);
		struct config *cfg = parse(text);
		ck_assert_msg(cfg != NULL, "%s", last_error);
		ck_assert_uint_eq(cfg->message_size, ok[i].bytes);
		config_free(&cfg);
	}
	assert_error("[limits]\nmessage_size = 2G\n",
		     "t.conf:2: bad value for 'message_size' in [limits]: "
		     "2G is out of range (1024 to 1073741824 bytes)");
	assert_error("[limits]\nmessage_size = 1023\n",
		     "t.conf:2: bad value for 'message_size' in [limits]: "
		     "1023 is out of range (1024 to 1073741824 bytes)");
	assert_error("[limits]\nmessage_size = 10T\n",
		     "t.conf:2: bad value for 'message_size' in [limits]: "
		     "'10T' is not a size (a number of bytes, or with K, M or G)");
	assert_error("[limits]\nmessage_size = M\n",
		     "t.conf:2: bad value for 'message_size' in [limits]: "
		     "'M' is not a size (a number of bytes, or with K, M or G)");
	assert_error("[limits]\nmessage_size = 1.5M\n",
		     "t.conf:2: bad value for 'message_size' in [limits]: "
		     "'1.5M' is not a size (a number of bytes, or with K, M or G)");
	assert_error("[limits]\nmessage_size = 17179869184G\n",
		     "t.conf:2: bad value for 'message_size' in [limits]: '17179869184G' is too large");
}
END_TEST

START_TEST(test_booleans)
{
	static const char *const yes[] = { "yes", "YES", "true", "On", "1" };
	static const char *const no[] = { "no", "False", "off", "0" };
	char text[128];
	for (size_t i = 0; i < 5; i++) {
		snprintf(text, sizeof text, "[auth]\nplaintext_on_loopback = %s\n", yes[i]);
		struct config *cfg = parse(text);
		ck_assert_msg(cfg != NULL, "%s", last_error);
		ck_assert(cfg->plaintext_on_loopback);
		config_free(&cfg);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof text, "[auth]\nplaintext_on_loopback = %s\n", no[i]);
		struct config *cfg = parse(text);
		ck_assert_msg(cfg != NULL, "%s", last_error);
		ck_assert(!cfg->plaintext_on_loopback);
		config_free(&cfg);
	}
	assert_error("[auth]\nplaintext_on_loopback = maybe\n",
		     "t.conf:2: bad value for 'plaintext_on_loopback' in [auth]: "
		     "'maybe' is not yes/no, true/false, on/off or 1/0");
	assert_error("[auth]\nplaintext_on_loopback = 2\n",
		     "t.conf:2: bad value for 'plaintext_on_loopback' in [auth]: "
		     "'2' is not yes/no, true/false, on/off or 1/0");
}
END_TEST

START_TEST(test_auth_section)
{
	struct config *cfg = parse("[auth]\nblock_after = 3\nblock_seconds = 60\ndelay_max_ms = 0\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_uint_eq(cfg->auth_block_after, 3);
	ck_assert_uint_eq(cfg->auth_block_seconds, 60);
	ck_assert_uint_eq(cfg->auth_delay_max_ms, 0);
	config_free(&cfg);
	assert_error("[auth]\nblock_seconds = 0\n",
		     "t.conf:2: bad value for 'block_seconds' in [auth]: 0 is out of range (1 to 604800)");
}
END_TEST

START_TEST(test_addresses)
{
	static const struct {
		const char *text;
		const char *host;	/* NULL: all addresses */
		unsigned port;
	} ok[] = {
		{ "25", NULL, 25 },
		{ "65535", NULL, 65535 },
		{ "127.0.0.1:8080", "127.0.0.1", 8080 },
		{ "0.0.0.0:25", "0.0.0.0", 25 },
		{ "[::1]:143", "::1", 143 },
		{ "[::]:993", "::", 993 },
		{ "[2001:db8::25]:587", "2001:db8::25", 587 },
		{ "[::ffff:192.0.2.1]:25", "::ffff:192.0.2.1", 25 },
		{ "localhost:8080", "localhost", 8080 },
		{ "mail.example.org:25", "mail.example.org", 25 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char *host = (char *)"sentinel";
		unsigned port = 0;
		const char *err = NULL;
		ck_assert_msg(config_parse_address(ok[i].text, false, &host, &port, &err) == 0,
			      "%s: %s", ok[i].text, err);
		if (ok[i].host == NULL)
			ck_assert_ptr_null(host);
		else
			ck_assert_str_eq(host, ok[i].host);
		ck_assert_uint_eq(port, ok[i].port);
		free(host);
	}
	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "", "empty address" },
		{ "0", "'0' is not a port number (1-65535)" },
		{ "65536", "'65536' is not a port number (1-65535)" },
		{ "100000", "'100000' is not a port number (1-65535)" },
		{ "smtp", "'smtp' is not a port number (1-65535)" },
		{ "-25", "'-25' is not a port number (1-65535)" },
		{ "127.0.0.1:", "'' is not a port number (1-65535)" },
		{ "127.0.0.1", "'127.0.0.1' is not a port number (1-65535)" },
		{ ":25", "':25' lacks the host before ':'" },
		{ "256.0.0.1:25", "'256.0.0.1' is not an IPv4 address" },
		{ "1.2.3:25", "'1.2.3' is not an IPv4 address" },
		{ "bad_host:25", "'bad_host' is not a host name" },
		{ "-bad.example:25", "'-bad.example' is not a host name" },
		{ "::1:25", "'::1:25': an IPv6 address goes in brackets, as [::1]:25" },
		{ "[::1]", "'[::1]' lacks ':PORT' after the IPv6 address" },
		{ "[::1]:", "'[::1]:' lacks ':PORT' after the IPv6 address" },
		{ "[::1]25", "'[::1]25' lacks ':PORT' after the IPv6 address" },
		{ "[::1:25", "'[::1:25' lacks the ']' after the IPv6 address" },
		{ "[127.0.0.1]:25", "'127.0.0.1' is not an IPv6 address" },
		{ "[fe80::1%eth0]:25", "'fe80::1%eth0' is not an IPv6 address" },
		{ "[::1]:0", "'0' is not a port number (1-65535)" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *host = NULL;
		unsigned port = 0;
		const char *err = NULL;
		ck_assert_msg(config_parse_address(bad[i].text, false, &host, &port, &err) == -1,
			      "accepted %s", bad[i].text);
		ck_assert_str_eq(err, bad[i].error);
		ck_assert_ptr_null(host);
	}
	/* port 0 only when asked for (tests bind to any free port) */
	char *host = NULL;
	unsigned port = 9;
	const char *err;
	ck_assert_int_eq(config_parse_address("127.0.0.1:0", true, &host, &port, &err), 0);
	ck_assert_uint_eq(port, 0);
	free(host);
}
END_TEST

START_TEST(test_listen_in_file)
{
	struct config *cfg = parse("[listen]\nimap = [::1]:1143\nadmin = 127.0.0.1:8080\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert(cfg->listen[LISTEN_IMAP].enabled);
	ck_assert_str_eq(cfg->listen[LISTEN_IMAP].host, "::1");
	ck_assert_str_eq(cfg->listen[LISTEN_IMAP].text, "[::1]:1143");
	ck_assert_uint_eq(cfg->listen[LISTEN_IMAP].port, 1143);
	ck_assert(!cfg->listen[LISTEN_SMTP].enabled);
	config_free(&cfg);
	assert_error("[listen]\nimaps = 99999\n",
		     "t.conf:2: bad value for 'imaps' in [listen]: "
		     "'99999' is not a port number (1-65535)");
	assert_error("[listen]\nsmtp = 999.1.1.1:25\n",
		     "t.conf:2: bad value for 'smtp' in [listen]: '999.1.1.1' is not an IPv4 address");
	/* two listeners on one port */
	assert_error("[listen]\nsmtp = 2525\nimap = 127.0.0.1:2525\n",
		     "t.conf:3: [listen] imap uses port 2525 like smtp");
	assert_error("[listen]\npop3 = [::1]:110\nadmin = [::1]:110\n",
		     "t.conf:3: [listen] admin uses port 110 like pop3");
	/* the same port on two distinct addresses is fine */
	cfg = parse("[listen]\nsmtp = 127.0.0.1:25\nsubmission = 127.0.0.2:25\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	config_free(&cfg);
}
END_TEST

START_TEST(test_resolver)
{
	static const struct {
		const char *text, *stored;
	} ok[] = {
		{ "127.0.0.1:53", "127.0.0.1:53" },
		{ "127.0.0.1:5353", "127.0.0.1:5353" },
		{ "192.0.2.53", "192.0.2.53:53" },
		{ "[::1]:5353", "[::1]:5353" },
		{ "[::1]", "[::1]:53" },
		{ "2001:db8::53", "[2001:db8::53]:53" },
	};
	char text[128];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		snprintf(text, sizeof text, "[dns]\nresolver = %s\n", ok[i].text);
		struct config *cfg = parse(text);
		ck_assert_msg(cfg != NULL, "%s: %s", ok[i].text, last_error);
		ck_assert_str_eq(cfg->dns_resolver, ok[i].stored);
		/* what is stored parses as an address again */
		char *host = NULL;
		unsigned port;
		const char *err;
		ck_assert_int_eq(config_parse_address(cfg->dns_resolver, false, &host, &port, &err), 0);
		free(host);
		config_free(&cfg);
	}
	assert_error("[dns]\nresolver = dns.example.org\n",
		     "t.conf:2: bad value for 'resolver' in [dns]: 'dns.example.org' is not an "
		     "IP address (the resolver cannot be found by name)");
	assert_error("[dns]\nresolver = 53\n",
		     "t.conf:2: bad value for 'resolver' in [dns]: '53' is not an "
		     "IP address (the resolver cannot be found by name)");
	assert_error("[dns]\nresolver = 127.0.0.1:0\n",
		     "t.conf:2: bad value for 'resolver' in [dns]: '0' is not a port number (1-65535)");
	assert_error("[dns]\nresolver = []\n",
		     "t.conf:2: bad value for 'resolver' in [dns]: '' is not an "
		     "IP address (the resolver cannot be found by name)");
}
END_TEST

START_TEST(test_strings_and_paths)
{
	struct config *cfg = parse("[server]\ndata_dir = /\nstatic_dir = /opt/static//\n"
				   "hostname = MX1.Example.ORG\nuser = _mailhub\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_str_eq(cfg->data_dir, "/");
	ck_assert_str_eq(cfg->static_dir, "/opt/static");
	ck_assert_str_eq(cfg->hostname, "MX1.Example.ORG");
	ck_assert_str_eq(cfg->user, "_mailhub");
	config_free(&cfg);
	assert_error("[server]\ndata_dir = var/lib/mailhub\n",
		     "t.conf:2: bad value for 'data_dir' in [server]: "
		     "'var/lib/mailhub' is not an absolute path");
	assert_error("[server]\nstatic_dir = ./static\n",
		     "t.conf:2: bad value for 'static_dir' in [server]: "
		     "'./static' is not an absolute path");
	assert_error("[server]\nhostname = bad..example\n",
		     "t.conf:2: bad value for 'hostname' in [server]: "
		     "'bad..example' is not a host name");
	assert_error("[server]\nhostname = a-.example\n",
		     "t.conf:2: bad value for 'hostname' in [server]: "
		     "'a-.example' is not a host name");
	assert_error("[server]\nuser = root:x\n",
		     "t.conf:2: bad value for 'user' in [server]: 'root:x' is not a user name");
	assert_error("[server]\nuser = 1000\n",
		     "t.conf:2: bad value for 'user' in [server]: '1000' is not a user name");
	/* control bytes are escaped in messages */
	assert_error("[server]\nuser = a\x01z\n",
		     "t.conf:2: bad value for 'user' in [server]: 'a\\x01z' is not a user name");
}
END_TEST

START_TEST(test_verify)
{
	assert_error("[tls]\ncert = /etc/c.pem\n",
		     "t.conf:2: [tls] cert is set but key is not (set both or neither)");
	assert_error("[server]\n[tls]\n\nkey = /etc/k.pem\n",
		     "t.conf:4: [tls] key is set but cert is not (set both or neither)");
	assert_error("[tls]\ncert = relative.pem\n",
		     "t.conf:2: bad value for 'cert' in [tls]: 'relative.pem' is not an absolute path");
	assert_error("[relay]\nretry_first = 20000\n",
		     "t.conf:2: [relay] retry_first (20000) is longer than retry_max (14400)");
	/* a rule broken by a default names only the file */
	assert_error("[relay]\nlifetime = 3600\n",
		     "t.conf: [relay] retry_max (14400) is longer than lifetime (3600)");
	assert_error("[limits]\nconnections = 10\n",
		     "t.conf: [limits] connections_per_ip (50) is above connections (10)");
	struct config *cfg = parse("[limits]\nconnections = 10\nconnections_per_ip = 10\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	config_free(&cfg);
}
END_TEST

START_TEST(test_spam_section)
{
	/* everything off by default */
	struct config *cfg = parse("");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_ptr_null(cfg->rspamd_url);
	ck_assert_ptr_null(cfg->dnsbl);
	ck_assert(!cfg->greylist);
	ck_assert_uint_eq(cfg->rspamd_timeout, 20);
	ck_assert_uint_eq(cfg->rspamd_max_size, 20 * 1024 * 1024);
	ck_assert_uint_eq(cfg->greylist_delay, 300);
	ck_assert_uint_eq(cfg->greylist_retry_window, 2 * 86400);
	ck_assert_uint_eq(cfg->greylist_expire, 35 * 86400);
	config_free(&cfg);

	cfg = parse("[spam]\nrspamd = http://127.0.0.1:11333\n"
		    "rspamd_controller = HTTP://localhost:11334/\nrspamd_password = q1 x\n"
		    "dnsbl = zen.spamhaus.org, bl.spamcop.net\n"
		    "dnsbl_allow = 192.0.2.0/24 2001:db8::/32\n"
		    "greylist = yes\ngreylist_delay = 1\ngreylist_allow = 198.51.100.7\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_str_eq(cfg->rspamd_url, "http://127.0.0.1:11333");
	ck_assert_str_eq(cfg->rspamd_password, "q1 x");
	ck_assert_str_eq(cfg->dnsbl, "zen.spamhaus.org, bl.spamcop.net");
	ck_assert(cfg->greylist);
	config_free(&cfg);

	static const struct {
		const char *url, *host;
		unsigned port;
	} urls[] = {
		{ "http://127.0.0.1:11333", "127.0.0.1", 11333 },
		{ "http://127.0.0.1:11333/", "127.0.0.1", 11333 },
		{ "http://rspamd.lan", "rspamd.lan", 80 },
		{ "http://[::1]:11334", "::1", 11334 },
		{ "http://[::1]", "::1", 80 },
	};
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		char *host = NULL;
		unsigned port = 0;
		const char *err = NULL;
		ck_assert_msg(config_parse_http_url(urls[i].url, &host, &port, &err) == 0,
			      "%s: %s", urls[i].url, err);
		ck_assert_str_eq(host, urls[i].host);
		ck_assert_uint_eq(port, urls[i].port);
		free(host);
	}
	assert_error("[spam]\nrspamd = https://127.0.0.1:11333\n",
		     "t.conf:2: bad value for 'rspamd' in [spam]: 'https://127.0.0.1:11333' is "
		     "not an http:// URL (rspamd speaks plain HTTP; keep it on loopback or a "
		     "trusted network)");
	assert_error("[spam]\nrspamd = http://127.0.0.1:11333/checkv2\n",
		     "t.conf:2: bad value for 'rspamd' in [spam]: "
		     "'http://127.0.0.1:11333/checkv2' must be http://HOST[:PORT], without a "
		     "path or credentials");
	assert_error("[spam]\nrspamd = http://u:p@127.0.0.1\n",
		     "t.conf:2: bad value for 'rspamd' in [spam]: 'http://u:p@127.0.0.1' must "
		     "be http://HOST[:PORT], without a path or credentials");
	assert_error("[spam]\nrspamd = http://\n",
		     "t.conf:2: bad value for 'rspamd' in [spam]: 'http://' must be "
		     "http://HOST[:PORT], without a path or credentials");
	assert_error("[spam]\nrspamd = http://127.0.0.1:0\n",
		     "t.conf:2: bad value for 'rspamd' in [spam]: '0' is not a port number "
		     "(1-65535)");
	assert_error("[spam]\ndnsbl = zen.spamhaus.org,bad..zone\n",
		     "t.conf:2: bad value for 'dnsbl' in [spam]: 'bad..zone' is not a DNS zone");
	assert_error("[spam]\ndnsbl = localhost\n",
		     "t.conf:2: bad value for 'dnsbl' in [spam]: 'localhost' is not a DNS zone");
	assert_error("[spam]\ndnsbl = a.x b.x c.x d.x e.x f.x g.x h.x i.x j.x k.x l.x m.x "
		     "n.x o.x p.x q.x\n",
		     "t.conf:2: bad value for 'dnsbl' in [spam]: more than 16 zones");
	assert_error("[spam]\ngreylist_allow = 192.0.2.0/33\n",
		     "t.conf:2: bad value for 'greylist_allow' in [spam]: '192.0.2.0/33' is not "
		     "an IP address or network (ADDRESS/PREFIX)");
	assert_error("[spam]\ndnsbl_allow = example.org\n",
		     "t.conf:2: bad value for 'dnsbl_allow' in [spam]: 'example.org' is not "
		     "an IP address or network (ADDRESS/PREFIX)");
	assert_error("[spam]\ngreylist_delay = 0\n",
		     "t.conf:2: bad value for 'greylist_delay' in [spam]: 0 is out of range "
		     "(1 to 86400)");
	assert_error("[spam]\nrspamd_password = secret\n",
		     "t.conf:2: [spam] rspamd_password is set but rspamd_controller is not");
}
END_TEST

START_TEST(test_all_keys_accepted)
{
	/* every key of the contract, with a value within its bounds */
	struct config *cfg = parse(
		"[server]\nhostname = h.example\ndata_dir = /d\nstatic_dir = /s\nuser = u\n"
		"[auth]\nplaintext_on_loopback = yes\nblock_after = 2\nblock_seconds = 3\n"
		"delay_max_ms = 4\n"
		"[listen]\nsmtp = 1025\nsubmission = 1587\nsubmissions = 1465\nimap = 1143\n"
		"imaps = 1993\npop3 = 1110\npop3s = 1995\nadmin = 18080\n"
		"[tls]\ncert = /c\nkey = /k\n"
		"[dns]\nresolver = 127.0.0.1\n"
		"[relay]\nmx_port = 2525\nworkers = 2\nretry_first = 60\nretry_max = 600\n"
		"lifetime = 3600\ndelay_notice = 0\n"
		"[fetch]\nworkers = 3\n"
		"[spam]\nrspamd = http://127.0.0.1:11333\nrspamd_timeout = 5\n"
		"rspamd_max_size = 1M\nrspamd_controller = http://127.0.0.1:11334\n"
		"rspamd_password = pw\ndnsbl = bl.example\ndnsbl_allow = 10.0.0.0/8\n"
		"greylist = yes\ngreylist_delay = 60\ngreylist_retry_window = 3600\n"
		"greylist_expire = 86400\ngreylist_allow = ::1\n"
		"[limits]\nmessage_size = 1M\nrecipients = 5\nconnections = 6\n"
		"connections_per_ip = 6\nerrors = 7\nsmtp_timeout = 8\nsmtp_data_timeout = 9\n"
		"imap_timeout = 10\nimap_prelogin_timeout = 11\npop3_timeout = 12\n"
		"shutdown_grace = 13\n");
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_uint_eq(cfg->auth_delay_max_ms, 4);
	ck_assert_uint_eq(cfg->listen[LISTEN_POP3S].port, 1995);
	ck_assert_uint_eq(cfg->relay_mx_port, 2525);
	ck_assert_uint_eq(cfg->relay_delay_notice, 0);
	ck_assert_uint_eq(cfg->fetch_workers, 3);
	ck_assert_uint_eq(cfg->rspamd_timeout, 5);
	ck_assert_uint_eq(cfg->greylist_retry_window, 3600);
	ck_assert_str_eq(cfg->greylist_allow, "::1");
	ck_assert_uint_eq(cfg->relay_workers, 2);
	ck_assert_uint_eq(cfg->smtp_data_timeout, 9);
	ck_assert_uint_eq(cfg->imap_prelogin_timeout, 11);
	ck_assert_uint_eq(cfg->shutdown_grace, 13);
	config_free(&cfg);
}
END_TEST

START_TEST(test_load_file)
{
	char *dir = test_tmpdir();
	char *path, *missing;
	ck_assert_int_ge(asprintf(&path, "%s/mailhub.conf", dir), 0);
	ck_assert_int_ge(asprintf(&missing, "%s/none.conf", dir), 0);
	FILE *f = fopen(path, "w");
	fputs("[listen]\nsmtp = 2525\n\n[limits]\nsmpt_timeout = 5\n", f);
	fclose(f);

	struct config *cfg = NULL;
	const char *err = NULL;
	ck_assert_int_eq(config_load(path, &cfg, &err), -1);
	char *want;
	ck_assert_int_ge(asprintf(&want, "%s:5: unknown key 'smpt_timeout' in [limits]", path), 0);
	ck_assert_str_eq(err, want);
	free(want);

	ck_assert_int_eq(config_load(missing, &cfg, &err), -1);
	ck_assert_int_ge(asprintf(&want, "cannot open %s: No such file or directory", missing), 0);
	ck_assert_str_eq(err, want);
	free(want);

	f = fopen(path, "w");
	fputs("[listen]\nsmtp = 2525\n[limits]\nsmtp_timeout = 5", f);
	fclose(f);
	ck_assert_int_eq(config_load(path, &cfg, &err), 0);
	ck_assert_str_eq(cfg->path, path);
	ck_assert_uint_eq(cfg->smtp_timeout, 5);
	ck_assert_uint_eq(cfg->listen[LISTEN_SMTP].port, 2525);
	config_free(&cfg);

	/* a directory is not a config file */
	ck_assert_int_eq(config_load(dir, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "Is a directory"));

	/* a file of exactly 1 MiB is read; one byte more is refused */
	f = fopen(path, "w");
	for (int i = 0; i < 65536; i++)
		fputs("# 4567890abcdef\n", f);
	fclose(f);
	ck_assert_msg(config_load(path, &cfg, &err) == 0, "%s", err);
	config_free(&cfg);
	f = fopen(path, "a");
	fputc('\n', f);
	fclose(f);
	ck_assert_int_eq(config_load(path, &cfg, &err), -1);
	ck_assert_int_ge(asprintf(&want, "%s is larger than 1048576 bytes", path), 0);
	ck_assert_str_eq(err, want);
	free(want);
	free(path);
	free(missing);
	free(dir);
}
END_TEST

START_TEST(test_path_choose)
{
	unsetenv("MAILHUB_CONFIG");
	ck_assert_str_eq(config_path_choose(NULL), "/etc/mailhub/mailhub.conf");
	ck_assert_str_eq(config_path_choose("/x.conf"), "/x.conf");
	setenv("MAILHUB_CONFIG", "/env.conf", 1);
	ck_assert_str_eq(config_path_choose(NULL), "/env.conf");
	ck_assert_str_eq(config_path_choose(""), "/env.conf");
	ck_assert_str_eq(config_path_choose("/x.conf"), "/x.conf");
	setenv("MAILHUB_CONFIG", "", 1);
	ck_assert_str_eq(config_path_choose(NULL), CONFIG_DEFAULT_PATH);
	unsetenv("MAILHUB_CONFIG");
}
END_TEST

START_TEST(test_byte_at_a_time)
{
	/* every prefix of a valid file parses or fails cleanly, never crashes,
	 * and the whole file parses */
	const char *text = "[server]\nhostname = a.example # c\n[listen]\nimap = [::1]:1143\n"
			   "[limits]\nmessage_size = 2M\n";
	size_t n = strlen(text);
	for (size_t i = 0; i <= n; i++) {
		struct config *cfg = NULL;
		const char *err;
		if (config_parse("t.conf", text, i, &cfg, &err) == 0)
			config_free(&cfg);
		ck_assert_ptr_null(cfg);
	}
	struct config *cfg = parse(text);
	ck_assert_msg(cfg != NULL, "%s", last_error);
	ck_assert_uint_eq(cfg->message_size, 2 * 1024 * 1024);
	config_free(&cfg);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_interface_example);
	tcase_add_test(tc, test_listen_names);
	tcase_add_test(tc, test_comments_and_blanks);
	tcase_add_test(tc, test_structure_errors);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_line_limits);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_booleans);
	tcase_add_test(tc, test_auth_section);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_listen_in_file);
	tcase_add_test(tc, test_resolver);
	tcase_add_test(tc, test_strings_and_paths);
	tcase_add_test(tc, test_verify);
	tcase_add_test(tc, test_spam_section);
	tcase_add_test(tc, test_all_keys_accepted);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_path_choose);
	tcase_add_test(tc, test_byte_at_a_time);
	suite_add_tcase(s, tc);
	return s;
}
