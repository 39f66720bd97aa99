/*
 * totp: the one-time codes of the panel's two-factor sign-in.
 *
 * RFC 6238 TOTP over RFC 4226 HOTP with the parameters every authenticator
 * app takes by default: HMAC-SHA-1, 6 digits, 30-second steps.  Secrets
 * travel to the app in base32 (RFC 4648 §6) inside an otpauth:// URI (the
 * "Key Uri Format" of Google Authenticator, which the other apps follow).
 * Recovery codes are 80 random bits written as 16 base32 letters in groups
 * of four.  Everything here is a pure function over its arguments, except
 * the two that make something new from the random source.
 */
#ifndef MAILHUB_CORE_TOTP_H
#define MAILHUB_CORE_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_DIGITS 6
#define TOTP_PERIOD 30
/* RFC 6238 §5.2: one step either side for clocks that drift and for the
 * time a person takes to type the code. */
#define TOTP_WINDOW 1
/* RFC 4226 §4 R6 recommends 160 bits: the length of the SHA-1 key. */
#define TOTP_SECRET_BYTES 20
#define TOTP_SECRET_B32_LEN 32	/* 20 bytes are exactly 32 base32 letters */
/* The longest key totp_check() takes (a secret given by hand). */
#define TOTP_KEY_MAX 64

#define TOTP_RECOVERY_CODES 10
#define TOTP_RECOVERY_BYTES 10	/* 80 bits: 16 base32 letters */
#define TOTP_RECOVERY_CHARS 16
#define TOTP_RECOVERY_TEXT_LEN 19	/* "abcd-efgh-ijkl-mnop" */

/* RFC 4226 §5.3: the HOTP value of key and counter, reduced to digits
 * (1..9) decimal digits. */
uint32_t totp_hotp(const void *key, size_t key_len, uint64_t counter,
		   unsigned digits);
/* RFC 6238 §4.2: the time step T of a Unix time (0 before the epoch). */
int64_t totp_step(int64_t unix_time);
/* The code of key at step, as TOTP_DIGITS digits with leading zeros. */
void totp_code(const void *key, size_t key_len, int64_t step,
	       char out[TOTP_DIGITS + 1]);

/* A code as typed: TOTP_DIGITS digits, spaces anywhere ignored ("123 456").
 * Writes the digits to out and returns true, or false when it is not one. */
bool totp_code_normalize(const char *text, char out[TOTP_DIGITS + 1]);
/*
 * Checks code (normalized) against the steps within TOTP_WINDOW of now's
 * step.  Only steps after last_step count: RFC 6238 §5.2 wants a code
 * accepted once, and a code of an earlier step than one used is as old.
 * Returns true with the matching step in *step_r.  Every step of the window
 * is computed and compared in constant time, whichever matches.
 */
bool totp_check(const void *key, size_t key_len, int64_t now,
		const char *code, int64_t last_step, int64_t *step_r);

/* RFC 4648 §6 base32 of p[0..n) without padding, upper case, into out of
 * at least (n * 8 + 4) / 5 + 1 bytes; returns the length written. */
size_t base32_encode(const void *p, size_t n, char *out);
/* Decodes base32 text (either case; spaces and trailing '=' ignored) into
 * out of max bytes.  Returns 0 with *len_r, or -1 for a letter outside the
 * alphabet, leftover bits that are not zero, or more than max bytes. */
int base32_decode(const char *text, void *out, size_t max, size_t *len_r);

/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30,
 * with issuer and account percent-encoded (RFC 3986 §2.1); malloc'd. */
char *totp_uri(const char *issuer, const char *account, const char *secret_b32);

/* A new random secret, as base32. */
void totp_secret_new(char out[TOTP_SECRET_B32_LEN + 1]);
/* A new random recovery code as shown to the user: "abcd-efgh-ijkl-mnop". */
void totp_recovery_new(char out[TOTP_RECOVERY_TEXT_LEN + 1]);
/* The canonical form of a recovery code as typed (either case, dashes and
 * spaces anywhere): its 16 letters in lower case.  False when it is not
 * one. */
bool totp_recovery_normalize(const char *text, char out[TOTP_RECOVERY_CHARS + 1]);

#endif
