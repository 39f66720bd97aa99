#include "core/sasl.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/scram.h"
#include "core/xmalloc.h"

enum sasl_mech {
	MECH_PLAIN,
	MECH_LOGIN,
	MECH_SCRAM,
	MECH_SCRAM_PLUS,
};

/* The mechanisms served, in the order they are offered. */
static const struct {
	const char *name;
	enum sasl_mech mech;
} mechanisms[] = {
	{ "PLAIN", MECH_PLAIN },
	{ "LOGIN", MECH_LOGIN },
	{ "SCRAM-SHA-256", MECH_SCRAM },
	{ "SCRAM-SHA-256-PLUS", MECH_SCRAM_PLUS },
};

/* The same names as lists to offer: without and with the -PLUS one. */
static const char *const offered_plain[] = {
	"PLAIN", "LOGIN", "SCRAM-SHA-256", NULL,
};
static const char *const offered_cb[] = {
	"PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", NULL,
};

enum sasl_state {
	STATE_START,		/* nothing received yet */
	STATE_PLAIN_WAIT,	/* PLAIN: sent the empty challenge */
	STATE_LOGIN_USER,	/* LOGIN: sent "Username:" */
	STATE_LOGIN_PASS,	/* LOGIN: sent "Password:" */
	STATE_SCRAM_FIRST,	/* SCRAM: sent the empty challenge */
	STATE_SCRAM_KEYS,	/* SCRAM: asked the caller for keys */
	STATE_SCRAM_PROOF,	/* SCRAM: sent server-first */
	STATE_SCRAM_ACK,	/* SCRAM: sent server-final */
	STATE_DONE,
	STATE_FAILED,
};

struct sasl_binding {
	char type[16];
	unsigned char data[64];
	size_t len;
};

/* What a SCRAM exchange keeps between its messages. */
struct sasl_scram {
	char *gs2_header;	/* "n,,", "p=tls-exporter,a=x,"... */
	const struct sasl_binding *binding; /* the one a -PLUS client named */
	char *client_first_bare;
	char *server_first;
	char *nonce;		/* client's and server's parts */
	char server_nonce[64];
	struct scram_keys *keys;
	size_t n_keys;
	char *challenge;	/* base64: server-first, then server-final */
};

struct sasl_server {
	enum sasl_mech mech;
	enum sasl_state state;
	char *authzid;
	char *user;
	char *password;
	bool rejected;
	int match;		/* SCRAM: index of the key that matched */
	struct sasl_binding bindings[SASL_CB_MAX];
	size_t n_bindings;
	struct sasl_scram scram;
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
			s->match = -1;
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
	free(s->scram.gs2_header);
	free(s->scram.client_first_bare);
	free(s->scram.server_first);
	free(s->scram.nonce);
	free(s->scram.challenge);
	if (s->scram.keys != NULL) {
		explicit_bzero(s->scram.keys, s->scram.n_keys * sizeof *s->scram.keys);
		free(s->scram.keys);
	}
	explicit_bzero(s, sizeof *s);
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

const char *const *
sasl_mechanisms(bool channel_binding)
{
	return channel_binding ? offered_cb : offered_plain;
}

void
sasl_server_channel_binding(struct sasl_server *s, const char *type,
			    const unsigned char *data, size_t len)
{
	if (s->n_bindings == SASL_CB_MAX || strlen(type) >= sizeof s->bindings[0].type ||
	    len > sizeof s->bindings[0].data)
		panic("sasl: channel binding out of bounds");
	struct sasl_binding *b = &s->bindings[s->n_bindings++];
	snprintf(b->type, sizeof b->type, "%s", type);
	memcpy(b->data, data, len);
	b->len = len;
}

void
sasl_server_set_nonce(struct sasl_server *s, const char *nonce)
{
	snprintf(s->scram.server_nonce, sizeof s->scram.server_nonce, "%s", nonce);
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

/* ---- SCRAM-SHA-256 (RFC 5802 §5, §7; RFC 7677) ---------------------------- */

/* Longest decoded SCRAM message, and nonce (both far above real ones). */
#define SCRAM_MESSAGE_MAX 4096
#define SCRAM_NONCE_MAX 256

/* RFC 5802 §7: saslname = 1*(value-safe-char / "=2C" / "=3D"), decoded
 * into *out_r (at most ADDRESS_MAX bytes). */
static int
saslname(const char *p, size_t n, char **out_r, const char **error_r)
{
	struct buf b;

	if (n == 0) {
		*error_r = "empty SCRAM name";
		return -1;
	}
	buf_init(&b, ADDRESS_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '=') {
			if (i + 2 < n && p[i + 1] == '2' && p[i + 2] == 'C')
				c = ',';
			else if (i + 2 < n && p[i + 1] == '3' && p[i + 2] == 'D')
				c = '=';
			else {
				buf_free(&b);
				*error_r = "malformed SCRAM name (a bare '=')";
				return -1;
			}
			i += 2;
		}
		if (buf_putc(&b, c) < 0) {
			buf_free(&b);
			*error_r = "SCRAM name too long";
			return -1;
		}
	}
	*out_r = buf_steal(&b);
	return 0;
}

/* The attribute "x=" at p: its value's length up to the next ',' or end. */
static bool
attribute(const char *p, char name, const char **value_r, size_t *len_r)
{
	if (p[0] != name || p[1] != '=')
		return false;
	*value_r = p + 2;
	const char *comma = strchr(p + 2, ',');
	*len_r = comma != NULL ? (size_t)(comma - (p + 2)) : strlen(p + 2);
	return true;
}

/* RFC 5802 §7: printable = %x21-2B / %x2D-7E ("," excluded). */
static bool
nonce_valid(const char *p, size_t n)
{
	if (n == 0 || n > SCRAM_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x21 || c > 0x7e || c == ',')
			return false;
	}
	return true;
}

/* RFC 5802 §6: the gs2 channel binding flag against the mechanism and the
 * bindings the connection offers; sets s->scram.binding for "p=". */
static int
scram_cbind_flag(struct sasl_server *s, const char **pp, const char **error_r)
{
	const char *p = *pp;
	bool plus = s->mech == MECH_SCRAM_PLUS;

	if ((p[0] == 'n' || p[0] == 'y') && p[1] == ',') {
		if (plus) {
			*error_r = "SCRAM-SHA-256-PLUS needs a channel binding (\"p=\")";
			return -1;
		}
		/* "y": the client could bind but thinks the server cannot; when
		 * the server can, someone removed -PLUS from the list */
		if (p[0] == 'y' && s->n_bindings > 0) {
			*error_r = "the server supports channel binding (downgrade refused)";
			return -1;
		}
		*pp = p + 2;
		return 0;
	}
	const char *name;
	size_t n;
	if (!attribute(p, 'p', &name, &n) || name[n] != ',') {
		*error_r = "malformed SCRAM gs2 header";
		return -1;
	}
	if (!plus) {
		*error_r = "channel binding needs SCRAM-SHA-256-PLUS";
		return -1;
	}
	for (size_t i = 0; i < s->n_bindings; i++) {
		if (strlen(s->bindings[i].type) == n &&
		    memcmp(s->bindings[i].type, name, n) == 0)
			s->scram.binding = &s->bindings[i];
	}
	if (s->scram.binding == NULL) {
		*error_r = "channel binding type not supported on this connection";
		return -1;
	}
	*pp = name + n + 1;
	return 0;
}

/* client-first-message = gs2-header client-first-message-bare */
static enum sasl_result
scram_client_first(struct sasl_server *s, const char *msg, const char **error_r)
{
	const char *p = msg, *v, *why;
	size_t n;

	if (scram_cbind_flag(s, &p, &why) < 0)
		return fail(s, error_r, why);
	if (attribute(p, 'a', &v, &n)) {
		if (saslname(v, n, &s->authzid, &why) < 0)
			return fail(s, error_r, why);
		p = v + n;
	} else {
		s->authzid = xstrdup("");
	}
	if (*p != ',')
		return fail(s, error_r, "malformed SCRAM gs2 header");
	p++;
	s->scram.gs2_header = xstrndup(msg, (size_t)(p - msg));
	s->scram.client_first_bare = xstrdup(p);
	/* RFC 5802 §5.1 "m": a mandatory extension this server does not know */
	if (p[0] == 'm' && p[1] == '=')
		return fail(s, error_r, "SCRAM extension not supported");
	if (!attribute(p, 'n', &v, &n) || v[n] != ',')
		return fail(s, error_r, "malformed SCRAM client-first message (n=)");
	if (saslname(v, n, &s->user, &why) < 0)
		return fail(s, error_r, why);
	p = v + n + 1;
	if (!attribute(p, 'r', &v, &n) || !nonce_valid(v, n))
		return fail(s, error_r, "malformed SCRAM client nonce");
	s->scram.nonce = xstrndup(v, n);
	s->state = STATE_SCRAM_KEYS;
	return SASL_NEED_KEYS;
}

enum sasl_result
sasl_server_scram_keys(struct sasl_server *s, const struct scram_keys *keys,
		       size_t n, const char **challenge_r, const char **error_r)
{
	struct buf b;

	*challenge_r = "";
	if (s->state != STATE_SCRAM_KEYS || n == 0 || n > SASL_SCRAM_KEYS_MAX)
		panic("sasl: SCRAM keys given out of turn or out of bounds");
	s->scram.keys = xmalloc(n * sizeof *keys);
	memcpy(s->scram.keys, keys, n * sizeof *keys);
	s->scram.n_keys = n;
	if (s->scram.server_nonce[0] == '\0') {
		unsigned char r[18];
		buf_init(&b, sizeof s->scram.server_nonce - 1);
		random_bytes(r, sizeof r);
		/* base64 has no ',': a valid nonce */
		base64_encode(&b, r, sizeof r);
		snprintf(s->scram.server_nonce, sizeof s->scram.server_nonce, "%s",
			 buf_cstr(&b));
		buf_free(&b);
	}
	/* server-first-message = nonce "," salt "," iteration-count */
	buf_init(&b, SCRAM_MESSAGE_MAX);
	buf_printf(&b, "r=%s%s,s=", s->scram.nonce, s->scram.server_nonce);
	base64_encode(&b, keys[0].salt, keys[0].salt_len);
	buf_printf(&b, ",i=%u", keys[0].iterations);
	s->scram.server_first = buf_steal(&b);
	char *full = xasprintf("%s%s", s->scram.nonce, s->scram.server_nonce);
	free(s->scram.nonce);
	s->scram.nonce = full;
	free(s->scram.challenge);
	buf_init(&b, SCRAM_MESSAGE_MAX * 2);
	base64_encode(&b, s->scram.server_first, strlen(s->scram.server_first));
	s->scram.challenge = buf_steal(&b);
	s->state = STATE_SCRAM_PROOF;
	*challenge_r = s->scram.challenge;
	(void)error_r;
	return SASL_CONTINUE;
}

/* The "c=" value a client must send: base64(gs2-header || cbind-data). */
static bool
binding_matches(const struct sasl_server *s, const char *v, size_t n)
{
	struct buf want, got;
	bool ok;

	buf_init(&want, SCRAM_MESSAGE_MAX);
	buf_init(&got, SCRAM_MESSAGE_MAX);
	buf_puts(&want, s->scram.gs2_header);
	if (s->scram.binding != NULL)
		buf_append(&want, s->scram.binding->data, s->scram.binding->len);
	ok = base64_decode(&got, v, n, false) == 0 && got.len == want.len &&
	     mem_equal_ct(got.data, want.data, want.len);
	buf_free(&want);
	buf_free(&got);
	return ok;
}

/* client-final-message = channel-binding "," nonce ["," extensions] "," proof */
static enum sasl_result
scram_client_final(struct sasl_server *s, const char *msg, const char **challenge_r,
		   const char **error_r)
{
	const char *v, *proof_at = NULL;
	size_t n;

	/* the proof is the last attribute: everything before it is signed */
	for (const char *q = strstr(msg, ",p="); q != NULL; q = strstr(q + 1, ",p="))
		proof_at = q;
	if (proof_at == NULL)
		return fail(s, error_r, "malformed SCRAM client-final message (no proof)");
	if (!attribute(msg, 'c', &v, &n) || v + n > proof_at)
		return fail(s, error_r, "malformed SCRAM client-final message (c=)");
	if (!binding_matches(s, v, n))
		return fail(s, error_r, "SCRAM channel binding does not match");
	const char *p = v + n + 1;
	if (!attribute(p, 'r', &v, &n) || v + n > proof_at || n != strlen(s->scram.nonce) ||
	    memcmp(v, s->scram.nonce, n) != 0)
		return fail(s, error_r, "SCRAM nonce does not match");
	struct buf proof;
	buf_init(&proof, SCRAM_KEY_LEN);
	const char *pv = proof_at + 3;
	if (strchr(pv, ',') != NULL ||
	    base64_decode(&proof, pv, strlen(pv), false) < 0 || proof.len != SCRAM_KEY_LEN) {
		buf_free(&proof);
		return fail(s, error_r, "malformed SCRAM proof");
	}
	/* AuthMessage = client-first-message-bare "," server-first-message ","
	 *               client-final-message-without-proof */
	struct buf auth;
	buf_init(&auth, SCRAM_MESSAGE_MAX * 3);
	buf_printf(&auth, "%s,%s,", s->scram.client_first_bare, s->scram.server_first);
	buf_append(&auth, msg, (size_t)(proof_at - msg));
	/* every key is tried, whichever matches: the time does not tell */
	for (size_t i = 0; i < s->scram.n_keys; i++) {
		if (scram_proof_valid(&s->scram.keys[i], auth.data, auth.len,
				      (const unsigned char *)proof.data) && s->match < 0)
			s->match = (int)i;
	}
	buf_free(&proof);
	if (s->match < 0) {
		buf_free(&auth);
		s->rejected = true;
		return fail(s, error_r, "authentication failed");
	}
	unsigned char sig[SCRAM_KEY_LEN];
	scram_server_signature(&s->scram.keys[s->match], auth.data, auth.len, sig);
	buf_free(&auth);
	struct buf final, b64;
	buf_init(&final, SCRAM_MESSAGE_MAX);
	buf_puts(&final, "v=");
	base64_encode(&final, sig, sizeof sig);
	buf_init(&b64, SCRAM_MESSAGE_MAX * 2);
	base64_encode(&b64, final.data, final.len);
	buf_free(&final);
	free(s->scram.challenge);
	s->scram.challenge = buf_steal(&b64);
	s->state = STATE_SCRAM_ACK;
	*challenge_r = s->scram.challenge;
	return SASL_CONTINUE;
}

static enum sasl_result
step_scram(struct sasl_server *s, const char *response, bool first,
	   const char **challenge_r, const char **error_r)
{
	struct buf msg;
	const char *why;
	enum sasl_result r;

	if (response == NULL) {
		if (!first)
			return fail(s, error_r, "missing response");
		s->state = STATE_SCRAM_FIRST;
		*challenge_r = "";
		return SASL_CONTINUE;
	}
	if (decode_response(response, first, SCRAM_MESSAGE_MAX, &msg, &why) < 0)
		return fail(s, error_r, why);
	if (msg.len > 0 && memchr(msg.data, '\0', msg.len) != NULL) {
		buf_free(&msg);
		return fail(s, error_r, "NUL byte in a SCRAM message");
	}
	const char *text = msg.len > 0 ? buf_cstr(&msg) : "";
	switch (s->state) {
	case STATE_START:
	case STATE_SCRAM_FIRST:
		r = scram_client_first(s, text, error_r);
		break;
	case STATE_SCRAM_PROOF:
		r = scram_client_final(s, text, challenge_r, error_r);
		break;
	case STATE_SCRAM_ACK:
		/* RFC 4954 §4: the client answers server-final with an empty
		 * response, then the server says success */
		if (msg.len != 0) {
			r = fail(s, error_r, "unexpected data after the SCRAM exchange");
			break;
		}
		s->state = STATE_DONE;
		r = SASL_DONE;
		break;
	default:
		r = fail(s, error_r, "SCRAM exchange out of order");
		break;
	}
	buf_free(&msg);
	return r;
}

enum sasl_result
sasl_server_step(struct sasl_server *s, const char *response,
		 const char **challenge_r, const char **error_r)
{
	bool first = s->state == STATE_START;

	*challenge_r = "";
	if (s->state == STATE_DONE || s->state == STATE_FAILED)
		return fail(s, error_r, "authentication exchange already ended");
	if (s->state == STATE_SCRAM_KEYS)
		panic("sasl: step while SCRAM waits for keys");
	/* RFC 4954 §4, RFC 3501 §6.2.2, RFC 5034 §4: "*" cancels (only as a
	 * response to a challenge; an initial response cannot be "*") */
	if (!first && response != NULL && strcmp(response, "*") == 0)
		return fail(s, error_r, "authentication cancelled");
	if (s->mech == MECH_PLAIN)
		return step_plain(s, response, first, challenge_r, error_r);
	if (s->mech == MECH_LOGIN)
		return step_login(s, response, first, challenge_r, error_r);
	return step_scram(s, response, first, challenge_r, error_r);
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
	if (s->state == STATE_SCRAM_KEYS || s->state == STATE_SCRAM_PROOF ||
	    s->state == STATE_SCRAM_ACK)
		return s->user;
	return done_field(s, s->user);
}

int
sasl_server_scram_match(const struct sasl_server *s)
{
	(void)done_field(s, "");
	return s->match;
}

bool
sasl_server_expects_proof(const struct sasl_server *s)
{
	return s->state == STATE_SCRAM_PROOF;
}

bool
sasl_server_rejected(const struct sasl_server *s)
{
	return s->state == STATE_FAILED && s->rejected;
}

const char *
sasl_server_mechanism(const struct sasl_server *s)
{
	for (size_t i = 0; i < sizeof mechanisms / sizeof mechanisms[0]; i++) {
		if (mechanisms[i].mech == s->mech)
			return mechanisms[i].name;
	}
	panic("sasl: unknown mechanism");
}

bool
sasl_server_is_scram(const struct sasl_server *s)
{
	return s->mech == MECH_SCRAM || s->mech == MECH_SCRAM_PLUS;
}

const char *
sasl_server_password(const struct sasl_server *s)
{
	return done_field(s, s->password);
}

const char *
sasl_server_authzid(const struct sasl_server *s)
{
	if (s->state == STATE_SCRAM_KEYS || s->state == STATE_SCRAM_PROOF ||
	    s->state == STATE_SCRAM_ACK)
		return s->authzid;
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
