/* Unit tests for core/tls: the self-signed certificate, loading and
 * reloading the server context, client contexts. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/conn.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/tls.h"
#include "tests/unit/runner.h"

static char *
path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	return x;
}

static void
cert_sha256(X509 *x, char out[65])
{
	unsigned char md[32];
	unsigned len = 0;
	ck_assert_int_eq(X509_digest(x, EVP_sha256(), md, &len), 1);
	hex_encode(md, len, out);
}

static void
file_sha256(const char *path, char out[65])
{
	X509 *x = read_cert(path);
	cert_sha256(x, out);
	X509_free(x);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *s = xcalloc(1, 16384);
	size_t n = fread(s, 1, 16383, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

START_TEST(test_selfsigned)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	/* the folder for the pair is created if missing, as init needs */
	char *cert = path_in(dir, "tls/cert.pem");
	char *key = path_in(dir, "tls/key.pem");
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "mail.example.test", &error), 0);

	struct stat st;
	ck_assert_int_eq(stat(key, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(cert, &st), 0);

	X509 *x = read_cert(cert);
	/* SAN DNS:hostname */
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(names);
	ck_assert_int_eq(sk_GENERAL_NAME_num(names), 1);
	GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, 0);
	ck_assert_int_eq(gn->type, GEN_DNS);
	ck_assert_str_eq((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "mail.example.test");
	GENERAL_NAMES_free(names);
	/* the name checks as a TLS client does them */
	ck_assert_int_eq(X509_check_host(x, "mail.example.test", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_host(x, "other.example.test", 0, 0, NULL), 0);
	/* CN */
	char cn[128];
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
						   cn, sizeof cn), 0);
	ck_assert_str_eq(cn, "mail.example.test");
	/* ten years */
	int days = 0, secs = 0;
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
					X509_get0_notAfter(x)), 1);
	ck_assert_int_ge(days, 3650);
	ck_assert_int_le(days, 3653);
	/* EC P-256 */
	EVP_PKEY *pk = X509_get0_pubkey(x);
	ck_assert_ptr_nonnull(pk);
	ck_assert(EVP_PKEY_is_a(pk, "EC"));
	char group[64];
	size_t glen = 0;
	ck_assert_int_eq(EVP_PKEY_get_group_name(pk, group, sizeof group, &glen), 1);
	ck_assert_str_eq(group, "prime256v1");
	/* self-signed and signed correctly */
	ck_assert_int_eq(X509_verify(x, pk), 1);
	X509_free(x);

	/* the pair loads, and the key matches */
	ck_assert_int_eq(tls_server_load(cert, key, &error), 0);
	tls_server_clear();
	ck_assert_ptr_null(tls_server_ctx());

	/* both exist: left alone */
	char *before = slurp(cert);
	char *key_before = slurp(key);
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "other.example.test", &error), 0);
	char *after = slurp(cert);
	char *key_after = slurp(key);
	ck_assert_str_eq(before, after);
	ck_assert_str_eq(key_before, key_after);
	free(after);
	free(key_after);

	/* only the key exists (a crash between the two writes): a new pair */
	ck_assert_int_eq(unlink(cert), 0);
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "mail.example.test", &error), 0);
	key_after = slurp(key);
	ck_assert_str_ne(key_before, key_after);
	ck_assert_int_eq(tls_server_load(cert, key, &error), 0);
	tls_server_clear();
	free(key_after);
	free(before);
	free(key_before);

	/* no temporary files are left behind */
	char *tlsdir = path_in(dir, "tls");
	char *cmd = xasprintf("test $(ls '%s' | wc -l) -eq 2", tlsdir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	free(tlsdir);
	free(cert);
	free(key);
	free(dir);
}
END_TEST

START_TEST(test_selfsigned_bad_hostname)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	char *cert = path_in(dir, "cert.pem");
	char *key = path_in(dir, "key.pem");
	/* a comma would read as a second SAN entry in OpenSSL's text syntax */
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "a.test,DNS:evil.test", &error), -1);
	ck_assert_ptr_nonnull(strstr(error, "invalid host name"));
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "", &error), -1);
	ck_assert_int_eq(access(cert, F_OK), -1);
	ck_assert_int_eq(access(key, F_OK), -1);
	free(cert);
	free(key);
	free(dir);
}
END_TEST

/* A TLS client over a socketpair: handshake, report the server cert hash. */
struct client {
	int fd;
	char sha[65];
	int status;
};

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	const char *error = NULL;
	SSL_CTX *ctx = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	struct conn *c = conn_new(cl->fd, 0);
	conn_set_timeout(c, 5000);
	cl->status = -1;
	if (ctx != NULL && conn_starttls_client(c, ctx, "mail.example.test", &error) == 0 &&
	    conn_peer_cert_sha256(c, cl->sha) == 0) {
		const char *line;
		size_t len;
		if (conn_read_line(c, 100, &line, &len) == CONN_OK && len == 4 &&
		    memcmp(line, "hi\r\n", 4) == 0)
			cl->status = 0;
	}
	conn_free(&c);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Handshakes with ctx as the server; returns the hash the client saw. */
static void
handshake_with(SSL_CTX *ctx, char sha_r[65])
{
	const char *error = NULL;
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct client cl = { .fd = sv[1] };
	pthread_t tid;
	ck_assert_int_eq(pthread_create(&tid, NULL, client_main, &cl), 0);
	struct conn *c = conn_new(sv[0], 0);
	conn_set_timeout(c, 5000);
	int r = conn_starttls_server(c, ctx, &error);
	if (r == 0)
		conn_puts(c, "hi\r\n");
	conn_free(&c);
	pthread_join(tid, NULL);
	ck_assert_msg(r == 0, "server handshake: %s", error);
	ck_assert_int_eq(cl.status, 0);
	memcpy(sha_r, cl.sha, 65);
}

START_TEST(test_reload_keeps_old_reference)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	char *cert1 = path_in(dir, "c1.pem"), *key1 = path_in(dir, "k1.pem");
	char *cert2 = path_in(dir, "c2.pem"), *key2 = path_in(dir, "k2.pem");
	char sha1[65], sha2[65], got[65];
	ck_assert_int_eq(tls_selfsigned_create(cert1, key1, "mail.example.test", &error), 0);
	ck_assert_int_eq(tls_selfsigned_create(cert2, key2, "mail.example.test", &error), 0);
	file_sha256(cert1, sha1);
	file_sha256(cert2, sha2);
	ck_assert_str_ne(sha1, sha2);

	ck_assert_ptr_null(tls_server_ctx());
	ck_assert_int_eq(tls_server_load(cert1, key1, &error), 0);
	SSL_CTX *old = tls_server_ctx();
	ck_assert_ptr_nonnull(old);

	/* SIGHUP: a new pair */
	ck_assert_int_eq(tls_server_load(cert2, key2, &error), 0);
	SSL_CTX *cur = tls_server_ctx();
	ck_assert_ptr_nonnull(cur);
	ck_assert_ptr_ne(cur, old);

	/* the reference taken before still works, with the old certificate */
	handshake_with(old, got);
	ck_assert_str_eq(got, sha1);
	handshake_with(cur, got);
	ck_assert_str_eq(got, sha2);
	SSL_CTX_free(old);
	SSL_CTX_free(cur);

	/* a bad key path: an error naming it, and the current context stays */
	ck_assert_int_eq(tls_server_load(cert1, "/nonexistent/key.pem", &error), -1);
	ck_assert_msg(strstr(error, "/nonexistent/key.pem") != NULL, "%s", error);
	ck_assert_msg(strstr(error, "No such file or directory") != NULL, "%s", error);
	/* a key that does not belong to the certificate */
	ck_assert_int_eq(tls_server_load(cert1, key2, &error), -1);
	ck_assert_msg(strstr(error, "does not match") != NULL, "%s", error);
	/* a key file that is no key */
	ck_assert_int_eq(tls_server_load(cert1, cert1, &error), -1);
	/* a missing certificate */
	ck_assert_int_eq(tls_server_load("/nonexistent/cert.pem", key1, &error), -1);
	ck_assert_msg(strstr(error, "/nonexistent/cert.pem") != NULL, "%s", error);
	cur = tls_server_ctx();
	ck_assert_ptr_nonnull(cur);
	memset(got, 0, sizeof got);
	handshake_with(cur, got);
	ck_assert_str_eq(got, sha2);
	SSL_CTX_free(cur);

	tls_server_clear();
	ck_assert_ptr_null(tls_server_ctx());
	free(cert1);
	free(key1);
	free(cert2);
	free(key2);
	free(dir);
}
END_TEST

/* Many threads take and drop references while the context is reloaded. */
static atomic_int reload_stop;

static void *
taker_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&reload_stop)) {
		SSL_CTX *ctx = tls_server_ctx();
		if (ctx != NULL) {
			SSL *ssl = SSL_new(ctx);
			SSL_free(ssl);
			SSL_CTX_free(ctx);
		}
	}
	return NULL;
}

START_TEST(test_reload_concurrent)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	char *cert = path_in(dir, "c.pem"), *key = path_in(dir, "k.pem");
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "mail.example.test", &error), 0);
	ck_assert_int_eq(tls_server_load(cert, key, &error), 0);
	pthread_t t[4];
	atomic_store(&reload_stop, 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, taker_main, NULL), 0);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(tls_server_load(cert, key, &error), 0);
	atomic_store(&reload_stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	tls_server_clear();
	free(cert);
	free(key);
	free(dir);
}
END_TEST

START_TEST(test_client_contexts)
{
	const char *error = NULL;
	SSL_CTX *sys = tls_client_ctx_new(TLS_VERIFY_SYSTEM, &error);
	ck_assert_ptr_nonnull(sys);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(sys) & SSL_VERIFY_PEER, SSL_VERIFY_PEER);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(sys), TLS1_2_VERSION);
	SSL_CTX_free(sys);
	SSL_CTX *none = tls_client_ctx_new(TLS_VERIFY_NONE, &error);
	ck_assert_ptr_nonnull(none);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(none), SSL_VERIFY_NONE);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(none), TLS1_2_VERSION);
	SSL_CTX_free(none);

	/* tls_error_string names the last error and clears the queue */
	ck_assert_ptr_null(SSL_CTX_new(NULL));
	const char *e = tls_error_string();
	ck_assert_ptr_nonnull(e);
	ck_assert_str_ne(e, "");
	ck_assert_str_eq(tls_error_string(), "unknown TLS error");
}
END_TEST

START_TEST(test_server_min_version)
{
	const char *error = NULL;
	char *dir = test_tmpdir();
	char *cert = path_in(dir, "c.pem"), *key = path_in(dir, "k.pem");
	ck_assert_int_eq(tls_selfsigned_create(cert, key, "mail.example.test", &error), 0);
	ck_assert_int_eq(tls_server_load(cert, key, &error), 0);
	SSL_CTX *ctx = tls_server_ctx();
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	ck_assert((SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS) != 0);
	SSL_CTX_free(ctx);
	tls_server_clear();
	free(cert);
	free(key);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_selfsigned);
	tcase_add_test(tc, test_selfsigned_bad_hostname);
	tcase_add_test(tc, test_reload_keeps_old_reference);
	tcase_add_test(tc, test_reload_concurrent);
	tcase_add_test(tc, test_client_contexts);
	tcase_add_test(tc, test_server_min_version);
	suite_add_tcase(s, tc);
	return s;
}
