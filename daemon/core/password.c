#include "core/password.h"

#include <crypt.h>
#include <pthread.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* A stored hash longer than this is not one libcrypt wrote. */
#define STORED_HASH_MAX 512

/*
 * Dovecot's scheme prefixes whose payload is a crypt(3) string (Dovecot's
 * password scheme list): hashes imported from a passwd-file carry them.
 */
static const char *const crypt_prefixes[] = {
	PASSWORD_SCHEME_PREFIX,	/* "{CRYPT}" */
	"{SHA512-CRYPT}",
	"{SHA256-CRYPT}",
	"{BLF-CRYPT}",
	"{MD5-CRYPT}",
};

int
password_acceptable(const char *password, size_t len, const char **error_r)
{
	if (len == 0) {
		*error_r = "the password is empty";
		return -1;
	}
	if (len > PASSWORD_MAX) {
		*error_r = errfmt("the password is longer than %d bytes", PASSWORD_MAX);
		return -1;
	}
	/* NUL cannot pass through crypt(3) or SASL PLAIN; CR and LF cannot be
	 * typed into a mail client's password field or sent in a LOGIN line */
	for (size_t i = 0; i < len; i++) {
		char c = password[i];
		if (c == '\0' || c == '\r' || c == '\n') {
			*error_r = "the password contains a NUL, CR or LF character";
			return -1;
		}
	}
	return 0;
}

/* crypt_rn with its ~32 KiB state on the heap (session threads have small
 * stacks); writes the result to out.  Returns 0, or -1 when libcrypt refuses. */
static int
crypt_into(const char *password, const char *setting, struct buf *out)
{
	struct crypt_data *data = xcalloc(1, sizeof *data);
	int r = -1;

	const char *h = crypt_rn(password, setting, data, (int)sizeof *data);
	/* libxcrypt returns NULL or a "*"-string on failure */
	if (h != NULL && h[0] != '*') {
		buf_reset(out);
		if (buf_puts(out, h) == 0)
			r = 0;
	}
	explicit_bzero(data, sizeof *data);
	free(data);
	return r;
}

int
password_hash(const char *password, char **hash_r, const char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct buf out;

	if (password_acceptable(password, strlen(password), error_r) < 0)
		return -1;
	/* "$y$" with count 0: libcrypt's default yescrypt cost, salt from the
	 * system's random source (rbytes NULL) */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof setting) == NULL) {
		*error_r = "libcrypt cannot make a yescrypt salt";
		return -1;
	}
	buf_init(&out, STORED_HASH_MAX);
	buf_puts(&out, PASSWORD_SCHEME_PREFIX);
	struct buf h;
	buf_init(&h, STORED_HASH_MAX);
	if (crypt_into(password, setting, &h) < 0 || strncmp(buf_cstr(&h), "$y$", 3) != 0 ||
	    buf_append(&out, h.data, h.len) < 0) {
		buf_free(&h);
		buf_free(&out);
		*error_r = "libcrypt cannot hash the password with yescrypt";
		return -1;
	}
	buf_free(&h);
	*hash_r = buf_steal(&out);
	return 0;
}

/* The crypt(3) string in stored: without a known scheme prefix, or NULL for
 * an unknown scheme. */
static const char *
crypt_payload(const char *stored)
{
	if (stored[0] != '{')
		return stored;
	for (size_t i = 0; i < sizeof crypt_prefixes / sizeof crypt_prefixes[0]; i++) {
		size_t n = strlen(crypt_prefixes[i]);
		/* Dovecot scheme names are case-insensitive */
		if (str_has_prefix_nocase(stored, crypt_prefixes[i]))
			return stored + n;
	}
	return NULL;
}

bool
password_verify(const char *password, const char *stored)
{
	if (password == NULL || stored == NULL)
		return false;
	const char *setting = crypt_payload(stored);
	size_t slen = setting != NULL ? strlen(setting) : 0;
	const char *why;

	/* only modular crypt formats ("$id$..."); an empty or "*"/"!" hash is a
	 * locked account, never a match */
	if (setting == NULL || setting[0] != '$' || slen > STORED_HASH_MAX)
		return false;
	if (password_acceptable(password, strlen(password), &why) < 0)
		return false;
	struct buf h;
	buf_init(&h, STORED_HASH_MAX);
	bool ok = crypt_into(password, setting, &h) == 0 && h.len == slen &&
		  mem_equal_ct(h.data, setting, slen);
	buf_free(&h);
	return ok;
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void
dummy_init(void)
{
	const char *why;
	if (password_hash("mailhub dummy password", &dummy_hash, &why) < 0)
		fatal("cannot make a dummy password hash: %s", why);
}

void
password_verify_dummy(const char *password)
{
	pthread_once(&dummy_once, dummy_init);
	(void)password_verify(password, dummy_hash);
}

/* No 0/O, 1/l/I: read off a screen and typed in by a person. */
static const char generate_alphabet[] =
	"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/* Characters of alphabet (n of them, n <= 256) into out[0..len), each
 * equally likely: bytes at or above the largest multiple of n are thrown
 * away. */
static void
random_chars(const char *alphabet, size_t n, char *out, size_t len)
{
	const unsigned limit = 256 - 256 % n;
	size_t have = 0;

	while (have < len) {
		unsigned char bytes[32];
		random_bytes(bytes, sizeof bytes);
		for (size_t i = 0; i < sizeof bytes && have < len; i++) {
			if (bytes[i] < limit)
				out[have++] = alphabet[bytes[i] % n];
		}
		explicit_bzero(bytes, sizeof bytes);
	}
}

char *
password_generate(void)
{
	char *out = xmalloc(PASSWORD_GENERATE_LEN + 1);
	random_chars(generate_alphabet, sizeof generate_alphabet - 1, out,
		     PASSWORD_GENERATE_LEN);
	out[PASSWORD_GENERATE_LEN] = '\0';
	return out;
}

/* Four groups of four letters joined by dashes. */
static void
app_format(const char letters[16], char out[PASSWORD_APP_LEN + 1])
{
	size_t k = 0;
	for (size_t i = 0; i < 16; i++) {
		if (i > 0 && i % 4 == 0)
			out[k++] = '-';
		out[k++] = letters[i];
	}
	out[k] = '\0';
}

char *
password_app_generate(void)
{
	char letters[16];
	char *out = xmalloc(PASSWORD_APP_LEN + 1);

	random_chars("abcdefghijklmnopqrstuvwxyz", 26, letters, sizeof letters);
	app_format(letters, out);
	explicit_bzero(letters, sizeof letters);
	return out;
}

bool
password_app_canonical(const char *password, char out[PASSWORD_APP_LEN + 1])
{
	char letters[16];
	size_t n = 0;

	for (const char *p = password; *p != '\0'; p++) {
		char c = *p;
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c < 'a' || c > 'z' || n == sizeof letters) {
			explicit_bzero(letters, sizeof letters);
			return false;
		}
		letters[n++] = c;
	}
	if (n != sizeof letters) {
		explicit_bzero(letters, sizeof letters);
		return false;
	}
	app_format(letters, out);
	explicit_bzero(letters, sizeof letters);
	return true;
}

/*
 * The minimum strength of a new password (the CLI and the API both ask
 * here): what a household's users of Dovecot or mailcow would expect, and
 * what NIST SP 800-63B §5.1.1.2 asks for: a length floor and a list of
 * passwords known to be common, no rules about character classes.  The
 * list holds only entries that the length floor lets through.
 */
static const char *const common_passwords[] = {
	"0000000000", "0123456789", "0987654321", "1111111111", "1122334455",
	"1234512345", "1234554321", "1234567890", "12345678910", "1234567891",
	"123456789a", "123456789q", "123qweasdzxc", "1q2w3e4r5t", "1q2w3e4r5t6y",
	"1qaz2wsx3edc", "9876543210", "a123456789", "a1b2c3d4e5", "abc1234567",
	"abcdefghij", "admin12345", "admin123456", "administrator", "baseball123",
	"changeme123", "dragon1234", "football123", "iloveyou12", "iloveyou123",
	"letmein123", "mailserver", "p@ssw0rd123", "passw0rd123", "password!!",
	"password01", "password1!", "password12", "password123", "password1234",
	"passwordpassword", "postmaster", "princess123", "q123456789", "q1w2e3r4t5",
	"q1w2e3r4t5y6", "qazwsxedcrfv", "qwerty1234", "qwerty12345", "qwerty123456",
	"qwertyuiop", "qwertyuiop1", "starwars123", "sunshine123", "superman123",
	"welcome123", "welcome1234", "zxcvbnm123", "zxcvbnmasdfghjkl",
};

/* Characters, not bytes: a UTF-8 continuation byte does not count. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

int
password_strong_enough(const char *password, const char *address, const char **error_r)
{
	if (password_acceptable(password, strlen(password), error_r) < 0)
		return -1;
	bool weak = utf8_chars(password) < PASSWORD_MIN_CHARS;
	/* one character over and over is as weak as a short password */
	bool same = true;
	for (const char *p = password + 1; *p != '\0'; p++)
		same = same && *p == password[0];
	weak = weak || same;
	for (size_t i = 0; !weak && i < sizeof common_passwords / sizeof common_passwords[0]; i++)
		weak = str_eq_nocase(password, common_passwords[i]);
	if (!weak && address != NULL) {
		const char *at = strrchr(address, '@');
		size_t local = at != NULL ? (size_t)(at - address) : strlen(address);
		weak = str_eq_nocase(password, address) ||
		       (strlen(password) == local && mem_eq_nocase(password, address, local));
	}
	if (weak) {
		*error_r = PASSWORD_RULE;
		return -1;
	}
	return 0;
}
