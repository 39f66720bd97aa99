#include "core/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/xmalloc.h"

#define SEAL_KEY_LEN 32
#define SEAL_NONCE_LEN 12	/* the GCM nonce size NIST SP 800-38D recommends */
#define SEAL_TAG_LEN 16
#define SEAL_PREFIX "v1:"
/* Additional data: binds a sealed value to its format version. */
#define SEAL_AAD "mailhub seal v1"

/* The key, loaded once and read by every thread. */
static pthread_mutex_t seal_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char seal_key[SEAL_KEY_LEN];
static bool seal_key_loaded;

static char *
key_path(const char *data_dir)
{
	return xasprintf("%s/%s", data_dir, SEAL_KEY_FILE);
}

/* fsyncs the folder holding a new file, so that the file's name is durable. */
static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
seal_key_create(const char *data_dir, const char **error_r)
{
	char *path = key_path(data_dir);
	unsigned char key[SEAL_KEY_LEN];

	/* O_EXCL: never overwrite a key that sealed values depend on */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST) {
			free(path);
			return 0;
		}
		*error_r = errfmt("cannot create %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	random_bytes(key, sizeof key);
	int r = write_all(fd, key, sizeof key);
	OPENSSL_cleanse(key, sizeof key);
	if (r == 0)
		r = fsync(fd);
	int saved = errno;
	if (close(fd) < 0 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == 0 && fsync_dir(data_dir) < 0) {
		r = -1;
		saved = errno;
	}
	if (r < 0) {
		*error_r = errfmt("cannot write %s: %s", path, strerror(saved));
		unlink(path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

static int
read_key(int fd, const char *path, unsigned char key[SEAL_KEY_LEN], const char **error_r)
{
	struct stat st;
	size_t have = 0;

	if (fstat(fd, &st) < 0) {
		*error_r = errfmt("cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		*error_r = errfmt("%s is not a regular file", path);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		*error_r = errfmt("%s has mode %04o: other users could read the key "
				  "(chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	if (st.st_size != SEAL_KEY_LEN) {
		*error_r = errfmt("%s has %lld bytes, a key has %d", path,
				  (long long)st.st_size, SEAL_KEY_LEN);
		return -1;
	}
	while (have < SEAL_KEY_LEN) {
		ssize_t n = read(fd, key + have, SEAL_KEY_LEN - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = errfmt("cannot read %s: %s", path, strerror(errno));
			return -1;
		}
		if (n == 0) {
			*error_r = errfmt("%s is shorter than a key", path);
			return -1;
		}
		have += (size_t)n;
	}
	return 0;
}

int
seal_key_load(const char *data_dir, const char **error_r)
{
	char *path = key_path(data_dir);
	unsigned char key[SEAL_KEY_LEN];

	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*error_r = errfmt("cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	int r = read_key(fd, path, key, error_r);
	close(fd);
	free(path);
	if (r == 0) {
		pthread_mutex_lock(&seal_lock);
		memcpy(seal_key, key, sizeof key);
		seal_key_loaded = true;
		pthread_mutex_unlock(&seal_lock);
	}
	OPENSSL_cleanse(key, sizeof key);
	return r;
}

void
seal_key_forget(void)
{
	pthread_mutex_lock(&seal_lock);
	OPENSSL_cleanse(seal_key, sizeof seal_key);
	seal_key_loaded = false;
	pthread_mutex_unlock(&seal_lock);
}

/* Copies the key out under the lock; -1 when none is loaded. */
static int
current_key(unsigned char key[SEAL_KEY_LEN], const char **error_r)
{
	pthread_mutex_lock(&seal_lock);
	bool loaded = seal_key_loaded;
	if (loaded)
		memcpy(key, seal_key, SEAL_KEY_LEN);
	pthread_mutex_unlock(&seal_lock);
	if (!loaded) {
		*error_r = "no sealing key loaded";
		return -1;
	}
	return 0;
}

/*
 * One AES-256-GCM pass.  encrypt: in -> out and the tag into tag;
 * otherwise in -> out checked against tag.  Returns 0, or -1 (including a
 * tag that does not match).
 */
static int
gcm(bool encrypt, const unsigned char key[SEAL_KEY_LEN],
    const unsigned char nonce[SEAL_NONCE_LEN], const unsigned char *in, size_t n,
    unsigned char *out, unsigned char tag[SEAL_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len = 0, r = -1;

	if (ctx == NULL)
		fatal("OpenSSL cannot make a cipher context");
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) != 1)
		goto out;
	if (EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)SEAL_AAD,
			     (int)strlen(SEAL_AAD)) != 1)
		goto out;
	if (n > 0 && (EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 || (size_t)len != n))
		goto out;
	if (!encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &len) != 1 || len != 0)
		goto out;
	if (encrypt &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int
seal(const char *plaintext, size_t len, char **sealed_r, const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN];

	if (len > SEAL_PLAINTEXT_MAX) {
		*error_r = "value too long to seal";
		return -1;
	}
	if (current_key(key, error_r) < 0)
		return -1;
	/* nonce || ciphertext || tag; a random 96-bit nonce per value is safe
	 * far beyond the number of secrets one server seals */
	size_t total = SEAL_NONCE_LEN + len + SEAL_TAG_LEN;
	unsigned char *raw = xmalloc(total);
	random_bytes(raw, SEAL_NONCE_LEN);
	int r = gcm(true, key, raw, (const unsigned char *)plaintext, len,
		    raw + SEAL_NONCE_LEN, raw + SEAL_NONCE_LEN + len);
	OPENSSL_cleanse(key, sizeof key);
	if (r < 0) {
		free(raw);
		*error_r = "AES-256-GCM encryption failed";
		return -1;
	}
	struct buf out = BUF_INIT;
	if (buf_puts(&out, SEAL_PREFIX) < 0 || base64_encode(&out, raw, total) < 0)
		panic("seal: unbounded buffer refused data");
	free(raw);
	*sealed_r = buf_steal(&out);
	return 0;
}

int
unseal(const char *sealed, char **plain_r, size_t *len_r, const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN];
	size_t plen = strlen(SEAL_PREFIX);
	struct buf raw;

	if (strncmp(sealed, SEAL_PREFIX, plen) != 0) {
		*error_r = "not a sealed value (no \"v1:\" prefix)";
		return -1;
	}
	buf_init(&raw, SEAL_NONCE_LEN + SEAL_PLAINTEXT_MAX + SEAL_TAG_LEN);
	if (base64_decode(&raw, sealed + plen, strlen(sealed + plen), false) < 0) {
		buf_free(&raw);
		*error_r = "sealed value is not valid base64";
		return -1;
	}
	if (raw.len < SEAL_NONCE_LEN + SEAL_TAG_LEN) {
		buf_free(&raw);
		*error_r = "sealed value too short";
		return -1;
	}
	if (current_key(key, error_r) < 0) {
		buf_free(&raw);
		return -1;
	}
	const unsigned char *p = (const unsigned char *)raw.data;
	size_t n = raw.len - SEAL_NONCE_LEN - SEAL_TAG_LEN;
	unsigned char tag[SEAL_TAG_LEN];
	memcpy(tag, p + SEAL_NONCE_LEN + n, SEAL_TAG_LEN);
	char *plain = xmalloc(n + 1);
	int r = gcm(false, key, p, p + SEAL_NONCE_LEN, n, (unsigned char *)plain, tag);
	OPENSSL_cleanse(key, sizeof key);
	buf_free(&raw);
	if (r < 0) {
		OPENSSL_cleanse(plain, n + 1);
		free(plain);
		*error_r = "sealed value does not open (wrong secret.key or altered data)";
		return -1;
	}
	plain[n] = '\0';
	*plain_r = plain;
	*len_r = n;
	return 0;
}

int
seal_derive(const char *label, unsigned char out[SEAL_DERIVED_LEN], const char **error_r)
{
	unsigned char key[SEAL_KEY_LEN];
	unsigned int len = 0;

	if (current_key(key, error_r) < 0)
		return -1;
	unsigned char *r = HMAC(EVP_sha256(), key, SEAL_KEY_LEN, (const unsigned char *)label,
				strlen(label), out, &len);
	OPENSSL_cleanse(key, sizeof key);
	if (r == NULL || len != SEAL_DERIVED_LEN) {
		*error_r = "cannot derive a key";
		return -1;
	}
	return 0;
}

int
seal_mac(const char *purpose, const void *data, size_t len,
	 unsigned char out[SEAL_MAC_LEN], const char **error_r)
{
	unsigned char subkey[SEAL_DERIVED_LEN];
	unsigned int n = 0;

	/* the purpose's own key, so that MACs for one use never match another */
	if (seal_derive(purpose, subkey, error_r) < 0)
		return -1;
	bool ok = HMAC(EVP_sha256(), subkey, sizeof subkey, data, len, out, &n) != NULL &&
		  n == SEAL_MAC_LEN;
	OPENSSL_cleanse(subkey, sizeof subkey);
	if (!ok) {
		*error_r = "HMAC-SHA-256 failed";
		return -1;
	}
	return 0;
}
