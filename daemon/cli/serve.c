/*
 * `mailhub serve`: the daemon.
 *
 * Order of events: initialise data_dir if it never was; apply migrations;
 * load TLS; bind every configured listener (still with the privileges we were
 * started with, for ports below 1024); drop to [server] user if root; start
 * the accept thread and the background workers; then the main thread only
 * waits for signals: SIGHUP reloads TLS, SIGTERM/SIGINT stop accepting, tell
 * every session waiting for a command goodbye at once, and give those in
 * the middle of a transaction (and the relay and fetcher workers) [limits]
 * shutdown_grace seconds to finish it.
 */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve_index.h"
#include "cli/serve_protocols.h"
#include "core/config.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/seal.h"
#include "smtp/srs.h"
#include "core/throttle.h"
#include "core/tls.h"
#include "store/stats.h"
#include "store/store.h"
#include "web/web.h"

/* Blob files nobody references are swept this often, once this old. */
#define GC_INTERVAL_SECONDS 3600
#define GC_MIN_AGE_SECONDS 3600

static int
data_dir_ready(const struct config *cfg, const char **error_r)
{
	char *db = xasprintf("%s/mailhub.db", cfg->data_dir);
	struct stat stt;
	int exists = stat(db, &stt) == 0;
	free(db);
	if (exists)
		return 0;
	log_info("serve init data_dir=%s hostname=%s", cfg->data_dir, cfg->hostname);
	return cli_init_data_dir(cfg, cfg->hostname, error_r);
}

static int
load_tls(const struct config *cfg, const char **error_r)
{
	char *cert, *key;
	if (cfg->tls_cert != NULL) {
		cert = xstrdup(cfg->tls_cert);
		key = xstrdup(cfg->tls_key);
	} else {
		cert = xasprintf("%s/%s", cfg->data_dir, TLS_SELFSIGNED_CERT);
		key = xasprintf("%s/%s", cfg->data_dir, TLS_SELFSIGNED_KEY);
	}
	unsigned n_sni = 0;
	int r = tls_server_load_sni(cert, key, cfg->tls_sni, &n_sni, error_r);
	if (r == 0 && cfg->tls_sni != NULL)
		log_info("tls loaded cert=%s sni=%s certificates=%u", cert, cfg->tls_sni, n_sni);
	else if (r == 0)
		log_info("tls loaded cert=%s", cert);
	free(cert);
	free(key);
	return r;
}

static int
open_listeners(const struct config *cfg, const char **error_r)
{
	for (int kind = 0; kind < LISTEN_COUNT; kind++) {
		const struct config_listen *l = &cfg->listen[kind];
		/* The admin listener is libmicrohttpd's, started by start_web(). */
		if (!l->enabled || kind == LISTEN_ADMIN)
			continue;
		struct listener_spec spec;
		if (serve_protocol_spec(cfg, (enum listen_kind)kind, &spec, error_r) < 0)
			return -1;
		spec.host = l->host;
		spec.port = l->port;
		if (listener_add(&spec, error_r) < 0) {
			*error_r = errfmt("cannot listen on %s for %s: %s", l->text,
					  spec.name, *error_r);
			return -1;
		}
		/* one line per listener (listener_add logs none) */
		log_info("listen %s=%s tls=%s", spec.name, l->text,
			 spec.implicit_tls ? "implicit" : "starttls");
	}
	return 0;
}

static int
start_web(const struct config *cfg, struct web_server **web_r, const char **error_r)
{
	const struct config_listen *l = &cfg->listen[LISTEN_ADMIN];
	*web_r = NULL;
	if (!l->enabled)
		return 0;
	if (web_server_start(cfg, l->host, l->port, web_r, error_r) < 0) {
		*error_r = errfmt("cannot listen on %s for admin: %s", l->text, *error_r);
		return -1;
	}
	log_info("listen admin=%s tls=%s", l->text, web_server_tls(*web_r) ? "https" : "none");
	return 0;
}

/* Started as root with [server] user set: become that user for good. */
static int
drop_privileges(const struct config *cfg, const char **error_r)
{
	if (cfg->user == NULL || geteuid() != 0)
		return 0;
	errno = 0;
	struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL) {
		*error_r = errfmt("user '%s' from [server] user does not exist", cfg->user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		*error_r = errfmt("cannot become user '%s': %s", cfg->user, strerror(errno));
		return -1;
	}
	/* Make sure the change cannot be undone. */
	if (setuid(0) == 0) {
		*error_r = "privileges were not dropped";
		return -1;
	}
	log_info("serve running as user=%s uid=%u", cfg->user, (unsigned)pw->pw_uid);
	return 0;
}

/* systemd Type=notify, without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void
sd_notify_text(const char *text)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	struct sockaddr_un sun;
	size_t len = strlen(path);
	if (len >= sizeof sun.sun_path)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract socket */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	socklen_t slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sun, slen) < 0)
		log_warning("serve sd_notify failed: %s", strerror(errno));
	close(fd);
}

static void
collect_garbage(const struct config *cfg)
{
	struct store *st;
	const char *error;
	unsigned removed = 0;

	if (store_open(cfg->data_dir, &st, &error) != STORE_OK) {
		log_error("gc cannot open store: %s", error);
		return;
	}
	if (store_blob_gc(st, GC_MIN_AGE_SECONDS, &removed, &error) != STORE_OK)
		log_error("gc failed: %s", error);
	else if (removed > 0)
		log_info("gc removed=%u unreferenced blobs", removed);
	store_close(&st);
}

/* One point of the dashboard's chart (core/metrics.h). */
static void
metrics_sample(const struct config *cfg)
{
	struct store *st = NULL;
	struct store_metrics m = { 0 };
	const char *error;

	if (store_open(cfg->data_dir, &st, &error) != STORE_OK ||
	    store_metrics_get(st, &m, &error) != STORE_OK)
		log_warning("metrics sample without the queue: %s", error);
	store_close(&st);
	metrics_sample_take(time(NULL), m.queue_messages);
}

/* The main thread's life after start-up: wait for signals. */
static void
signal_loop(const struct config *cfg, const sigset_t *set, struct web_server *web)
{
	time_t next_gc = time(NULL) + GC_INTERVAL_SECONDS;
	time_t next_sample = time(NULL);
	const char *error;

	for (;;) {
		time_t now = time(NULL);
		if (now >= next_sample) {
			metrics_sample(cfg);
			next_sample = now + cfg->metrics_interval;
		}
		time_t wait = next_sample - now;
		struct timespec ts = { .tv_sec = wait < 1 ? 1 : wait > 60 ? 60 : wait, .tv_nsec = 0 };
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig == SIGHUP) {
			log_info("serve SIGHUP: reloading TLS");
			if (load_tls(cfg, &error) < 0)
				log_error("tls reload failed, keeping the old certificate: %s", error);
			else if (web_server_reload_tls(web, &error) < 0)
				log_error("admin tls reload failed: %s", error);
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("serve %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			fatal("sigtimedwait: %s", strerror(errno));
		if (time(NULL) >= next_gc) {
			collect_garbage(cfg);
			next_gc = time(NULL) + GC_INTERVAL_SECONDS;
		}
	}
}

/* [log]: the level, and the target ("auto": the journal when systemd
 * started us, which it says with JOURNAL_STREAM or INVOCATION_ID; else
 * stderr, which a terminal, a test or a supervisor reads). */
static void
setup_log(const struct config *cfg)
{
	enum log_level level;
	const char *d = getenv("MAILHUB_DEBUG");
	if (d != NULL && *d == '1')
		level = LOG_LEVEL_DEBUG;
	else if (log_level_parse(cfg->log_level, &level) < 0)
		level = LOG_LEVEL_INFO;	/* the config's verify step refuses it */
	log_set_level(level);

	enum log_target target = LOG_TARGET_STDERR;
	if (strcmp(cfg->log_target, "journal") == 0)
		target = LOG_TARGET_JOURNAL;
	else if (strcmp(cfg->log_target, "syslog") == 0)
		target = LOG_TARGET_SYSLOG;
	else if (strcmp(cfg->log_target, "auto") == 0 &&
		 (getenv("JOURNAL_STREAM") != NULL || getenv("INVOCATION_ID") != NULL))
		target = LOG_TARGET_JOURNAL;
	const char *error;
	if (target != LOG_TARGET_STDERR &&
	    log_set_target(target, cfg->log_journal_socket, &error) < 0)
		log_warning("log target=%s unavailable, staying on stderr: %s",
			    cfg->log_target, error);
}

/*
 * glibc's malloc, left to itself, gives a long-running daemon of many
 * threads a slowly rising floor: up to 8 arenas per core, each keeping
 * what its threads freed, and an mmap threshold that climbs after each
 * large free until message-sized buffers come from the arenas too.  The
 * sessions are waiting on the network, not on malloc, so a few arenas
 * are enough; and a fixed threshold keeps large buffers (message bodies,
 * literals) in mappings that go back to the system when freed.
 */
static void
tune_malloc(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	mallopt(M_ARENA_MAX, cores > 1 ? (int)(cores < 4 ? cores * 2 : 8) : 2);
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

int
cmd_serve(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct config *cfg = ctx->cfg;
	const char *error;
	struct store *st;
	struct web_server *web = NULL;
	sigset_t set;

	if (argc > 1) {
		fprintf(stderr, "usage: mailhub serve\n");
		return CLI_USAGE;
	}
	log_set_quiet(0);
	setup_log(cfg);
	tune_malloc();

	/* Signals are taken synchronously by the main thread only; every
	 * thread created from here on inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (data_dir_ready(cfg, &error) < 0) {
		log_error("serve cannot initialise %s: %s", cfg->data_dir, error);
		return CLI_FAIL;
	}
	/* the keys first: opening the store seals what is still plain */
	if (seal_key_load(cfg->data_dir, &error) < 0 || srs_key_init(&error) < 0) {
		log_error("serve: %s", error);
		return CLI_FAIL;
	}
	if (store_open(cfg->data_dir, &st, &error) != STORE_OK) {
		log_error("serve cannot open the store: %s", error);
		return CLI_FAIL;
	}
	/* after a crash, before anything reads a blob: the messages whose
	 * bytes are in their records written out (sql/056); one that cannot
	 * be stays recorded, for the next start or fsck, and the rest of the
	 * mail is served meanwhile */
	unsigned restored = 0;
	if (store_names_pending_restore(st, &restored, &error) != STORE_OK)
		log_error("serve cannot write out every recorded message: %s "
			  "(`mailhub fsck --repair` tries again)", error);
	if (restored > 0)
		log_info("serve recorded=%u messages made durable from their records", restored);
	store_close(&st);
	if (load_tls(cfg, &error) < 0) {
		log_error("serve cannot load TLS: %s", error);
		return CLI_FAIL;
	}

	struct throttle_settings ts = {
		.block_after = cfg->auth_block_after,
		.block_seconds = cfg->auth_block_seconds,
		.delay_max_ms = cfg->auth_delay_max_ms,
	};
	throttle_configure(&ts);
	struct listener_limits limits = {
		.max_connections = cfg->connections,
		.max_per_ip = cfg->connections_per_ip,
	};
	listener_set_limits(&limits);

	if (open_listeners(cfg, &error) < 0 || start_web(cfg, &web, &error) < 0 ||
	    drop_privileges(cfg, &error) < 0 || listener_start(&error) < 0 ||
	    serve_workers_start(cfg, &error) < 0) {
		log_error("serve: %s", error);
		web_server_stop(&web);
		listener_stop(0);
		return CLI_FAIL;
	}
	serve_index_start(cfg);
	log_info("serve started version=%s hostname=%s data_dir=%s", PACKAGE_VERSION,
		 cfg->hostname, cfg->data_dir);
	sd_notify_text("READY=1\nSTATUS=accepting connections");

	signal_loop(cfg, &set, web);

	sd_notify_text("STOPPING=1");
	/* idle sessions say goodbye now, while the workers stop: the grace
	 * is for transactions, and runs for all of them at once */
	struct timespec began, now;
	clock_gettime(CLOCK_MONOTONIC, &began);
	listener_stop_begin();
	web_server_stop(&web);
	serve_workers_stop();
	serve_index_stop();
	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t spent = now.tv_sec - began.tv_sec;
	unsigned grace = spent >= (time_t)cfg->shutdown_grace ? 0 :
		cfg->shutdown_grace - (unsigned)spent;
	unsigned left = listener_stop(grace);
	if (left > 0)
		log_warning("serve stopped with sessions=%u still running", left);
	else
		serve_protocols_cleanup();
	tls_server_clear();
	log_info("serve stopped");
	return CLI_OK;
}
