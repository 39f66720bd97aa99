#include "core/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/conn.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/tls.h"
#include "core/xmalloc.h"

/*
 * Session threads get a small stack.  Measured on x86-64 with OpenSSL 3.0:
 * an implicit-TLS handshake (P-256 certificate, TLS 1.3), a login and
 * SQLite queries touch about 35 KiB of the thread's stack, static
 * thread-local storage included, and those pages stay resident as long as
 * the thread lives (as does what its malloc arena caches for it: about
 * 47 KiB more).  That is why a session that waits in IMAP IDLE is parked
 * without a thread (listener_park()): it then costs about 26 KiB in all,
 * where it cost 120 KiB with its thread.  256 KiB leaves ample room.  The
 * sanitizers need several times more stack, so builds with them get more.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SESSION_STACK_SIZE (2u * 1024 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SESSION_STACK_SIZE (2u * 1024 * 1024)
#endif
#endif
#ifndef SESSION_STACK_SIZE
#define SESSION_STACK_SIZE (256u * 1024)
#endif
/* RFC 8314 §5.1 leaves timeouts to us: a client has this long to finish an
 * implicit-TLS handshake. */
#define HANDSHAKE_TIMEOUT_MS 30000
/* The listen(2) backlog. */
#define LISTEN_BACKLOG 128
/* After EMFILE and the like, pause accepting this long instead of spinning. */
#define ACCEPT_PAUSE_MS 100
/* Events the parker takes from epoll at once. */
#define PARK_EVENTS 64
/* A parked session whose new thread could not be started is tried again
 * this much later. */
#define RESUME_RETRY_MS 1000

struct listener {
	char *name;
	char *busy_reply;
	bool implicit_tls;
	listener_session_fn *session;
	void *ctx;
	int fd;			/* -1 once closed */
	unsigned port;		/* as bound */
	unsigned active;
};

/* One running session, so that listener_stop() can shut its socket down.
 * fd is our own dup of the socket: the session closes its fd whenever it
 * likes, and ours stays valid (shutdown acts on the socket) until the
 * session thread has ended and removed this entry. */
struct session {
	struct session *prev, *next;
	struct listener *l;
	struct conn *c;
	uint64_t id;
	int fd;
	int stop_fd;	/* L.stop_fd when it was accepted */
	char *ip;	/* the peer's address, for the log */
	char *key;	/* what the per-IP limit counts (see limit_key) */
	/* listener_park(): set by the session's thread, then read by the
	 * parker once the session is in its set (under L.lock) */
	listener_resume_fn *resume;	/* non-NULL: park when the function returns */
	void *resume_arg;
	int wake_fd;
	int64_t deadline;	/* CLOCK_MONOTONIC ms, -1: none */
	bool parked;		/* waiting for the parker, no thread */
	bool watched;		/* its descriptors are in the epoll set */
};

/* Connections per peer address. */
struct ip_count {
	char *ip;
	unsigned n;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* signalled when a session ends */
	struct listener **listeners;
	size_t n_listeners;
	struct listener_limits limits;
	struct ip_count *ips;
	size_t n_ips, cap_ips;
	struct session *sessions;
	unsigned total;
	bool started;
	bool stopping;
	pthread_t accept_thread;
	int wake[2];
	/* readable once the listeners stop: every session's conn has it */
	int stop_fd;
	bool stop_begun;
	/* the parker: parked sessions' descriptors, and an eventfd that tells
	 * it to look again (an earlier deadline, or stopping) */
	pthread_t parker;
	bool parker_running;
	int park_epfd;
	int park_poke;
	int64_t park_next;	/* the deadline it sleeps until, -1: none */
} L = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = { -1, -1 },
	.stop_fd = -1,
	.park_epfd = -1,
	.park_poke = -1,
};
static pthread_once_t cond_once = PTHREAD_ONCE_INIT;
/* The session the calling thread runs, for listener_park(). */
static _Thread_local struct session *self;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
cond_init(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&L.cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* Binds one address; the fd or -1 with errno. */
static int
bind_one(int family, const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
	int one = 1, zero = 0;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one,
			sizeof one) < 0) ||
	    bind(fd, sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static unsigned
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/* The listening socket for spec: dual-stack IPv6 (falling back to IPv4 on a
 * host without IPv6) for all addresses, else the first address of host that
 * can be bound. */
static int
open_socket(const struct listener_spec *spec, const char **error_r)
{
	int fd;

	if (spec->host == NULL || *spec->host == '\0') {
		struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
					   .sin6_port = htons((uint16_t)spec->port),
					   .sin6_addr = IN6ADDR_ANY_INIT };
		fd = bind_one(AF_INET6, (struct sockaddr *)&a6, sizeof a6, true);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			struct sockaddr_in a4 = { .sin_family = AF_INET,
						  .sin_port = htons((uint16_t)spec->port),
						  .sin_addr.s_addr = htonl(INADDR_ANY) };
			fd = bind_one(AF_INET, (struct sockaddr *)&a4, sizeof a4, false);
		}
		if (fd < 0)
			*error_r = errfmt("%s: cannot listen on port %u: %s", spec->name,
					  spec->port, strerror(errno));
		return fd;
	}

	struct addrinfo hints, *res = NULL;
	char portstr[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof portstr, "%u", spec->port);
	int gr = getaddrinfo(spec->host, portstr, &hints, &res);
	if (gr != 0) {
		*error_r = errfmt("%s: cannot resolve %s: %s", spec->name, spec->host,
				  gai_strerror(gr));
		return -1;
	}
	int e = EADDRNOTAVAIL;
	fd = -1;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = bind_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, false);
		if (fd < 0)
			e = errno;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*error_r = errfmt("%s: cannot listen on %s port %u: %s", spec->name,
				  spec->host, spec->port, strerror(e));
	return fd;
}

int
listener_add(const struct listener_spec *spec, const char **error_r)
{
	if (spec->name == NULL || spec->session == NULL || spec->port > 65535) {
		*error_r = "listener: bad specification";
		return -1;
	}
	int fd = open_socket(spec, error_r);
	if (fd < 0)
		return -1;

	struct listener *l = xcalloc(1, sizeof *l);
	l->name = xstrdup(spec->name);
	l->busy_reply = spec->busy_reply != NULL ? xstrdup(spec->busy_reply) : NULL;
	l->implicit_tls = spec->implicit_tls;
	l->session = spec->session;
	l->ctx = spec->ctx;
	l->fd = fd;
	l->port = bound_port(fd);

	pthread_mutex_lock(&L.lock);
	L.listeners = xreallocarray(L.listeners, L.n_listeners + 1, sizeof *L.listeners);
	L.listeners[L.n_listeners++] = l;
	pthread_mutex_unlock(&L.lock);
	/* the caller logs the listener once, with its address and TLS mode */
	return 0;
}

unsigned
listener_bound_port(const char *name)
{
	unsigned port = 0;

	pthread_mutex_lock(&L.lock);
	for (size_t i = 0; i < L.n_listeners; i++)
		if (L.listeners[i]->fd >= 0 && strcmp(L.listeners[i]->name, name) == 0) {
			port = L.listeners[i]->port;
			break;
		}
	pthread_mutex_unlock(&L.lock);
	return port;
}

void
listener_set_limits(const struct listener_limits *limits)
{
	pthread_mutex_lock(&L.lock);
	L.limits = *limits;
	pthread_mutex_unlock(&L.lock);
}

/* Under L.lock.  The entry for ip, created when create is set.  A linear
 * table: it holds one entry per address with a live connection, and those
 * are bounded by max_connections. */
static struct ip_count *
ip_find(const char *ip, bool create)
{
	for (size_t i = 0; i < L.n_ips; i++)
		if (strcmp(L.ips[i].ip, ip) == 0)
			return &L.ips[i];
	if (!create)
		return NULL;
	if (L.n_ips == L.cap_ips) {
		L.cap_ips = L.cap_ips == 0 ? 16 : L.cap_ips * 2;
		L.ips = xreallocarray(L.ips, L.cap_ips, sizeof *L.ips);
	}
	struct ip_count *e = &L.ips[L.n_ips++];
	e->ip = xstrdup(ip);
	e->n = 0;
	return e;
}

/* Under L.lock: one connection from ip has ended. */
static void
ip_release(const char *ip)
{
	struct ip_count *e = ip_find(ip, false);

	if (e == NULL || e->n == 0)
		panic("listener: connection count for %s out of step", ip);
	if (--e->n == 0) {
		free(e->ip);
		*e = L.ips[--L.n_ips];
	}
}

/* Starts a detached session thread with the small stack.  0 or an error
 * number. */
static int
start_thread(void *(*fn)(void *), struct session *s)
{
	pthread_attr_t attr;
	pthread_t tid;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, SESSION_STACK_SIZE);
	int r = pthread_create(&tid, &attr, fn, s);
	pthread_attr_destroy(&attr);
	return r;
}

/* OpenSSL's per-thread state (error queue, random generators) would be
 * freed by a thread-exit hook after we have said the session is over or
 * parked; free it now, so that once listener_stop() sees no sessions
 * nothing of them is left (and a process exiting right then leaks
 * nothing), and so that a parked session keeps none of it. */
static void
thread_done(void)
{
	self = NULL;
	OPENSSL_thread_stop();
}

/* The session is over: forget it. */
static void
session_end(struct session *s)
{
	log_info("%s[%llu] disconnect ip=%s", s->l->name, (unsigned long long)s->id,
		 s->ip);
	thread_done();
	pthread_mutex_lock(&L.lock);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		L.sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	ip_release(s->key);
	s->l->active--;
	L.total--;
	close(s->fd);
	pthread_cond_broadcast(&L.cond);
	pthread_mutex_unlock(&L.lock);
	free(s->ip);
	free(s->key);
	free(s);
}

/* Puts a session that asked for it into the parker's set.  0, or -1 when
 * it cannot be parked (stopping, or epoll refused): it stays with its
 * thread then. */
static int
park_register(struct session *s)
{
	int fd = conn_fd(s->c);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	pthread_mutex_lock(&L.lock);
	if (L.stopping || !L.parker_running) {
		pthread_mutex_unlock(&L.lock);
		return -1;
	}
	if (epoll_ctl(L.park_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		pthread_mutex_unlock(&L.lock);
		log_error("%s[%llu] cannot park: %s", s->l->name,
			  (unsigned long long)s->id, strerror(errno));
		return -1;
	}
	if (s->wake_fd >= 0 &&
	    epoll_ctl(L.park_epfd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0) {
		int e = errno;
		(void)epoll_ctl(L.park_epfd, EPOLL_CTL_DEL, fd, NULL);
		pthread_mutex_unlock(&L.lock);
		log_error("%s[%llu] cannot park: %s", s->l->name,
			  (unsigned long long)s->id, strerror(e));
		return -1;
	}
	s->watched = true;
	s->parked = true;
	/* the parker sleeps until its nearest deadline: wake it for an
	 * earlier one */
	if (s->deadline >= 0 && (L.park_next < 0 || s->deadline < L.park_next)) {
		static const uint64_t one = 1;
		while (write(L.park_poke, &one, sizeof one) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&L.lock);
	return 0;
}

/* Waits in the session's own thread for what the parker would have waited
 * for (it could not be parked); returns at once when the listeners stop. */
static void
park_wait_here(struct session *s)
{
	struct pollfd p[3] = {
		{ .fd = conn_fd(s->c), .events = POLLIN },
		{ .fd = s->stop_fd, .events = POLLIN },
		{ .fd = s->wake_fd, .events = POLLIN },
	};

	while (!listener_stopping()) {
		int ms = -1;
		if (s->deadline >= 0) {
			int64_t left = s->deadline - now_ms();
			if (left <= 0)
				return;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		int r = poll(p, s->wake_fd >= 0 ? 3 : 2, ms);
		if (r > 0 || (r < 0 && errno != EINTR))
			return;
	}
}

/* After the session's function has returned: parks the session if it
 * asked to be (this thread then ends), else ends it. */
static void
session_after(struct session *s)
{
	while (s->resume != NULL) {
		if (park_register(s) == 0) {
			/* s may be resumed, and even freed, from here on */
			thread_done();
			return;
		}
		park_wait_here(s);
		listener_resume_fn *fn = s->resume;
		s->resume = NULL;
		fn(s->c, s->resume_arg);
	}
	session_end(s);
}

static void *
resume_main(void *arg)
{
	struct session *s = arg;

	self = s;
	listener_resume_fn *fn = s->resume;
	s->resume = NULL;
	fn(s->c, s->resume_arg);
	session_after(s);
	return NULL;
}

static void *
session_main(void *arg)
{
	struct session *s = arg;
	struct listener *l = s->l;
	struct conn *c = s->c;
	bool run = true;

	log_info("%s[%llu] connect ip=%s port=%u", l->name, (unsigned long long)s->id,
		 s->ip, conn_peer_port(c));
	if (l->implicit_tls) {
		const char *error = NULL;
		SSL_CTX *ctx = tls_server_ctx();
		int timeout = conn_get_timeout(c);
		if (ctx == NULL) {
			log_error("%s[%llu] no TLS certificate loaded", l->name,
				  (unsigned long long)s->id);
			run = false;
		} else {
			conn_set_timeout(c, HANDSHAKE_TIMEOUT_MS);
			if (conn_starttls_server(c, ctx, &error) < 0) {
				log_info("%s[%llu] TLS handshake failed ip=%s error=%s",
					 l->name, (unsigned long long)s->id, s->ip,
					 esc_str(error));
				run = false;
			}
			conn_set_timeout(c, timeout);
			SSL_CTX_free(ctx);
		}
	}
	self = s;
	if (run)
		l->session(c, l->ctx);
	else
		conn_free(&c);
	session_after(s);
	return NULL;
}

int
listener_park(struct conn *c, int wake_fd, int timeout_ms,
	      listener_resume_fn *resume, void *arg)
{
	struct session *s = self;

	if (s == NULL || s->c != c || resume == NULL || listener_stopping())
		return -1;
	s->resume = resume;
	s->resume_arg = arg;
	s->wake_fd = wake_fd;
	s->deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	return 0;
}

/* Under L.lock: takes a parked session out of the set and gives it a new
 * thread. */
static void
unpark(struct session *s)
{
	if (s->watched) {
		(void)epoll_ctl(L.park_epfd, EPOLL_CTL_DEL, conn_fd(s->c), NULL);
		if (s->wake_fd >= 0)
			(void)epoll_ctl(L.park_epfd, EPOLL_CTL_DEL, s->wake_fd, NULL);
		s->watched = false;
	}
	int r = start_thread(resume_main, s);
	if (r != 0) {
		/* out of threads: try again later, not at once (the
		 * descriptor would keep the parker spinning) */
		log_error("%s[%llu] cannot resume a parked session: %s",
			  s->l->name, (unsigned long long)s->id, strerror(r));
		s->deadline = now_ms() + RESUME_RETRY_MS;
		return;
	}
	s->parked = false;
}

static void *
parker_main(void *arg)
{
	struct epoll_event ev[PARK_EVENTS];
	bool stop = false;

	(void)arg;
	while (!stop) {
		pthread_mutex_lock(&L.lock);
		int64_t next = -1;
		for (struct session *s = L.sessions; s != NULL; s = s->next)
			if (s->parked && s->deadline >= 0 &&
			    (next < 0 || s->deadline < next))
				next = s->deadline;
		L.park_next = next;
		pthread_mutex_unlock(&L.lock);
		int ms = -1;
		if (next >= 0) {
			int64_t left = next - now_ms();
			ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
		}
		int n = epoll_wait(L.park_epfd, ev, PARK_EVENTS, ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("listener: epoll_wait failed: %s", strerror(errno));
		}
		/* A session in the set is resumed only here, so one that an
		 * event names is still there (and not freed) now. */
		pthread_mutex_lock(&L.lock);
		for (int i = 0; i < n; i++) {
			struct session *s = ev[i].data.ptr;
			if (s == NULL) {
				uint64_t v;
				(void)read(L.park_poke, &v, sizeof v);
			} else if (s->parked && s->watched) {
				unpark(s);
			}
		}
		stop = L.stopping;
		int64_t now = now_ms();
		for (struct session *s = L.sessions; s != NULL; s = s->next)
			if (s->parked && (stop || (s->deadline >= 0 && s->deadline <= now)))
				unpark(s);
		pthread_mutex_unlock(&L.lock);
	}
	return NULL;
}

/* What the per-IP limit counts: an IPv4 address as it is, an IPv6 address
 * by its /64, since one ISP customer usually has a whole /64 to pick
 * addresses from. */
static void
limit_key(const char *ip, char *out, size_t size)
{
	struct in6_addr a;
	char tmp[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, ip, &a) == 1) {
		memset(a.s6_addr + 8, 0, 8);
		inet_ntop(AF_INET6, &a, tmp, sizeof tmp);
		snprintf(out, size, "%s/64", tmp);
	} else {
		snprintf(out, size, "%s", ip);
	}
}

/* Refuses a connection over a limit: the busy reply, then close. */
static void
refuse(struct listener *l, struct conn *c, const char *why)
{
	log_info("%s[%llu] refused ip=%s reason=%s", l->name,
		 (unsigned long long)conn_id(c), conn_peer_ip(c), why);
	/* A fresh socket's send buffer is empty, so this does not block.  Not
	 * on implicit-TLS listeners, whose clients expect a handshake. */
	if (l->busy_reply != NULL && !l->implicit_tls)
		(void)send(conn_fd(c), l->busy_reply, strlen(l->busy_reply),
			   MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_free(&c);
}

static void
accept_one(struct listener *l)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_error("%s accept failed: %s", l->name, strerror(errno));
			struct timespec ts = { 0, ACCEPT_PAUSE_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
		return;
	}
	struct conn *c = conn_new(fd, 0);
	conn_set_stop_fd(c, L.stop_fd);
	char key[INET6_ADDRSTRLEN + 4];
	limit_key(conn_peer_ip(c), key, sizeof key);

	pthread_mutex_lock(&L.lock);
	struct ip_count *e = ip_find(key, false);
	const char *why = NULL;
	if (L.limits.max_connections != 0 && L.total >= L.limits.max_connections)
		why = "max_connections";
	else if (L.limits.max_per_ip != 0 && e != NULL && e->n >= L.limits.max_per_ip)
		why = "max_per_ip";
	int dupfd = why == NULL ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (why == NULL && dupfd < 0)
		why = "out of file descriptors";
	if (why != NULL) {
		pthread_mutex_unlock(&L.lock);
		refuse(l, c, why);
		return;
	}
	struct session *s = xcalloc(1, sizeof *s);
	s->l = l;
	s->c = c;
	s->id = conn_id(c);
	s->fd = dupfd;
	s->stop_fd = L.stop_fd;
	s->ip = xstrdup(conn_peer_ip(c));
	s->key = xstrdup(key);
	ip_find(s->key, true)->n++;
	l->active++;
	L.total++;
	s->next = L.sessions;
	if (L.sessions != NULL)
		L.sessions->prev = s;
	L.sessions = s;

	s->wake_fd = -1;
	s->deadline = -1;
	int r = start_thread(session_main, s);
	if (r != 0) {
		L.sessions = s->next;
		if (s->next != NULL)
			s->next->prev = NULL;
		ip_release(s->key);
		l->active--;
		L.total--;
		pthread_mutex_unlock(&L.lock);
		log_error("%s cannot start a session thread: %s", l->name, strerror(r));
		close(s->fd);
		refuse(l, s->c, "no thread");
		free(s->ip);
		free(s->key);
		free(s);
		return;
	}
	pthread_mutex_unlock(&L.lock);
	metrics_session(l->name);
}

static void *
accept_main(void *arg)
{
	struct pollfd *pfd = NULL;
	struct listener **ls = NULL;
	size_t n = 0;

	pthread_mutex_lock(&L.lock);
	for (size_t i = 0; i < L.n_listeners; i++) {
		if (L.listeners[i]->fd < 0)
			continue;
		pfd = xreallocarray(pfd, n + 2, sizeof *pfd);
		ls = xreallocarray(ls, n + 1, sizeof *ls);
		ls[n] = L.listeners[i];
		pfd[n].fd = L.listeners[i]->fd;
		pfd[n].events = POLLIN;
		n++;
	}
	pfd = xreallocarray(pfd, n + 1, sizeof *pfd);
	pfd[n].fd = L.wake[0];
	pfd[n].events = POLLIN;
	pthread_mutex_unlock(&L.lock);

	for (;;) {
		for (size_t i = 0; i <= n; i++)
			pfd[i].revents = 0;
		int r = poll(pfd, n + 1, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("listener: poll failed: %s", strerror(errno));
		}
		if (pfd[n].revents != 0)
			break;
		for (size_t i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				accept_one(ls[i]);
	}
	free(pfd);
	free(ls);
	return NULL;
}

/* Closes the descriptors listener_start() made. */
static void
close_fds(void)
{
	int *fds[] = { &L.wake[0], &L.wake[1], &L.park_epfd, &L.park_poke };

	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Tells the parker to stop (L.stopping is set, or it never ran a session)
 * and waits for it: it resumes every parked session on its way out. */
static void
stop_parker(void)
{
	static const uint64_t one = 1;

	pthread_mutex_lock(&L.lock);
	L.stopping = true;
	L.parker_running = false;
	pthread_mutex_unlock(&L.lock);
	while (write(L.park_poke, &one, sizeof one) < 0 && errno == EINTR)
		;
	pthread_join(L.parker, NULL);
}

int
listener_start(const char **error_r)
{
	pthread_once(&cond_once, cond_init);
	pthread_mutex_lock(&L.lock);
	if (L.started) {
		pthread_mutex_unlock(&L.lock);
		*error_r = "listener: already started";
		return -1;
	}
	if (pipe2(L.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		pthread_mutex_unlock(&L.lock);
		*error_r = errfmt("listener: pipe: %s", strerror(errno));
		return -1;
	}
	L.park_epfd = epoll_create1(EPOLL_CLOEXEC);
	L.park_poke = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (L.stop_fd < 0)	/* else left by a start that failed */
		L.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (L.park_epfd < 0 || L.park_poke < 0 || L.stop_fd < 0 ||
	    epoll_ctl(L.park_epfd, EPOLL_CTL_ADD, L.park_poke, &ev) < 0) {
		*error_r = errfmt("listener: epoll: %s", strerror(errno));
		close_fds();
		pthread_mutex_unlock(&L.lock);
		return -1;
	}
	L.park_next = -1;
	L.stopping = false;
	L.stop_begun = false;
	pthread_mutex_unlock(&L.lock);

	/* The accept thread, and the session threads it starts (they inherit
	 * its mask), take no asynchronous signals: those belong to the main
	 * thread, and a blocked SIGPIPE can never kill the process. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&L.parker, NULL, parker_main, NULL);
	if (r != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		*error_r = errfmt("listener: cannot start the parker thread: %s", strerror(r));
		close_fds();
		return -1;
	}
	r = pthread_create(&L.accept_thread, NULL, accept_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		*error_r = errfmt("listener: cannot start the accept thread: %s", strerror(r));
		stop_parker();
		close_fds();
		return -1;
	}
	pthread_mutex_lock(&L.lock);
	L.started = true;
	L.parker_running = true;
	pthread_mutex_unlock(&L.lock);
	return 0;
}

/* Under L.lock: waits for sessions to end until deadline (CLOCK_MONOTONIC). */
static void
wait_sessions(const struct timespec *deadline)
{
	while (L.total > 0) {
		if (pthread_cond_timedwait(&L.cond, &L.lock, deadline) == ETIMEDOUT)
			break;
	}
}

void
listener_stop_begin(void)
{
	static const uint64_t one = 1;

	pthread_once(&cond_once, cond_init);
	pthread_mutex_lock(&L.lock);
	if (L.stop_begun) {
		pthread_mutex_unlock(&L.lock);
		return;
	}
	L.stop_begun = true;
	L.stopping = true;
	bool started = L.started;
	L.started = false;
	pthread_mutex_unlock(&L.lock);

	/* sessions waiting for a command wake now (see conn.h) */
	if (L.stop_fd >= 0) {
		while (write(L.stop_fd, &one, sizeof one) < 0 && errno == EINTR)
			;
	}
	if (started) {
		ssize_t w;
		do
			w = write(L.wake[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(L.accept_thread, NULL);
		/* parked sessions get their threads back, to say goodbye */
		stop_parker();
		close_fds();
	}
}

unsigned
listener_stop(unsigned grace_seconds)
{
	struct timespec deadline;

	listener_stop_begin();
	pthread_mutex_lock(&L.lock);
	for (size_t i = 0; i < L.n_listeners; i++)
		if (L.listeners[i]->fd >= 0) {
			close(L.listeners[i]->fd);
			L.listeners[i]->fd = -1;
		}

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += grace_seconds;
	wait_sessions(&deadline);
	if (L.total > 0) {
		/* Sessions blocked in a read (IDLE, a silent client) wake up
		 * with EOF or an error and end themselves. */
		log_info("listener: shutting down %u sessions", L.total);
		for (struct session *s = L.sessions; s != NULL; s = s->next)
			(void)shutdown(s->fd, SHUT_RDWR);
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += 1;
		wait_sessions(&deadline);
	}
	unsigned left = L.total;
	L.stop_begun = false;
	/* the stop descriptor is the sessions' as long as one runs: it is
	 * left open for those, and a new start makes a new one */
	if (left == 0 && L.stop_fd >= 0)
		close(L.stop_fd);
	L.stop_fd = -1;
	if (left == 0) {
		/* Nothing refers to the listeners any more: forget them, so the
		 * module can be set up afresh (tests do). */
		for (size_t i = 0; i < L.n_listeners; i++) {
			free(L.listeners[i]->name);
			free(L.listeners[i]->busy_reply);
			free(L.listeners[i]);
		}
		free(L.listeners);
		L.listeners = NULL;
		L.n_listeners = 0;
	}
	pthread_mutex_unlock(&L.lock);
	return left;
}

unsigned
listener_active(const char *name)
{
	unsigned n = 0;

	pthread_mutex_lock(&L.lock);
	if (name == NULL) {
		n = L.total;
	} else {
		for (size_t i = 0; i < L.n_listeners; i++)
			if (strcmp(L.listeners[i]->name, name) == 0)
				n += L.listeners[i]->active;
	}
	pthread_mutex_unlock(&L.lock);
	return n;
}

bool
listener_stopping(void)
{
	pthread_mutex_lock(&L.lock);
	bool stopping = L.stopping;
	pthread_mutex_unlock(&L.lock);
	return stopping;
}
