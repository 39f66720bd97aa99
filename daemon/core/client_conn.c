/*
 * client_conn: connecting the fetcher's clients (see client_conn.h).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/client_conn.h"
#include "core/log.h"
#include "core/tls.h"

/* IPv4 prefix test: a (host order) within net/bits. */
static bool
in4(uint32_t a, uint32_t net, unsigned bits)
{
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	return (a & mask) == (net & mask);
}

static bool
v4_public(uint32_t a)
{
	/* RFC 6890 (the special-purpose registries), RFC 6598 (CGNAT) */
	static const struct {
		uint32_t net;
		unsigned bits;
	} special[] = {
		{ 0x00000000, 8 },	/* "this network"; 0.0.0.0 reaches the host itself */
		{ 0x0a000000, 8 },	/* RFC 1918 */
		{ 0x64400000, 10 },	/* RFC 6598 shared address space (CGNAT) */
		{ 0x7f000000, 8 },	/* loopback */
		{ 0xa9fe0000, 16 },	/* link-local (cloud metadata services live here) */
		{ 0xac100000, 12 },	/* RFC 1918 */
		{ 0xc0000000, 24 },	/* IETF protocol assignments */
		{ 0xc0000200, 24 },	/* TEST-NET-1 */
		{ 0xc0a80000, 16 },	/* RFC 1918 */
		{ 0xc6120000, 15 },	/* benchmarking */
		{ 0xc6336400, 24 },	/* TEST-NET-2 */
		{ 0xcb007100, 24 },	/* TEST-NET-3 */
		{ 0xe0000000, 4 },	/* multicast */
		{ 0xf0000000, 4 },	/* reserved, and 255.255.255.255 broadcast */
	};
	for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
		if (in4(a, special[i].net, special[i].bits))
			return false;
	return true;
}

static uint32_t
v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool
v6_public(const unsigned char *b)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
	/* ::ffff:a.b.c.d goes to a.b.c.d over IPv4 (RFC 4291 §2.5.5.2) */
	if (memcmp(b, mapped, 12) == 0)
		return v4_public(v4_at(b + 12));
	/* RFC 6052 NAT64 64:ff9b::/96 reaches the embedded IPv4 address */
	if (memcmp(b, nat64, 12) == 0)
		return v4_public(v4_at(b + 12));
	/* 6to4 2002::/16 (RFC 3056) embeds the IPv4 address of the relay */
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_public(v4_at(b + 2));
	/* ::/8: ::, ::1, IPv4-compatible, reserved, and the local-use NAT64
	 * prefix 64:ff9b:1::/48 (RFC 8215) */
	if (b[0] == 0x00)
		return false;
	if (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, "\0\0\0\0\0\0", 6) == 0)
		return false;		/* 100::/64 discard-only (RFC 6666) */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return false;		/* 2001:db8::/32 documentation */
	if ((b[0] & 0xfe) == 0xfc)	/* fc00::/7 unique local (RFC 4193) */
		return false;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)	/* fe80::/10 link-local */
		return false;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)	/* fec0::/10 old site-local */
		return false;
	if (b[0] == 0xff)		/* multicast */
		return false;
	return true;
}

bool
client_conn_addr_public(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		return v4_public(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		return v6_public(s6->sin6_addr.s6_addr);
	}
	return false;
}

void
client_conn_cancel_init(struct client_conn_cancel *cancel)
{
	pthread_mutex_init(&cancel->lock, NULL);
	cancel->fd = -1;
	cancel->fired = false;
}

void
client_conn_cancel_fire(struct client_conn_cancel *cancel)
{
	pthread_mutex_lock(&cancel->lock);
	cancel->fired = true;
	if (cancel->fd >= 0)
		(void)shutdown(cancel->fd, SHUT_RDWR);
	pthread_mutex_unlock(&cancel->lock);
}

void
client_conn_cancel_clear(struct client_conn_cancel *cancel)
{
	pthread_mutex_lock(&cancel->lock);
	if (cancel->fd >= 0)
		close(cancel->fd);
	cancel->fd = -1;
	pthread_mutex_unlock(&cancel->lock);
}

/* Hands the new connection's socket to the cancel token; -1 when it has
 * fired already. */
static int
cancel_watch(struct client_conn_cancel *cancel, struct conn *conn)
{
	int ret = 0;
	pthread_mutex_lock(&cancel->lock);
	if (cancel->fired) {
		ret = -1;
	} else {
		if (cancel->fd >= 0)
			close(cancel->fd);
		cancel->fd = fcntl(conn_fd(conn), F_DUPFD_CLOEXEC, 0);
	}
	pthread_mutex_unlock(&cancel->lock);
	return ret;
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn *
client_conn_open(const char *host, unsigned port, const struct client_conn_params *p,
		 const char **error_r)
{
	int64_t end = p->total_ms > 0 ? now_ms() + p->total_ms : -1;
	struct addrinfo *res = NULL;
	const char *err = NULL;
	char refused[INET6_ADDRSTRLEN + 8] = "";
	bool tried = false;
	struct conn *conn = NULL;

	if (p->cancel != NULL) {
		pthread_mutex_lock(&p->cancel->lock);
		bool fired = p->cancel->fired;
		pthread_mutex_unlock(&p->cancel->lock);
		if (fired) {
			*error_r = "cancelled: mailhub is stopping";
			return NULL;
		}
	}
	if (conn_resolve(host, port, &res, &err) < 0) {
		*error_r = errfmt("cannot connect to %s port %u: %s", esc_str(host), port, err);
		return NULL;
	}
	/* Each address in turn, each with the whole step timeout (as MTAs do),
	 * connecting to the very address that was checked: its numeric form
	 * needs no second lookup. */
	for (struct addrinfo *ai = res; ai != NULL && conn == NULL; ai = ai->ai_next) {
		char addr[INET6_ADDRSTRLEN + 8];
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0,
				NI_NUMERICHOST) != 0)
			continue;
		if (!p->allow_private && !client_conn_addr_public(ai->ai_addr)) {
			if (refused[0] == '\0')
				memcpy(refused, addr, sizeof refused);
			continue;
		}
		int step = p->timeout_ms;
		if (end >= 0) {
			int64_t left = end - now_ms();
			if (left <= 0) {
				err = "timed out";
				break;
			}
			if (step < 0 || left < step)
				step = (int)left;
		}
		tried = true;
		conn = conn_connect(addr, port, step, &err);
	}
	freeaddrinfo(res);
	if (conn == NULL) {
		if (!tried && refused[0] != '\0') {
			log_info("client refused host=%s address=%s: not a public address",
				 esc_str(host), refused);
			*error_r = errfmt("refused to connect to %s (%s): it is a loopback, private "
					  "or other local address, which the administrator has not "
					  "allowed ([fetch] allow_private_hosts)", esc_str(host),
					  refused);
		} else {
			*error_r = errfmt("cannot connect to %s port %u: %s", esc_str(host), port,
					  err != NULL ? err : "no usable address");
		}
		return NULL;
	}
	if (p->cancel != NULL && cancel_watch(p->cancel, conn) < 0) {
		conn_free(&conn);
		*error_r = "cancelled: mailhub is stopping";
		return NULL;
	}
	conn_set_timeout(conn, p->timeout_ms);
	if (end >= 0) {
		int64_t left = end - now_ms();
		conn_set_deadline(conn, left > 0 ? (int)left : 0);
	}
	return conn;
}

int
client_conn_tls(struct conn *c, const char *host, const char *verify,
		char cert_sha256[65], const char *log_name, uint64_t log_id,
		const char **error_r)
{
	bool system = strcmp(verify, "system") == 0;
	SSL_CTX *ctx = tls_client_ctx_new(system ? TLS_VERIFY_SYSTEM : TLS_VERIFY_NONE,
					  error_r);
	if (ctx == NULL)
		return -1;
	const char *err = NULL;
	int ret = conn_starttls_client(c, ctx, host, &err);
	SSL_CTX_free(ctx);
	if (conn_peer_cert_sha256(c, cert_sha256) < 0)
		cert_sha256[0] = '\0';
	if (ret < 0) {
		*error_r = errfmt("TLS handshake with %s failed: %s", esc_str(host),
				  err != NULL ? err : "unknown error");
		return -1;
	}
	if (strncmp(verify, "pin:", 4) == 0 && strcmp(verify + 4, cert_sha256) != 0) {
		*error_r = errfmt("the server's certificate (SHA-256 %s) does not match the pinned one",
				  cert_sha256[0] != '\0' ? cert_sha256 : "unknown");
		return -1;
	}
	if (strcmp(verify, "off") == 0)
		log_warning("%s[%llu] certificate of %s not checked (tls_verify off)", log_name,
			    (unsigned long long)log_id, esc_str(host));
	return 0;
}
