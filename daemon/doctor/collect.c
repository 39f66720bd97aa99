/*
 * collect: doctor_collect(), the doctor over the store and the config
 * (see doctor.h).
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/dns.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/xmalloc.h"
#include "doctor/doctor.h"
#include "store/relayq.h"
#include "store/store.h"

int
doctor_collect(struct store *st, const struct config *cfg, const char *domain,
	       const char *address, const char *probe, struct doctor_report *report,
	       const char **error_r)
{
	struct store_domain *list = NULL;
	size_t n = 0;
	int ret = store_domain_list(st, &list, &n, error_r);
	if (ret != STORE_OK)
		return ret;
	struct doctor_domain *doms = xcalloc(n + 1, sizeof *doms);
	struct relayq_dkim_key **keys = xcalloc(n + 1, sizeof *keys);
	size_t *n_keys = xcalloc(n + 1, sizeof *n_keys);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (domain != NULL && strcasecmp(domain, list[i].name) != 0)
			continue;
		const char *why;
		/* a key that cannot be read (no seal key here) is left out:
		 * the DKIM check then says there is none to compare */
		if (relayq_dkim_keys(st, list[i].name, false, &keys[m], &n_keys[m], &why) != STORE_OK) {
			keys[m] = NULL;
			n_keys[m] = 0;
		}
		struct doctor_dkim_key *dk = xcalloc(n_keys[m] + 1, sizeof *dk);
		for (size_t k = 0; k < n_keys[m]; k++) {
			dk[k].selector = keys[m][k].selector;
			dk[k].public_key = keys[m][k].public_key;
		}
		doms[m].name = list[i].name;
		doms[m].keys = dk;
		doms[m].n_keys = n_keys[m];
		m++;
	}
	if (domain != NULL && m == 0) {
		*error_r = errfmt("%s is not a local domain", domain);
		ret = STORE_NOTFOUND;
		goto out;
	}
	struct relayq_smarthost sh;
	bool smarthost = relayq_smarthost_get(st, &sh, error_r) == STORE_OK;
	if (smarthost)
		relayq_smarthost_clear(&sh);
	struct buf policy = BUF_INIT;
	char id[17];
	bool publish = relayq_mta_sts_policy(cfg, &policy, id);
	buf_free(&policy);
	char *cert = cfg->tls_cert != NULL ? xstrdup(cfg->tls_cert)
		: xasprintf("%s/%s", cfg->data_dir, TLS_SELFSIGNED_CERT);
	struct doctor_params p = {
		.hostname = cfg->hostname != NULL ? cfg->hostname : "localhost",
		.address = address,
		.mta_sts_id = publish ? id : NULL,
		.cert_path = cert,
		.sni_dir = cfg->tls_sni,
		.probe = probe,
		.smarthost = smarthost,
		.now = time(NULL),
	};
	struct dns_resolver *res = dns_resolver_new(cfg->dns_resolver, error_r);
	if (res == NULL) {
		free(cert);
		ret = STORE_ERROR;
		goto out;
	}
	struct dns_source src = dns_source_resolver(res);
	doctor_run(&src, &p, doms, m, report);
	dns_resolver_free(&res);
	free(cert);
	ret = STORE_OK;
out:
	for (size_t i = 0; i < m; i++) {
		free((void *)doms[i].keys);
		relayq_dkim_keys_free(&keys[i], n_keys[i]);
	}
	free(doms);
	free(keys);
	free(n_keys);
	store_domain_list_free(&list, n);
	return ret;
}
