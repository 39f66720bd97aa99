/*
 * server: libmicrohttpd glue.  One request context per request, from the
 * first access callback to the completion callback; the body is collected
 * with a cap; then one dispatcher authenticates, matches the route table
 * (404 versus 405 told apart), enforces the route's flags and calls the
 * handler once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/config.h"
#include "core/log.h"
#include "core/tls.h"
#include "doctor/doctor.h"
#include "fetch/fetch.h"
#include "web/internal.h"
#include "web/json_dup.h"
#include "web/json_nul.h"
#include "web/upstream_test.h"
#include "web/web.h"

/* Concurrency of the admin listener: a home server's panel, not a CDN.
 * A request thread serves many connections, so nothing slow may run on
 * it: an upstream connection test, which waits for a server a user named,
 * runs on a thread of its own while its connection is suspended
 * (upstream_test.h).  A login's throttle delay still blocks its thread
 * (seconds at most), hence a few more threads than a household needs. */
#define WEB_THREADS 8
#define WEB_CONNECTIONS_MAX 256
#define WEB_CONNECTIONS_PER_IP 32
#define WEB_TIMEOUT_SECONDS 30

/* Each libmicrohttpd worker thread keeps one store handle, closed when the
 * thread ends. */
static pthread_key_t store_key;
static pthread_once_t store_key_once = PTHREAD_ONCE_INIT;
static const char *store_data_dir_path;

static void
store_key_destroy(void *p)
{
	struct store *st = p;
	store_close(&st);
}

static void
store_key_init(void)
{
	if (pthread_key_create(&store_key, store_key_destroy) != 0)
		fatal("pthread_key_create failed");
}

static struct store *
thread_store(const char **error_r)
{
	struct store *st = pthread_getspecific(store_key);
	if (st == NULL) {
		if (store_open(store_data_dir_path, &st, error_r) != STORE_OK)
			return NULL;
		pthread_setspecific(store_key, st);
	}
	return st;
}

static void
request_free(struct web_request **rp)
{
	struct web_request *r = *rp;
	if (r == NULL)
		return;
	web_test_release(&r->test);
	buf_free(&r->body);
	cJSON_Delete(r->json);
	store_user_clear(&r->user);
	free(r->session_id);
	for (size_t i = 0; i < r->n_params; i++)
		free(r->params[i]);
	free(r);
	*rp = NULL;
}

static void
completed(void *cls, struct MHD_Connection *mhd, void **req_cls,
	  enum MHD_RequestTerminationCode toe)
{
	struct web_request *r = *req_cls;
	(void)cls;
	(void)mhd;
	(void)toe;
	request_free(&r);
	*req_cls = NULL;
}

static enum MHD_Result
reply_not_allowed(struct web_request *r)
{
	struct buf allow = BUF_INIT;
	for (size_t i = 0; i < web_n_routes; i++) {
		if (web_route_match(web_routes[i].pattern, r->path, NULL, NULL)) {
			if (allow.len > 0)
				(void)buf_puts(&allow, ", ");
			(void)buf_puts(&allow, web_routes[i].method);
		}
	}
	r->allow = buf_cstr(&allow);
	enum MHD_Result res = reply_problem(r, 405, "%s is not allowed here; allowed: %s",
					    r->method, r->allow);
	r->allow = NULL;
	buf_free(&allow);
	return res;
}

static bool
content_type_is_json(struct web_request *r)
{
	const char *ct = MHD_lookup_connection_value(r->mhd, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL)
		return false;
	size_t n = strcspn(ct, "; \t");
	return n == strlen("application/json") && mem_eq_nocase(ct, "application/json", n);
}

static enum MHD_Result
dispatch_api(struct web_request *r)
{
	const struct route *route = NULL;
	bool path_known = false;
	enum MHD_Result result;

	for (size_t i = 0; i < web_n_routes; i++) {
		if (!web_route_match(web_routes[i].pattern, r->path, NULL, NULL))
			continue;
		path_known = true;
		if (strcmp(web_routes[i].method, r->method) == 0) {
			route = &web_routes[i];
			break;
		}
	}
	if (route == NULL) {
		if (path_known)
			return reply_not_allowed(r);
		return reply_problem(r, 404, "no such resource: %s", esc_str(r->path));
	}
	if (!web_authenticate(r, route->flags, &result))
		return result;
	if ((route->flags & ROUTE_AUTH) && r->auth == WEB_AUTH_NONE)
		return reply_problem(r, 401, "authentication required: a bearer token or a session");
	if ((route->flags & ROUTE_ADMIN) && !web_is_admin(r))
		return reply_problem(r, 403, "this needs an admin");
	if (r->body_too_large)
		return reply_problem(r, 413, "the request body is over %d bytes", WEB_BODY_MAX);
	if (route->flags & ROUTE_JSON) {
		if (!content_type_is_json(r))
			return reply_problem(r, 415, "the body must be application/json");
		/* The buffer keeps a NUL after the data: cJSON must end on it,
		 * so neither trailing garbage nor an embedded NUL gets through. */
		const char *text = buf_cstr(&r->body), *end = NULL;
		r->json = cJSON_ParseWithLengthOpts(text, r->body.len + 1, &end, 1);
		if (r->json == NULL || end != text + r->body.len) {
			size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;
			return reply_problem(r, 400, "malformed JSON near byte %zu", at);
		}
		if (!cJSON_IsObject(r->json))
			return reply_problem(r, 400, "the body must be a JSON object");
		const char *field;
		size_t flen;
		if (json_text_has_nul(text, r->body.len, &field, &flen)) {
			if (field == NULL)
				return reply_problem(r, 422, "a field name holds \\u0000 (a NUL "
						     "character), which no text here may hold");
			return reply_problem(r, 422, "field '%s' holds \\u0000 (a NUL character), "
					     "which no text here may hold", esc(field, flen));
		}
		const char *dup = json_duplicate_member(r->json);
		if (dup != NULL)
			return reply_problem(r, 400, "field '%s' is given twice", esc_str(dup));
	}
	(void)web_route_match(route->pattern, r->path, r->params, &r->n_params);
	return route->handler(r);
}

static enum MHD_Result
dispatch(struct web_request *r)
{
	const char *error;

	r->st = thread_store(&error);
	if (r->st == NULL) {
		log_error("web store unavailable: %s", error);
		return reply_problem(r, 503, "the store is unavailable");
	}
	if (strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/api") == 0)
		return dispatch_api(r);

	enum MHD_Result result;
	if (web_autoconfig_serve(r, &result))
		return result;
	if (web_mta_sts_serve(r, &result))
		return result;
	if (web_metrics_serve(r, &result))
		return result;
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		r->allow = "GET, HEAD";
		return reply_problem(r, 405, "only GET and HEAD are allowed for files");
	}
	return web_static_serve(r);
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *mhd, const char *url,
	       const char *method, const char *version, const char *upload_data,
	       size_t *upload_size, void **req_cls)
{
	struct web_request *r = *req_cls;
	(void)version;

	if (r == NULL) {
		r = xcalloc(1, sizeof *r);
		r->srv = cls;
		r->mhd = mhd;
		r->method = method;
		r->path = url;
		buf_init(&r->body, WEB_BODY_MAX);
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci != NULL && ci->client_addr != NULL) {
			const struct sockaddr *sa = ci->client_addr;
			socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								   : sizeof(struct sockaddr_in);
			if (getnameinfo(sa, len, r->peer_ip, sizeof r->peer_ip, NULL, 0,
					NI_NUMERICHOST) != 0)
				memcpy(r->peer_ip, "unknown", 8);
			if (strncmp(r->peer_ip, "::ffff:", 7) == 0)
				memmove(r->peer_ip, r->peer_ip + 7, strlen(r->peer_ip + 7) + 1);
		}
		*req_cls = r;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/* Past the cap the rest is read and dropped: memory stays bounded
		 * and the 413 goes out once the request is complete. */
		if (!r->body_too_large && buf_append(&r->body, upload_data, *upload_size) < 0) {
			r->body_too_large = true;
			buf_free(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->replied)
		return MHD_YES;
	if (r->test != NULL)	/* resumed: its connection test has answered */
		return web_test_reply(r);
	return dispatch(r);
}

static int
bind_socket(const char *host, unsigned port, const char **error_r)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];

	memset(&hints, 0, sizeof hints);
	hints.ai_family = host == NULL ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", port);
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0) {
		*error_r = errfmt("cannot use address %s: %s", host != NULL ? host : "*",
				  gai_strerror(gai));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = errfmt("socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (res->ai_family == AF_INET6 && host == NULL)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		*error_r = errfmt("%s", strerror(errno));
		close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * RFC 3986 §2.1 percent-decoding of the path and query, in place, except
 * that "%00" stays as written: a decoded NUL would cut the path short where
 * C code reads it ("/index.html%00.js" must not become "/index.html").
 */
static size_t
unescape_url(void *cls, struct MHD_Connection *mhd, char *s)
{
	char *w = s;
	(void)cls;
	(void)mhd;
	for (const char *p = s; *p != '\0';) {
		int hi, lo;
		if (p[0] == '%' && (hi = hex_value(p[1])) >= 0 && (lo = hex_value(p[2])) >= 0 &&
		    (hi | lo) != 0) {
			*w++ = (char)(hi * 16 + lo);
			p += 3;
			continue;
		}
		*w++ = *p++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	log_warning("web libmicrohttpd: %s", esc_str(line));
}

static void
pem_free(char **pem)
{
	if (*pem != NULL)
		explicit_bzero(*pem, strlen(*pem));
	free(*pem);
	*pem = NULL;
}

static void
server_free(struct web_server **srvp)
{
	struct web_server *srv = *srvp;
	pem_free(&srv->tls_cert);
	pem_free(&srv->tls_key);
	free(srv);
	*srvp = NULL;
}

/* 20 ms steps the old daemon gets at a reload to finish its requests. */
#define WEB_RELOAD_DRAIN_STEPS 100

/* A PEM file read whole (certificates and keys are small). */
#define PEM_FILE_MAX (256 * 1024)

static char *
read_pem(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat stt;
	if (fd < 0 || fstat(fd, &stt) < 0) {
		*error_r = errfmt("cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(stt.st_mode) || stt.st_size <= 0 || stt.st_size > PEM_FILE_MAX) {
		*error_r = errfmt("%s is not a PEM file of at most %d bytes", path, PEM_FILE_MAX);
		close(fd);
		return NULL;
	}
	size_t len = (size_t)stt.st_size, got = 0;
	char *text = xmalloc(len + 1);
	while (got < len) {
		ssize_t n = read(fd, text + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = errfmt("cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
			close(fd);
			explicit_bzero(text, len);
			free(text);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	return text;
}

/* True for 127.0.0.0/8, ::1 and ::ffff:127.x: traffic that never leaves
 * the machine.  NULL (all addresses) is not loopback. */
static bool
host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (host == NULL)
		return false;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return false;
}

/*
 * [admin] tls = auto (the default): HTTPS unless the listener is on
 * loopback only, because a password typed into the panel must not cross a
 * network in clear; on loopback, plain HTTP (the browser is on the same
 * machine, or comes through an SSH tunnel).  "yes" and "no" force it, "no"
 * being for a TLS-terminating proxy in front.  The certificate is the one
 * of [tls], or the self-signed pair of `mailhub init`, read at start and
 * again at SIGHUP (web_server_reload_tls()).
 */
static bool
web_tls_wanted(const struct config *cfg, const char *host)
{
	if (strcmp(cfg->admin_tls, "yes") == 0)
		return true;
	if (strcmp(cfg->admin_tls, "no") == 0) {
		if (!host_is_loopback(host))
			log_warning("web admin listener on a network address without TLS "
				    "([admin] tls = no): passwords cross it in clear");
		return false;
	}
	return !host_is_loopback(host);
}

/* The PEM texts of [tls] (or the self-signed pair of `mailhub init`),
 * checked with OpenSSL to hold a certificate and the key that belongs to
 * it, so that a reload refuses a bad pair before the running listener is
 * touched. */
static int
read_tls_pair(const struct config *cfg, char **cert_r, char **key_r, const char **error_r)
{
	char *cert_path = cfg->tls_cert != NULL ? xstrdup(cfg->tls_cert)
		: xasprintf("%s/%s", cfg->data_dir, TLS_SELFSIGNED_CERT);
	char *key_path = cfg->tls_key != NULL ? xstrdup(cfg->tls_key)
		: xasprintf("%s/%s", cfg->data_dir, TLS_SELFSIGNED_KEY);
	char *cert = read_pem(cert_path, error_r);
	char *key = cert != NULL ? read_pem(key_path, error_r) : NULL;
	int ret = -1;
	if (key != NULL) {
		BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
		X509 *x = cb != NULL ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
		EVP_PKEY *k = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
		if (x == NULL)
			*error_r = errfmt("%s: no certificate: %s", cert_path, tls_error_string());
		else if (k == NULL)
			*error_r = errfmt("%s: no private key: %s", key_path, tls_error_string());
		else if (X509_check_private_key(x, k) != 1)
			*error_r = errfmt("%s does not belong to %s", key_path, cert_path);
		else
			ret = 0;
		X509_free(x);
		EVP_PKEY_free(k);
		BIO_free(cb);
		BIO_free(kb);
		(void)tls_error_string();	/* nothing left queued */
	}
	free(cert_path);
	free(key_path);
	if (ret < 0) {
		pem_free(&cert);
		pem_free(&key);
		return -1;
	}
	*cert_r = cert;
	*key_r = key;
	return 0;
}

/* libmicrohttpd serving srv on the listening socket fd (with srv's PEM
 * texts when it speaks TLS), or NULL. */
static struct MHD_Daemon *
start_mhd(struct web_server *srv, int fd)
{
	/* MHD_USE_ITC: MHD_quiesce_daemon() needs it with a thread pool;
	 * suspend/resume: connection tests wait off the request threads */
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
			 MHD_ALLOW_SUSPEND_RESUME;
	if (srv->tls)
		flags |= MHD_USE_TLS;
	/* The same floor as every other listener: TLS 1.2 (DESIGN.md).  The
	 * PEM texts stay with the server until it stops. */
	static const char priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
	struct MHD_OptionItem tls_options[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)priorities },
		{ MHD_OPTION_END, 0, NULL },
	};
	return MHD_start_daemon(
		flags, 0, NULL, NULL,
		access_handler, srv,
		/* First, so that no message goes to libmicrohttpd's own logger. */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_ARRAY, srv->tls ? tls_options : &tls_options[3],
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)WEB_THREADS,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS_MAX,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_TIMEOUT_SECONDS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, NULL,
		MHD_OPTION_END);
}

int
web_server_start(const struct config *cfg, const char *host, unsigned port,
		 struct web_server **srv_r, const char **error_r)
{
	char *cert = NULL, *key = NULL;

	pthread_once(&store_key_once, store_key_init);
	store_data_dir_path = cfg->data_dir;

	bool tls = web_tls_wanted(cfg, host);
	if (tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			*error_r = "this libmicrohttpd has no TLS support; listen on loopback only";
			return -1;
		}
		if (read_tls_pair(cfg, &cert, &key, error_r) < 0)
			return -1;
	}

	int fd = bind_socket(host, port, error_r);
	if (fd < 0) {
		pem_free(&cert);
		pem_free(&key);
		return -1;
	}
	struct web_server *srv = xcalloc(1, sizeof *srv);
	srv->cfg = cfg;
	srv->started = time(NULL);
	srv->tls = tls;
	srv->tls_cert = cert;
	srv->tls_key = key;
	srv->mhd = start_mhd(srv, fd);
	if (srv->mhd == NULL) {
		*error_r = tls ? "libmicrohttpd could not start (is the TLS key readable and "
				 "does it match the certificate?)"
			       : "libmicrohttpd could not start";
		close(fd);
		server_free(&srv);
		return -1;
	}
	/* serve logs the listener once ("listen admin=... tls=...") */
	*srv_r = srv;
	return 0;
}

/*
 * A new certificate (SIGHUP): libmicrohttpd reads its PEM texts only at
 * start, so the running daemon is quiesced (it stops accepting and hands
 * the listening socket back), a new one starts on the same socket with the
 * new pair, and the old one is stopped, which ends its open connections (a
 * browser opens a new one).  No connection attempt is refused meanwhile:
 * the socket stays open and its backlog waits for the new daemon.
 */
int
web_server_reload_tls(struct web_server *srv, const char **error_r)
{
	if (srv == NULL || !srv->tls || srv->mhd == NULL)
		return 0;
	char *cert, *key;
	if (read_tls_pair(srv->cfg, &cert, &key, error_r) < 0)
		return -1;
	MHD_socket fd = MHD_quiesce_daemon(srv->mhd);
	if (fd == MHD_INVALID_SOCKET) {
		pem_free(&cert);
		pem_free(&key);
		*error_r = "libmicrohttpd cannot hand over its listening socket";
		return -1;
	}
	struct MHD_Daemon *old = srv->mhd;
	char *old_cert = srv->tls_cert, *old_key = srv->tls_key;
	srv->tls_cert = cert;
	srv->tls_key = key;
	srv->mhd = start_mhd(srv, (int)fd);
	int ret = 0;
	if (srv->mhd == NULL) {
		/* back to the pair that worked */
		srv->tls_cert = old_cert;
		srv->tls_key = old_key;
		old_cert = cert;
		old_key = key;
		srv->mhd = start_mhd(srv, (int)fd);
		*error_r = srv->mhd != NULL ? "libmicrohttpd refused the new certificate"
			: "libmicrohttpd could not restart: the admin listener is down";
		if (srv->mhd == NULL)
			close((int)fd);
		ret = -1;
	}
	/* the old daemon's requests in flight get a moment to finish (a
	 * keep-alive connection left idle is closed after it) */
	for (unsigned i = 0; i < WEB_RELOAD_DRAIN_STEPS; i++) {
		const union MHD_DaemonInfo *info =
			MHD_get_daemon_info(old, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info == NULL || info->num_connections == 0)
			break;
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* waits for the old daemon's threads, so nothing uses its texts; no
	 * connection may be left suspended (libmicrohttpd panics) */
	web_tests_close();
	MHD_stop_daemon(old);
	web_tests_open();
	pem_free(&old_cert);
	pem_free(&old_key);
	return ret;
}

bool
web_server_tls(const struct web_server *srv)
{
	return srv != NULL && srv->tls;
}

void
web_server_stop(struct web_server **srvp)
{
	struct web_server *srv = *srvp;
	if (srv == NULL)
		return;
	/* Closes the listening socket too, which it was handed at start; no
	 * connection may be left suspended (libmicrohttpd panics). */
	web_tests_close();
	web_tests_cancel();
	if (srv->mhd != NULL)
		MHD_stop_daemon(srv->mhd);
	/* a test still connecting (no socket to end yet) takes one step */
	web_tests_wait(FETCH_TEST_STEP_MS + 1000);
	/* a doctor check waits for DNS and its probe */
	web_doctor_close((DOCTOR_PROBE_SECONDS + 5) * 1000);
	server_free(srvp);
}
