/*
 * login: a mail client's login from the first SASL response to the verdict
 * (see login.h).
 */
#include "store/login.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/hash.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/password.h"
#include "core/sasl.h"
#include "core/scram.h"
#include "core/seal.h"
#include "core/throttle.h"
#include "core/xmalloc.h"
#include "store/app_passwords.h"

/* The channel binding types tried on a TLS connection, in order. */
static const char *const binding_types[] = { "tls-exporter", "tls-unique" };

struct login {
	struct store *st;
	struct login_params p;
	struct sasl_server *sasl;
	const char *mechanism;
	struct store_scram_keys keys;
	struct store_user user;
	bool have_user;
};

const char *const *
login_mechanisms(const struct conn *c)
{
	unsigned char data[64];
	size_t len;
	bool binding = false;

	for (size_t i = 0; c != NULL && i < sizeof binding_types / sizeof binding_types[0]; i++)
		binding = binding || conn_channel_binding(c, binding_types[i], data, &len) == 0;
	return sasl_mechanisms(binding);
}

struct login *
login_new(struct store *st, const char *mechanism, const struct login_params *p)
{
	struct sasl_server *sasl = sasl_server_new(mechanism);
	if (sasl == NULL)
		return NULL;
	struct login *l = xcalloc(1, sizeof *l);
	l->st = st;
	l->p = *p;
	l->sasl = sasl;
	l->mechanism = sasl_server_mechanism(sasl);
	for (size_t i = 0; p->conn != NULL && i < sizeof binding_types / sizeof binding_types[0];
	     i++) {
		unsigned char data[64];
		size_t len;
		if (conn_channel_binding(p->conn, binding_types[i], data, &len) == 0)
			sasl_server_channel_binding(sasl, binding_types[i], data, len);
	}
	return l;
}

void
login_free(struct login **lp)
{
	struct login *l = *lp;
	if (l == NULL)
		return;
	sasl_server_free(&l->sasl);
	store_scram_keys_clear(&l->keys);
	store_user_clear(&l->user);
	free(l);
	*lp = NULL;
}

void
login_take_user(struct login *l, struct store_user *user_r)
{
	if (!l->have_user)
		panic("login: no user before LOGIN_OK");
	*user_r = l->user;
	memset(&l->user, 0, sizeof l->user);
	l->have_user = false;
}

static void
sleep_ms(struct conn *c, unsigned ms)
{
	if (ms == 0)
		return;
	/* what the session wrote before goes out before the wait */
	if (c != NULL)
		(void)conn_flush(c);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Starts a credential check through the throttle; logs a refusal. */
static enum login_status
check_begin(struct login *l, struct throttle_ticket *t, const char *user)
{
	switch (throttle_begin(t, l->p.ip, user)) {
	case THROTTLE_GO:
		return LOGIN_CONTINUE;
	case THROTTLE_BLOCKED:
		log_info("%s auth blocked user=%s ip=%s mech=%s", l->p.session, esc_str(user),
			 l->p.ip, l->mechanism);
		metrics_login_blocked(l->p.protocol);
		return LOGIN_BLOCKED;
	case THROTTLE_BUSY:
		break;
	}
	log_info("%s auth busy user=%s ip=%s mech=%s", l->p.session, esc_str(user), l->p.ip,
		 l->mechanism);
	return LOGIN_TRYLATER;
}

/* Ends a check that failed: counts it, waits the delay, logs it. */
static enum login_status
check_failed(struct login *l, struct throttle_ticket *t, const char *user)
{
	unsigned delay = throttle_end(t, false);
	log_info("%s auth failed user=%s ip=%s mech=%s", l->p.session, esc_str(user), l->p.ip,
		 l->mechanism);
	metrics_login_failed(l->p.protocol);
	sleep_ms(l->p.conn, delay);
	return LOGIN_FAILED;
}

static enum login_status
check_error(struct login *l, struct throttle_ticket *t, const char *error)
{
	throttle_abandon(t);
	log_error("%s cannot check a login: %s", l->p.session, error);
	return LOGIN_TRYLATER;
}

/* A right login: logs which credential it was (app password id, 0 for the
 * user's password) and records an app password's use. */
static enum login_status
logged_in(struct login *l, int64_t app_id)
{
	const char *error;
	l->have_user = true;
	if (app_id == 0) {
		log_info("%s auth ok user=%s ip=%s mech=%s", l->p.session, l->user.address,
			 l->p.ip, l->mechanism);
		return LOGIN_OK;
	}
	log_info("%s auth ok user=%s ip=%s mech=%s app-password=%lld", l->p.session,
		 l->user.address, l->p.ip, l->mechanism, (long long)app_id);
	/* a busy database must not refuse a right login */
	if (store_app_password_used(l->st, app_id, l->p.protocol, &error) < 0)
		log_warning("%s %s", l->p.session, error);
	return LOGIN_OK;
}

/*
 * PLAIN, LOGIN and USER/PASS: the user's password or, when the password
 * has the shape of one and its tag matches, an app password; one yescrypt
 * check either way (store/app_passwords.h).
 */
static enum login_status
check_password(struct login *l, const char *user, const char *password)
{
	struct throttle_ticket t;
	struct store_app_password_match m;
	const char *error;
	enum login_status r;
	int found = 0;

	if ((r = check_begin(l, &t, user)) != LOGIN_CONTINUE)
		return r;
	if (strlen(user) > ADDRESS_MAX || strlen(password) > PASSWORD_MAX)
		return check_failed(l, &t, user);
	int ret = store_user_get(l->st, user, &l->user, &error);
	if (ret == STORE_ERROR)
		return check_error(l, &t, error);
	if (ret == STORE_OK)
		found = store_app_password_find(l->st, l->user.id, password, &m, &error);
	if (found < 0) {
		store_user_clear(&l->user);
		return check_error(l, &t, error);
	}
	if (found > 0) {
		char canonical[PASSWORD_APP_LEN + 1];
		(void)password_app_canonical(password, canonical);
		bool ok = password_verify(canonical, m.password_hash) && l->user.enabled;
		explicit_bzero(canonical, sizeof canonical);
		int64_t id = m.id;
		store_app_password_match_clear(&m);
		if (!ok) {
			store_user_clear(&l->user);
			return check_failed(l, &t, user);
		}
		(void)throttle_end(&t, true);
		return logged_in(l, id);
	}
	store_user_clear(&l->user);
	ret = store_user_authenticate(l->st, user, password, &l->user, &error);
	if (ret == STORE_NOTFOUND)
		return check_failed(l, &t, user);
	if (ret != STORE_OK)
		return check_error(l, &t, error);
	(void)throttle_end(&t, true);
	return logged_in(l, 0);
}

/* Without a sealing key (tests): a secret of this process instead. */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static unsigned char dummy_secret[32];

static void
dummy_secret_init(void)
{
	random_bytes(dummy_secret, sizeof dummy_secret);
}

/* The made-up key of a user without SCRAM keys: a salt that stays the same
 * for the name (so asking twice tells nothing), keys that match no proof. */
static void
dummy_keys(const char *user, struct scram_keys *k)
{
	static const char purpose[] = "mailhub scram dummy salt v1";
	unsigned char mac[SEAL_MAC_LEN];
	unsigned int mac_len = 0;
	char lower[ADDRESS_MAX];
	size_t n = 0;
	const char *why;

	for (; user[n] != '\0' && n < sizeof lower; n++)
		lower[n] = (user[n] >= 'A' && user[n] <= 'Z') ? (char)(user[n] + 32) : user[n];
	if (seal_mac(purpose, lower, n, mac, &why) < 0) {
		pthread_once(&dummy_once, dummy_secret_init);
		if (HMAC(EVP_sha256(), dummy_secret, sizeof dummy_secret,
			 (const unsigned char *)lower, n, mac, &mac_len) == NULL)
			fatal("login: HMAC-SHA-256 failed");
	}
	memset(k, 0, sizeof *k);
	k->iterations = SCRAM_ITERATIONS;
	k->salt_len = SCRAM_SALT_LEN;
	memcpy(k->salt, mac, SCRAM_SALT_LEN);
	random_bytes(k->stored_key, sizeof k->stored_key);
	random_bytes(k->server_key, sizeof k->server_key);
}

/* SCRAM after client-first: the user's keys, or a made-up one. */
static enum login_status
scram_keys(struct login *l, const char **challenge_r, const char **error_r)
{
	const char *user = sasl_server_user(l->sasl), *authzid = sasl_server_authzid(l->sasl);
	const char *error;
	struct scram_keys dummy;

	if (authzid[0] != '\0' && !str_eq_nocase(authzid, user))
		return LOGIN_AUTHZ;
	if (throttle_blocked(l->p.ip)) {
		log_info("%s auth blocked user=%s ip=%s mech=%s", l->p.session, esc_str(user),
			 l->p.ip, l->mechanism);
		metrics_login_blocked(l->p.protocol);
		return LOGIN_BLOCKED;
	}
	int ret = store_scram_keys_get(l->st, user, &l->keys, &error);
	if (ret == STORE_ERROR) {
		log_error("%s cannot look up SCRAM keys: %s", l->p.session, error);
		return LOGIN_TRYLATER;
	}
	const struct scram_keys *keys = l->keys.keys;
	size_t n = l->keys.n;
	if (n == 0) {
		dummy_keys(user, &dummy);
		keys = &dummy;
		n = 1;
	}
	enum sasl_result r = sasl_server_scram_keys(l->sasl, keys, n, challenge_r, error_r);
	explicit_bzero(&dummy, sizeof dummy);
	return r == SASL_CONTINUE ? LOGIN_CONTINUE : LOGIN_MALFORMED;
}

/* SCRAM: the client's proof, checked through the throttle. */
static enum login_status
scram_proof(struct login *l, const char *response, const char **challenge_r,
	    const char **error_r)
{
	struct throttle_ticket t;
	enum login_status r;
	const char *error;
	char *user = xstrdup(sasl_server_user(l->sasl));

	if ((r = check_begin(l, &t, user)) != LOGIN_CONTINUE)
		goto out;
	enum sasl_result sr = sasl_server_step(l->sasl, response, challenge_r, error_r);
	if (sr != SASL_CONTINUE) {
		/* a wrong proof, or a proof step that does not add up (a
		 * channel binding that differs): both count as failures */
		r = check_failed(l, &t, user);
		if (!sasl_server_rejected(l->sasl))
			r = LOGIN_MALFORMED;
		goto out;
	}
	/* the keys are those of an enabled user (store_scram_keys_get) */
	if (store_user_get_by_id(l->st, l->keys.user_id, &l->user, &error) != STORE_OK) {
		r = check_error(l, &t, error);
		goto out;
	}
	(void)throttle_end(&t, true);
	/* the user is known; the client's empty answer to server-final
	 * completes the exchange */
	l->have_user = true;
	r = LOGIN_CONTINUE;
out:
	free(user);
	return r;
}

enum login_status
login_step(struct login *l, const char *response, const char **challenge_r,
	   const char **error_r)
{
	*challenge_r = "";
	*error_r = NULL;
	if (sasl_server_expects_proof(l->sasl))
		return scram_proof(l, response, challenge_r, error_r);
	switch (sasl_server_step(l->sasl, response, challenge_r, error_r)) {
	case SASL_CONTINUE:
		return LOGIN_CONTINUE;
	case SASL_NEED_KEYS:
		return scram_keys(l, challenge_r, error_r);
	case SASL_FAIL:
		return LOGIN_MALFORMED;
	case SASL_DONE:
		break;
	}
	if (sasl_server_is_scram(l->sasl)) {
		int i = sasl_server_scram_match(l->sasl);
		if (!l->have_user || i < 0)
			panic("login: SCRAM done without a user");
		return logged_in(l, l->keys.app_ids[i]);
	}
	const char *user = sasl_server_user(l->sasl);
	const char *authzid = sasl_server_authzid(l->sasl);
	/* no acting for another user: the authorization identity, if any,
	 * must be the user itself */
	if (authzid[0] != '\0' && !str_eq_nocase(authzid, user))
		return LOGIN_AUTHZ;
	return check_password(l, user, sasl_server_password(l->sasl));
}

enum login_status
login_password(struct store *st, const struct login_params *p, const char *user,
	       const char *password, struct store_user *user_r)
{
	struct login l = { .st = st, .p = *p, .mechanism = "password" };

	memset(user_r, 0, sizeof *user_r);
	enum login_status r = check_password(&l, user, password);
	if (r == LOGIN_OK)
		login_take_user(&l, user_r);
	store_user_clear(&l.user);
	return r;
}
