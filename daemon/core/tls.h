/*
 * tls: the OpenSSL contexts of the daemon.
 *
 * The server context is built from the config's [tls] cert/key, or from the
 * self-signed pair that `mailhub init` writes to data_dir/tls/.  It can be
 * replaced at run time (SIGHUP): sessions take a reference with
 * tls_server_ctx() and drop it with SSL_CTX_free(), so a reload never pulls a
 * context from under a handshake.  TLS 1.2 is the minimum everywhere.
 *
 * This module owns the current server context behind its own lock.
 */
#ifndef MAILHUB_CORE_TLS_H
#define MAILHUB_CORE_TLS_H

#include <openssl/ssl.h>

/* Where init puts the self-signed pair, relative to data_dir. */
#define TLS_SELFSIGNED_CERT "tls/cert.pem"
#define TLS_SELFSIGNED_KEY "tls/key.pem"

/* Loads cert (full chain PEM) and key and makes them the current server
 * context; on error the previous context stays in force. */
int tls_server_load(const char *cert_path, const char *key_path,
		    const char **error_r);
/* The same, and with sni_dir not NULL ([tls] sni) one more certificate for
 * each subfolder of sni_dir that holds fullchain.pem and privkey.pem (the
 * layout of certbot's /etc/letsencrypt/live), chosen when the client's
 * server_name (RFC 6066 §3) is a name that certificate is valid for;
 * otherwise cert serves.  Any pair that does not load fails the whole
 * load.  *n_sni_r: how many were loaded. */
int tls_server_load_sni(const char *cert_path, const char *key_path, const char *sni_dir,
			unsigned *n_sni_r, const char **error_r);

/* tls_sni.c: makes a server context of one pair (NULL with *error_r). */
typedef SSL_CTX *tls_ctx_fn(const char *cert_path, const char *key_path,
			    const char **error_r);
/* Loads the pairs of dir's subfolders with make and gives def a
 * server_name callback choosing among them; the table lives as long as
 * def.  0 (*n_r pairs), or -1 with *error_r. */
int tls_sni_attach(SSL_CTX *def, const char *dir, tls_ctx_fn *make, unsigned *n_r,
		   const char **error_r);
/* The current server context with a reference the caller must drop with
 * SSL_CTX_free(); NULL when none has been loaded. */
SSL_CTX *tls_server_ctx(void);
/* Drops the current context (at shutdown). */
void tls_server_clear(void);

/* Writes a self-signed certificate for hostname (EC P-256, 10 years, SAN
 * DNS:hostname) and its key (mode 0600) to cert_path and key_path, unless
 * both exist already.  Returns 0 or -1. */
int tls_selfsigned_create(const char *cert_path, const char *key_path,
			  const char *hostname, const char **error_r);

enum tls_verify_mode {
	TLS_VERIFY_SYSTEM,	/* the system CA store and the host name */
	TLS_VERIFY_NONE,	/* no check (the caller may compare a pin) */
};
/* A client context; TLS_VERIFY_SYSTEM loads the default CA paths.
 * Free with SSL_CTX_free(). */
SSL_CTX *tls_client_ctx_new(enum tls_verify_mode mode, const char **error_r);

/* A BIO over the socket fd (not closed with the BIO) that sends with
 * MSG_NOSIGNAL, so a peer that has gone away gives EPIPE rather than a
 * SIGPIPE; conn uses it for every TLS connection.  NULL on error. */
BIO *tls_socket_bio_new(int fd);

/* The OpenSSL error in words ("certificate verify failed", "No such file or
 * directory", ...): the first one queued, which is the root cause; clears
 * the error queue. */
const char *tls_error_string(void);

#endif
