/*
 * psl: organisational domains through libpsl (see psl.h).
 */
#include "trust/psl.h"

#include <libpsl.h>
#include <pthread.h>
#include <string.h>

#include "core/buf.h"
#include "core/dns.h"
#include "core/log.h"
#include "core/xmalloc.h"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* loaded once, never changed, kept for the life of the process */
static const psl_ctx_t *psl;

static void
load(void)
{
	psl_ctx_t *latest = psl_latest(NULL);
	if (latest != NULL) {
		psl = latest;
		return;
	}
	/* no system list: the copy built into libpsl */
	log_msg(LOG_LEVEL_WARNING, "psl: no Public Suffix List file (Debian package publicsuffix); "
				   "using libpsl's built-in list");
	psl = psl_builtin();
}

char *
psl_org_domain(const char *domain)
{
	pthread_once(&load_once, load);
	char *name = dns_name_canon(domain, strlen(domain));
	const char *reg = psl != NULL ? psl_registrable_domain(psl, name) : NULL;
	if (reg == NULL || reg == name)
		return name;
	char *org = xstrdup(reg);
	free(name);
	return org;
}
