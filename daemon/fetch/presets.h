/*
 * presets: what a household's usual mail providers need (host, port, TLS,
 * how to log in, the OAuth2 provider, the names of their special folders),
 * so that the CLI, the API and the panel can add an account by the
 * provider's name and an address.  Constant data, no state.
 */
#ifndef MAILHUB_FETCH_PRESETS_H
#define MAILHUB_FETCH_PRESETS_H

#include <stddef.h>

#include "store/upstreams.h"

struct upstream_preset {
	const char *name;		/* "gmail" */
	const char *title;		/* "Gmail" */
	const char *imap_host;		/* port 993, implicit TLS */
	const char *pop3_host;		/* port 995, implicit TLS; NULL: no POP3 */
	const char *smtp_host;		/* for the smarthost */
	unsigned smtp_port;
	enum upstream_tls smtp_tls;
	enum upstream_auth auth;	/* what the provider accepts */
	const char *provider;		/* oauth2: the [oauth2_NAME] */
	const char *sent, *junk, *all;	/* special folders (NULL: none) */
	const char *guide;		/* one line for the user, plain words */
};

/* The preset of that name, or NULL. */
const struct upstream_preset *upstream_preset_find(const char *name);
/* All of them, *n_r many. */
const struct upstream_preset *upstream_presets(size_t *n_r);
/* Fills set's protocol-dependent host, port, tls, auth and provider from
 * p (set->protocol chosen first).  -1 with *error_r when p has no server
 * for that protocol. */
int upstream_preset_apply(const struct upstream_preset *p, struct upstream_settings *set,
			  const char **error_r);

#endif
