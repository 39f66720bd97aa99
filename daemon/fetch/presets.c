/*
 * presets: the providers' settings (see presets.h), as each documents them.
 */
#include "fetch/presets.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xmalloc.h"

static const struct upstream_preset presets[] = {
	{ "gmail", "Gmail", "imap.gmail.com", "pop.gmail.com", "smtp.gmail.com", 465,
	  UPSTREAM_TLS_IMPLICIT, UPSTREAM_AUTH_OAUTH2, "google", "[Gmail]/Sent Mail",
	  "[Gmail]/Spam", "[Gmail]/All Mail",
	  "Connect with Google; the administrator sets up [oauth2_google] once." },
	{ "outlook", "Outlook.com / Microsoft 365", "outlook.office365.com",
	  "outlook.office365.com", "smtp.office365.com", 587, UPSTREAM_TLS_STARTTLS,
	  UPSTREAM_AUTH_OAUTH2, "microsoft", "Sent Items", "Junk Email", NULL,
	  "Connect with Microsoft: passwords are no longer accepted for IMAP and POP." },
	{ "yahoo", "Yahoo Mail", "imap.mail.yahoo.com", "pop.mail.yahoo.com",
	  "smtp.mail.yahoo.com", 465, UPSTREAM_TLS_IMPLICIT, UPSTREAM_AUTH_OAUTH2, "yahoo",
	  "Sent", "Bulk", NULL,
	  "Connect with Yahoo, or use an app password from Yahoo's account security page." },
	{ "icloud", "iCloud Mail", "imap.mail.me.com", NULL, "smtp.mail.me.com", 587,
	  UPSTREAM_TLS_STARTTLS, UPSTREAM_AUTH_PASSWORD, NULL, "Sent Messages", "Junk", NULL,
	  "Use an app-specific password from appleid.apple.com; the username is the "
	  "address before @icloud.com." },
	{ "fastmail", "Fastmail", "imap.fastmail.com", "pop.fastmail.com", "smtp.fastmail.com",
	  465, UPSTREAM_TLS_IMPLICIT, UPSTREAM_AUTH_PASSWORD, NULL, "Sent", "Spam", NULL,
	  "Use an app password from Fastmail's settings (Privacy & Security)." },
	{ "gmx", "GMX", "imap.gmx.net", "pop.gmx.net", "mail.gmx.net", 587,
	  UPSTREAM_TLS_STARTTLS, UPSTREAM_AUTH_PASSWORD, NULL, "Gesendet", "Spamverdacht", NULL,
	  "Turn on POP3/IMAP access in GMX's settings first; then use the GMX password." },
};

#define N_PRESETS (sizeof presets / sizeof presets[0])

const struct upstream_preset *
upstream_preset_find(const char *name)
{
	for (size_t i = 0; i < N_PRESETS; i++) {
		if (name != NULL && strcmp(presets[i].name, name) == 0)
			return &presets[i];
	}
	return NULL;
}

const struct upstream_preset *
upstream_presets(size_t *n_r)
{
	*n_r = N_PRESETS;
	return presets;
}

int
upstream_preset_apply(const struct upstream_preset *p, struct upstream_settings *set,
		      const char **error_r)
{
	const char *host = set->protocol == UPSTREAM_IMAP ? p->imap_host : p->pop3_host;
	if (host == NULL) {
		*error_r = errfmt("%s offers no %s", p->title,
				  upstream_protocol_name(set->protocol));
		return -1;
	}
	free(set->host);
	set->host = xstrdup(host);
	set->tls = UPSTREAM_TLS_IMPLICIT;
	set->port = upstream_default_port(set->protocol, set->tls);
	set->auth = p->auth;
	free(set->provider);
	set->provider = p->provider != NULL ? xstrdup(p->provider) : NULL;
	return 0;
}
