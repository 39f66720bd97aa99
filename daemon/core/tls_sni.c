/*
 * tls_sni: one certificate per name, chosen by the name the client asks for
 * (RFC 6066 §3, server_name), from a folder laid out as certbot's
 * /etc/letsencrypt/live: one subfolder per certificate, each holding
 * fullchain.pem and privkey.pem (see tls.h).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/log.h"
#include "core/tls.h"
#include "core/xmalloc.h"

struct sni_entry {
	SSL_CTX *ctx;		/* owned reference */
	X509 *cert;		/* the leaf, borrowed from ctx */
};

struct sni_table {
	struct sni_entry *e;
	size_t n;
};

static int sni_index = -1;
static pthread_once_t sni_once = PTHREAD_ONCE_INIT;

/* The table goes with the default context's last reference. */
static void
sni_table_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct sni_table *t = ptr;
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		SSL_CTX_free(t->e[i].ctx);
	free(t->e);
	free(t);
}

static void
sni_index_init(void)
{
	sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_table_free);
	if (sni_index < 0)
		fatal("tls: no ex_data index for SNI");
}

/*
 * The server_name callback: the first certificate valid for the name
 * (X509_check_host: its SAN DNS names, wildcards as RFC 6125 allows) takes
 * the handshake over; no name, or none that matches, keeps the default
 * certificate.  Never refuses a handshake (a mail client that sends no SNI
 * still gets [tls] cert).
 */
static int
sni_callback(SSL *ssl, int *alert, void *arg)
{
	const struct sni_table *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	(void)alert;
	if (name == NULL || t == NULL)
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < t->n; i++) {
		if (X509_check_host(t->e[i].cert, name, 0, 0, NULL) == 1) {
			SSL_set_SSL_CTX(ssl, t->e[i].ctx);
			break;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

int
tls_sni_attach(SSL_CTX *def, const char *dir, tls_ctx_fn *make, unsigned *n_r,
	       const char **error_r)
{
	pthread_once(&sni_once, sni_index_init);
	*n_r = 0;
	DIR *d = opendir(dir);
	if (d == NULL) {
		*error_r = errfmt("cannot read [tls] sni folder %s: %s", dir, strerror(errno));
		return -1;
	}
	struct sni_table *t = xcalloc(1, sizeof *t);
	size_t cap = 0;
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", dir, de->d_name);
		char *cert = xasprintf("%s/fullchain.pem", sub);
		char *key = xasprintf("%s/privkey.pem", sub);
		struct stat stt;
		/* certbot's README and other files beside the folders */
		if (stat(sub, &stt) == 0 && S_ISDIR(stt.st_mode)) {
			SSL_CTX *ctx = make(cert, key, error_r);
			if (ctx == NULL) {
				ret = -1;
			} else {
				if (t->n == cap) {
					cap = cap == 0 ? 8 : cap * 2;
					t->e = xreallocarray(t->e, cap, sizeof *t->e);
				}
				t->e[t->n].ctx = ctx;
				t->e[t->n].cert = SSL_CTX_get0_certificate(ctx);
				t->n++;
			}
		}
		free(sub);
		free(cert);
		free(key);
	}
	closedir(d);
	if (ret < 0) {
		sni_table_free(NULL, t, NULL, 0, 0, NULL);
		return -1;
	}
	if (SSL_CTX_set_ex_data(def, sni_index, t) != 1) {
		sni_table_free(NULL, t, NULL, 0, 0, NULL);
		*error_r = "cannot attach the SNI certificates";
		return -1;
	}
	SSL_CTX_set_tlsext_servername_callback(def, sni_callback);
	SSL_CTX_set_tlsext_servername_arg(def, t);
	*n_r = (unsigned)t->n;
	return 0;
}
