#include "core/sasl.h"

#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"

enum sasl_mech {
	MECH_PLAIN,
	MECH_LOGIN,
};

/* The mechanisms served, in the order they are offered. */
static const struct {
	const char *name;
	enum sasl_mech mech;
} mechanisms[] = {
	{ "PLAIN", MECH_PLAIN },
	{ "LOGIN", MECH_LOGIN },
};

enum sasl_state {
	STATE_START,		/* nothing received yet */
	STATE_PLAIN_WAIT,	/* PLAIN: sent the empty challenge */
	STATE_LOGIN_USER,	/* LOGIN: sent "Username:" */
	STATE_LOGIN_PASS,	/* LOGIN: sent "Password:" */
	STATE_DONE,
	STATE_FAILED,
};

struct sasl_server {
	enum sasl_mech mech;
	enum sasl_state state;
	char *authzid;
	char *user;
	char *password;
};

/* The LOGIN mechanism's challenges (draft-murchison-sasl-login): the base64
 * of "Username:" and "Password:", which clients expect to the letter. */
#define LOGIN_CHALLENGE_USER "VXNlcm5hbWU6"
#define LOGIN_CHALLENGE_PASS "UGFzc3dvcmQ6"

/* Longest decoded PLAIN message: authzid NUL authcid NUL passwd. */
#define PLAIN_MESSAGE_MAX (2 * ADDRESS_MAX + PASSWORD_MAX + 2)

struct sasl_server *
sasl_server_new(const char *mechanism)
{
	if (mechanism == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++) {
		if (str_eq_nocase(mechanism, mechanisms[i].name)) {
			struct sasl_server *s = xcalloc(1, sizeof *s);
			s->mech = mechanisms[i].mech;
			s->state = STATE_START;
			return s;
		}
	}
	return NULL;
}

static void
wipe_free(char **p)
{
	if (*p != NULL) {
		/* volatile so the compiler keeps the wipe of the password */
		volatile char *v = *p;
		while (*v != '\0')
			*v++ = '\0';
		free(*p);
		*p = NULL;
	}
}

void
sasl_server_free(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;
	if (s == NULL)
		return;
	wipe_free(&s->authzid);
	wipe_free(&s->user);
	wipe_free(&s->password);
	free(s);
	*sp = NULL;
}

bool
sasl_mechanism_known(const char *mechanism)
{
	if (mechanism == NULL)
		return false;
	for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++) {
		if (str_eq_nocase(mechanism, mechanisms[i].name))
			return true;
	}
	return false;
}

static enum sasl_result
fail(struct sasl_server *s, const char **error_r, const char *why)
{
	s->state = STATE_FAILED;
	*error_r = why;
	return SASL_FAIL;
}

/*
 * Decodes one client response into out (with max bytes).  first: this is the
 * initial response, where "=" stands for an empty one (RFC 4954 §4, RFC 4959
 * §3); later an empty line is the empty response.  Returns 0, or -1 with
 * *error_r.
 */
static int
decode_response(const char *response, bool first, size_t max, struct buf *out,
		const char **error_r)
{
	size_t n = strlen(response);

	buf_init(out, SASL_LINE_MAX);
	if (n > SASL_LINE_MAX) {
		*error_r = "response too long";
		return -1;
	}
	if (first && n == 1 && response[0] == '=')
		return 0;
	if (first && n == 0) {
		/* an initial response is never empty: "=" says empty */
		*error_r = "empty initial response (use \"=\")";
		return -1;
	}
	/* the line is at most SASL_LINE_MAX, so what it decodes to is bounded;
	 * the field's own maximum is checked after, so the reason is exact */
	if (base64_decode(out, response, n, false) < 0) {
		buf_free(out);
		*error_r = "invalid base64 in response";
		return -1;
	}
	if (out->len > max) {
		explicit_bzero(out->data, out->len);
		buf_free(out);
		*error_r = "response too long";
		return -1;
	}
	return 0;
}

/* A LOGIN field: not empty, no NUL, at most max bytes. */
static int
login_field(const struct buf *b, size_t max, const char *what, char **out_r,
	    const char **error_r)
{
	if (b->len == 0) {
		*error_r = errfmt("empty %s", what);
		return -1;
	}
	if (b->len > max) {
		*error_r = errfmt("%s too long", what);
		return -1;
	}
	if (memchr(b->data, '\0', b->len) != NULL) {
		*error_r = errfmt("NUL byte in %s", what);
		return -1;
	}
	*out_r = xstrndup(b->data, b->len);
	return 0;
}

static enum sasl_result
step_plain(struct sasl_server *s, const char *response, bool first,
	   const char **challenge_r, const char **error_r)
{
	struct buf msg;
	const char *why;

	if (response == NULL) {
		if (!first)
			return fail(s, error_r, "missing response");
		/* RFC 4616 §2: no initial response, so send an empty challenge */
		s->state = STATE_PLAIN_WAIT;
		*challenge_r = "";
		return SASL_CONTINUE;
	}
	if (decode_response(response, first, PLAIN_MESSAGE_MAX, &msg, &why) < 0)
		return fail(s, error_r, why);
	int r = sasl_plain_split(msg.data != NULL ? msg.data : "", msg.len,
				 &s->authzid, &s->user, &s->password, &why);
	if (msg.data != NULL)
		memset(msg.data, 0, msg.len);
	buf_free(&msg);
	if (r < 0)
		return fail(s, error_r, why);
	s->state = STATE_DONE;
	*challenge_r = "";
	return SASL_DONE;
}

static enum sasl_result
step_login(struct sasl_server *s, const char *response, bool first,
	   const char **challenge_r, const char **error_r)
{
	struct buf field;
	const char *why;
	int r;

	if (response == NULL) {
		if (!first)
			return fail(s, error_r, "missing response");
		s->state = STATE_LOGIN_USER;
		*challenge_r = LOGIN_CHALLENGE_USER;
		return SASL_CONTINUE;
	}
	if (s->state == STATE_START || s->state == STATE_LOGIN_USER) {
		/* an initial response to LOGIN is the user name (clients send
		 * "AUTH LOGIN dXNlcg==") */
		if (decode_response(response, first, ADDRESS_MAX, &field, &why) < 0)
			return fail(s, error_r, why);
		r = login_field(&field, ADDRESS_MAX, "user name", &s->user, &why);
		buf_free(&field);
		if (r < 0)
			return fail(s, error_r, why);
		s->state = STATE_LOGIN_PASS;
		*challenge_r = LOGIN_CHALLENGE_PASS;
		return SASL_CONTINUE;
	}
	if (decode_response(response, false, PASSWORD_MAX, &field, &why) < 0)
		return fail(s, error_r, why);
	r = login_field(&field, PASSWORD_MAX, "password", &s->password, &why);
	if (field.data != NULL)
		memset(field.data, 0, field.len);
	buf_free(&field);
	if (r < 0)
		return fail(s, error_r, why);
	s->authzid = xstrdup("");
	s->state = STATE_DONE;
	*challenge_r = "";
	return SASL_DONE;
}

enum sasl_result
sasl_server_step(struct sasl_server *s, const char *response,
		 const char **challenge_r, const char **error_r)
{
	bool first = s->state == STATE_START;

	*challenge_r = "";
	if (s->state == STATE_DONE || s->state == STATE_FAILED)
		return fail(s, error_r, "authentication exchange already ended");
	/* RFC 4954 §4, RFC 3501 §6.2.2, RFC 5034 §4: "*" cancels (only as a
	 * response to a challenge; an initial response cannot be "*") */
	if (!first && response != NULL && strcmp(response, "*") == 0)
		return fail(s, error_r, "authentication cancelled");
	if (s->mech == MECH_PLAIN)
		return step_plain(s, response, first, challenge_r, error_r);
	return step_login(s, response, first, challenge_r, error_r);
}

static const char *
done_field(const struct sasl_server *s, const char *field)
{
	if (s->state != STATE_DONE)
		panic("sasl: credentials asked for before SASL_DONE");
	return field;
}

const char *
sasl_server_user(const struct sasl_server *s)
{
	return done_field(s, s->user);
}

const char *
sasl_server_password(const struct sasl_server *s)
{
	return done_field(s, s->password);
}

const char *
sasl_server_authzid(const struct sasl_server *s)
{
	return done_field(s, s->authzid);
}

/*
 * RFC 4616 §2:
 *   message = [authzid] UTF8NUL authcid UTF8NUL passwd
 *   authcid = 1*SAFE ; MUST accept up to 255 octets
 *   passwd  = 1*SAFE ; MUST accept up to 255 octets
 * SAFE excludes NUL, so a message has exactly two NULs.
 */
int
sasl_plain_split(const char *msg, size_t len, char **authzid_r,
		 char **authcid_r, char **passwd_r, const char **error_r)
{
	const char *nul1 = memchr(msg, '\0', len);
	if (nul1 == NULL) {
		*error_r = "malformed PLAIN message (no NUL separator)";
		return -1;
	}
	size_t zlen = (size_t)(nul1 - msg);
	const char *cid = nul1 + 1;
	const char *nul2 = memchr(cid, '\0', len - zlen - 1);
	if (nul2 == NULL) {
		*error_r = "malformed PLAIN message (one NUL separator)";
		return -1;
	}
	size_t clen = (size_t)(nul2 - cid);
	const char *pw = nul2 + 1;
	size_t plen = len - zlen - clen - 2;
	if (memchr(pw, '\0', plen) != NULL) {
		*error_r = "malformed PLAIN message (NUL in password)";
		return -1;
	}
	if (clen == 0) {
		*error_r = "empty user name";
		return -1;
	}
	if (plen == 0) {
		*error_r = "empty password";
		return -1;
	}
	if (zlen > ADDRESS_MAX || clen > ADDRESS_MAX) {
		*error_r = "user name too long";
		return -1;
	}
	if (plen > PASSWORD_MAX) {
		*error_r = "password too long";
		return -1;
	}
	*authzid_r = xstrndup(msg, zlen);
	*authcid_r = xstrndup(cid, clen);
	*passwd_r = xstrndup(pw, plen);
	return 0;
}
