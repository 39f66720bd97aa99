/*
 * client_conn: connecting the fetcher's clients (see client_conn.h).
 */
#include <string.h>

#include "core/client_conn.h"
#include "core/log.h"
#include "core/tls.h"

struct conn *
client_conn_open(const char *host, unsigned port, int timeout_ms, const char **error_r)
{
	const char *err = NULL;
	struct conn *conn = conn_connect(host, port, timeout_ms, &err);
	if (conn == NULL) {
		*error_r = errfmt("cannot connect to %s port %u: %s", esc_str(host), port,
				  err != NULL ? err : "unknown error");
		return NULL;
	}
	conn_set_timeout(conn, timeout_ms);
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
	if (ret < 0) {
		*error_r = errfmt("TLS handshake with %s failed: %s", esc_str(host),
				  err != NULL ? err : "unknown error");
		return -1;
	}
	if (conn_peer_cert_sha256(c, cert_sha256) < 0)
		cert_sha256[0] = '\0';
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
