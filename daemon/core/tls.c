#include "core/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/xmalloc.h"

/* The self-signed certificate is valid for ten years (and two leap days). */
#define SELFSIGNED_DAYS 3652
/* RFC 5280 appendix A (ub-common-name): a CN is at most 64 characters. */
#define CN_MAX 64
/* RFC 1035 §2.3.4: a domain name is at most 253 characters as text. */
#define HOSTNAME_MAX 253

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *tls_current;	/* owned reference; under tls_lock */

const char *
tls_error_string(void)
{
	/* the first error queued is the root cause ("No such file or
	 * directory"); later ones only say where it passed ("system lib") */
	unsigned long e = ERR_peek_error();
	const char *reason;

	if (e == 0)
		return "unknown TLS error";
	if (ERR_SYSTEM_ERROR(e))
		reason = errfmt("%s", strerror(ERR_GET_REASON(e)));
	else
		reason = ERR_reason_error_string(e);
	if (reason == NULL)
		reason = errfmt("OpenSSL error %lx", e);
	ERR_clear_error();
	return reason;
}

/*
 * A socket BIO that sends with MSG_NOSIGNAL, so that a peer that went away
 * makes SSL_write fail with EPIPE instead of killing the process with SIGPIPE
 * (OpenSSL's own socket BIO uses write()).  Its data is the fd; the fd is
 * not closed with the BIO.
 */
static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

static int
sock_write(BIO *b, const char *p, size_t n, size_t *written_r)
{
	int fd = (int)(intptr_t)BIO_get_data(b);

	BIO_clear_retry_flags(b);
	*written_r = 0;
	for (;;) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
		if (r >= 0) {
			*written_r = (size_t)r;
			return 1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_write(b);
		return 0;
	}
}

static int
sock_read(BIO *b, char *p, size_t n, size_t *read_r)
{
	int fd = (int)(intptr_t)BIO_get_data(b);

	BIO_clear_retry_flags(b);
	*read_r = 0;
	for (;;) {
		ssize_t r = recv(fd, p, n, 0);
		if (r > 0) {
			*read_r = (size_t)r;
			return 1;
		}
		if (r == 0) {
			/* what BIO_eof() reports: OpenSSL tells an EOF from an
			 * error by it */
			BIO_set_flags(b, BIO_FLAGS_IN_EOF);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			BIO_set_retry_read(b);
		return 0;
	}
}

static long
sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	int fd = (int)(intptr_t)BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = fd;
		return fd;
	default:
		return 0;
	}
}

static void
sock_method_init(void)
{
	sock_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
				   "mailhub socket");
	if (sock_method == NULL ||
	    BIO_meth_set_write_ex(sock_method, sock_write) != 1 ||
	    BIO_meth_set_read_ex(sock_method, sock_read) != 1 ||
	    BIO_meth_set_ctrl(sock_method, sock_ctrl) != 1)
		fatal("tls: cannot create the OpenSSL BIO method");
}

BIO *
tls_socket_bio_new(int fd)
{
	pthread_once(&sock_once, sock_method_init);
	BIO *b = BIO_new(sock_method);
	if (b == NULL)
		return NULL;
	BIO_set_data(b, (void *)(intptr_t)fd);
	BIO_set_init(b, 1);
	return b;
}

/* Settings every context shares. */
static void
ctx_common(SSL_CTX *ctx)
{
	/* TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1; RFC 8314 §4.1
	 * asks mail software for current versions).  Ciphers: OpenSSL's
	 * defaults, which are already limited to AEAD and forward secrecy
	 * first for 1.2 and all of 1.3. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

/* A server context of one certificate chain and its key, or NULL. */
static SSL_CTX *
server_ctx_new(const char *cert_path, const char *key_path, const char **error_r)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = errfmt("cannot create a TLS context: %s", tls_error_string());
		return NULL;
	}
	ctx_common(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* TLS 1.2 resumption by session ID keeps sessions in memory: bound
	 * them (tickets, the usual way, need no cache) */
	SSL_CTX_sess_set_cache_size(ctx, 1024);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		*error_r = errfmt("cannot load certificate %s: %s", cert_path,
				  tls_error_string());
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			*error_r = errfmt("key %s does not match certificate %s",
					  key_path, cert_path);
		} else {
			*error_r = errfmt("cannot load key %s: %s", key_path,
					  tls_error_string());
		}
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = errfmt("key %s does not match certificate %s", key_path,
				  cert_path);
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
tls_server_load(const char *cert_path, const char *key_path, const char **error_r)
{
	unsigned n;
	return tls_server_load_sni(cert_path, key_path, NULL, &n, error_r);
}

int
tls_server_load_sni(const char *cert_path, const char *key_path, const char *sni_dir,
		    unsigned *n_sni_r, const char **error_r)
{
	*n_sni_r = 0;
	SSL_CTX *ctx = server_ctx_new(cert_path, key_path, error_r);
	if (ctx == NULL)
		return -1;
	if (sni_dir != NULL && tls_sni_attach(ctx, sni_dir, server_ctx_new, n_sni_r, error_r) < 0) {
		SSL_CTX_free(ctx);
		return -1;
	}

	/* Swap: sessions that took a reference keep the old one alive until
	 * they drop it (SSL_CTX is reference counted, and each SSL holds one). */
	pthread_mutex_lock(&tls_lock);
	SSL_CTX *old = tls_current;
	tls_current = ctx;
	pthread_mutex_unlock(&tls_lock);
	SSL_CTX_free(old);
	return 0;
}

SSL_CTX *
tls_server_ctx(void)
{
	pthread_mutex_lock(&tls_lock);
	SSL_CTX *ctx = tls_current;
	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&tls_lock);
	return ctx;
}

void
tls_server_clear(void)
{
	pthread_mutex_lock(&tls_lock);
	SSL_CTX *old = tls_current;
	tls_current = NULL;
	pthread_mutex_unlock(&tls_lock);
	SSL_CTX_free(old);
}

SSL_CTX *
tls_client_ctx_new(enum tls_verify_mode mode, const char **error_r)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = errfmt("cannot create a TLS context: %s", tls_error_string());
		return NULL;
	}
	ctx_common(ctx);
	if (mode == TLS_VERIFY_SYSTEM) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			*error_r = errfmt("cannot load the system CA certificates: %s",
					  tls_error_string());
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

/* Host names as DNS knows them: letters, digits, '-', '.', and '_' (seen
 * in the wild); this also keeps the name from meaning anything else in
 * the certificate. */
static bool
hostname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
			return false;
	}
	return true;
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Creates the folder that holds path when it is missing (one level). */
static int
make_parent(const char *path, const char **error_r)
{
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	int r = 0;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		*error_r = errfmt("cannot create %s: %s", dir, strerror(errno));
		r = -1;
	}
	free(copy);
	return r;
}

/* fsyncs the folder that holds path, so a rename in it is durable. */
static void
sync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(copy);
}

enum pem_kind { PEM_KEY, PEM_CERT };

/* Writes a key or certificate to a temporary file beside path, fsyncs it and
 * renames it into place, so a crash leaves either nothing or the whole file. */
static int
write_pem_atomically(const char *path, enum pem_kind kind, EVP_PKEY *key, X509 *cert,
		     mode_t mode, const char **error_r)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);

	if (fd < 0) {
		*error_r = errfmt("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	/* mkstemp makes it 0600: the key never exists with looser bits */
	if (fchmod(fd, mode) < 0) {
		*error_r = errfmt("cannot set the mode of %s: %s", tmp, strerror(errno));
		goto fail_fd;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		*error_r = errfmt("cannot open %s: %s", tmp, strerror(errno));
		goto fail_fd;
	}
	int ok = kind == PEM_KEY ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
				 : PEM_write_X509(f, cert);
	if (ok != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		*error_r = errfmt("cannot write %s: %s", tmp,
				  ok != 1 ? tls_error_string() : strerror(errno));
		fclose(f);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (fclose(f) != 0) {
		*error_r = errfmt("cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		*error_r = errfmt("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	sync_parent(path);
	free(tmp);
	return 0;

fail_fd:
	close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

/* Adds one X.509v3 extension given in OpenSSL's text form (fixed strings). */
static int
add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX v3;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int r = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return r;
}

/* subjectAltName DNS:hostname, built as a structure rather than from text
 * so that nothing in the name can add other entries. */
static int
add_san(X509 *cert, const char *hostname)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	int r = -1;

	if (names == NULL || gn == NULL || ia5 == NULL ||
	    ASN1_STRING_set(ia5, hostname, (int)strlen(hostname)) != 1) {
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(gn);
		sk_GENERAL_NAME_free(names);
		return -1;
	}
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	if (sk_GENERAL_NAME_push(names, gn) == 0) {
		GENERAL_NAME_free(gn);
		sk_GENERAL_NAME_free(names);
		return -1;
	}
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1)
		r = 0;
	GENERAL_NAMES_free(names);
	return r;
}

static X509 *
make_cert(EVP_PKEY *key, const char *hostname)
{
	X509 *cert = X509_new();
	BIGNUM *serial = BN_new();

	if (cert == NULL || serial == NULL)
		goto fail;
	if (X509_set_version(cert, X509_VERSION_3) != 1)
		goto fail;
	/* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 127
	 * random bits also make the certificate unique per init */
	if (BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) == NULL)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), SELFSIGNED_DAYS, 0, NULL) == NULL)
		goto fail;
	X509_NAME *name = X509_get_subject_name(cert);
	if (strlen(hostname) <= CN_MAX &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)hostname, -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1)
		goto fail;
	if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_san(cert, hostname) < 0)
		goto fail;
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		goto fail;
	BN_free(serial);
	return cert;

fail:
	BN_free(serial);
	X509_free(cert);
	return NULL;
}

int
tls_selfsigned_create(const char *cert_path, const char *key_path,
		      const char *hostname, const char **error_r)
{
	if (file_exists(cert_path) && file_exists(key_path))
		return 0;
	if (!hostname_ok(hostname)) {
		*error_r = errfmt("invalid host name for a certificate: %s", esc_str(hostname));
		return -1;
	}
	if (make_parent(key_path, error_r) < 0 || make_parent(cert_path, error_r) < 0)
		return -1;

	ERR_clear_error();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (key == NULL) {
		*error_r = errfmt("cannot generate a key: %s", tls_error_string());
		return -1;
	}
	X509 *cert = make_cert(key, hostname);
	if (cert == NULL) {
		*error_r = errfmt("cannot build the certificate: %s", tls_error_string());
		EVP_PKEY_free(key);
		return -1;
	}
	/* The key first: if we stop in between, the cert is missing and the
	 * next run makes a new pair. */
	int r = write_pem_atomically(key_path, PEM_KEY, key, NULL, 0600, error_r);
	if (r == 0)
		r = write_pem_atomically(cert_path, PEM_CERT, NULL, cert, 0644, error_r);
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}
