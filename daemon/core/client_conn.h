/*
 * client_conn: how the fetcher's IMAP and POP3 clients reach a server.
 *
 * A TCP connection with a deadline on every read and write (and, when
 * asked, an end for the whole connection), and TLS (at once or after
 * STARTTLS/STLS) under one of the certificate policies of an upstream
 * account: "system" (the system CA store and the host name), "pin:HEX" (the
 * SHA-256 of the server's certificate, for a self-signed home server), or
 * "off" (no check, logged as a warning).  Errors are in plain words, for
 * the account's state, and never hold what the peer sent.
 *
 * Where a connection may go: an upstream account names any host, so a user
 * could point the daemon at services that only trust the machine or its
 * network (a router's admin page, a database on loopback).  Unless the
 * admin allows it ([fetch] allow_private_hosts), the name is resolved once,
 * every address is checked (client_conn_addr_public), and the connection
 * goes to an address that passed, never to a second lookup of the name,
 * so a name that answers differently the next time (DNS rebinding) gains
 * nothing.
 */
#ifndef MAILHUB_CORE_CLIENT_CONN_H
#define MAILHUB_CORE_CLIENT_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/conn.h"

/*
 * Lets another thread end a client's connection at once: a connection test
 * still waiting for a silent server when the daemon stops.  It keeps its
 * own copy of the socket (dup), so a shutdown() never reaches a descriptor
 * number that was closed and reused meanwhile.
 */
struct client_conn_cancel {
	pthread_mutex_t lock;
	int fd;			/* the copy of the open connection's socket, or -1 */
	bool fired;
};
void client_conn_cancel_init(struct client_conn_cancel *cancel);
/* Ends the connection (shutdown: every wait on it returns at once) and
 * makes any later client_conn_open() with it fail. */
void client_conn_cancel_fire(struct client_conn_cancel *cancel);
/* Lets go of the socket copy; the token may be used again. */
void client_conn_cancel_clear(struct client_conn_cancel *cancel);

/* How a client connects. */
struct client_conn_params {
	int timeout_ms;		/* the connect, and then each read and write */
	int total_ms;		/* > 0: the end of everything, connect to close
				 * (conn_set_deadline); 0: none */
	bool allow_private;	/* [fetch] allow_private_hosts */
	struct client_conn_cancel *cancel;	/* not NULL: may be fired */
	char *cert_sha256_r;	/* not NULL: char[65] that the clients' open
				 * fills with the SHA-256 of the server's
				 * certificate ("" without TLS), also when the
				 * open fails (a certificate to offer pinning) */
};

/* Connects to host:port as params say; NULL with *error_r ("cannot connect
 * to HOST port N: connection refused", or that HOST is on a private
 * network) on failure. */
struct conn *client_conn_open(const char *host, unsigned port,
			      const struct client_conn_params *params,
			      const char **error_r);

/* True when sa is a unicast address on the public internet; false for
 * loopback, "this network" (0.0.0.0/8), RFC 1918, CGNAT (100.64.0.0/10),
 * link-local, ULA (fc00::/7), site-local, multicast, broadcast, the
 * documentation and benchmarking ranges, reserved space, and for the
 * IPv4-mapped, NAT64 and 6to4 forms of any of those.  Pure. */
bool client_conn_addr_public(const struct sockaddr *sa);

/* The TLS handshake on c as a client of host, checked by verify (see
 * above).  cert_sha256 receives the SHA-256 of the server's certificate
 * ("" when there is none), also when the check fails, so that the user can
 * be shown what the server presented.  log_name and log_id name the
 * session in the warning that "off" gives. */
int client_conn_tls(struct conn *c, const char *host, const char *verify,
		    char cert_sha256[65], const char *log_name, uint64_t log_id,
		    const char **error_r);

#endif
