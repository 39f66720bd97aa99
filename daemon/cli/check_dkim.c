/*
 * cli/check_dkim.c: `mailhub check-dkim [FILE]` (see check_cli.h).
 *
 * Verifies the DKIM signatures and the ARC chain of a message file (or of
 * standard input) with the daemon's verifiers and resolver, and prints one
 * line per signature, the ARC verdict and the Authentication-Results field
 * the daemon would add.  The exit status is 0 whatever the verdicts (1 only
 * when the message cannot be read or DNS cannot be used).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/check_cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/dns.h"
#include "core/dns_cache.h"
#include "core/limits.h"
#include "core/log.h"
#include "trust/arc.h"
#include "trust/authres.h"
#include "trust/dkim_verify.h"
#include "trust/dns_source.h"

/* "dkim=pass d=example.org s=sel a=rsa-sha256 b=abcdefgh bits=2048
 * reason="good signature"", with l= and t=y when they apply. */
static void
print_signature(const struct dkim_sig_result *r)
{
	printf("dkim=%s", dkim_status_name(r->status));
	if (r->domain != NULL)
		printf(" d=%s", esc_str(r->domain));
	if (r->selector != NULL)
		printf(" s=%s", esc_str(r->selector));
	if (r->identity != NULL)
		printf(" i=%s", esc_str(r->identity));
	if (r->algorithm != NULL)
		printf(" a=%s", esc_str(r->algorithm));
	if (r->b != NULL)
		printf(" b=%.8s", esc_str(r->b));
	if (r->key_bits > 0)
		printf(" bits=%u", r->key_bits);
	if (r->length_limited)
		printf(" l=%llu/%llu", (unsigned long long)r->length,
		       (unsigned long long)r->body_length);
	if (r->testing)
		printf(" testing");
	printf(" reason=\"%s\"\n", r->reason != NULL ? r->reason : "");
}

/* The header field as the daemon would prepend it, its lines unfolded
 * onto separate output lines (without CR). */
static void
print_authres(const char *host, const struct dkim_verify *v, const struct arc_verify *a)
{
	size_t n = dkim_verify_count(v);
	struct authres_result results[DKIM_VERIFY_SIGS_MAX + 1];
	const struct dkim_sig_result *sigs[DKIM_VERIFY_SIGS_MAX];
	for (size_t i = 0; i < n; i++)
		sigs[i] = dkim_verify_result(v, i);
	size_t prefix = authres_dkim_b_prefix(sigs, n);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		authres_from_dkim(sigs[i], prefix, &results[k++]);
	if (arc_verify_result(a)->status != ARC_NONE)
		authres_from_arc(arc_verify_result(a), &results[k++]);
	struct buf out = BUF_INIT;
	authres_build(&out, host, results, k);
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] != '\r')
			putchar(out.data[i]);
	for (size_t i = 0; i < k; i++)
		authres_result_free(&results[i]);
	buf_free(&out);
}

int
cmd_check_dkim(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	const char *error;
	int ret = cli_parse_args("check-dkim", argc, argv, 1, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	const char *path = n_pos > 0 ? pos[0] : "-";
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot open '%s': %s", esc_str(path), strerror(errno));
		return CLI_FAIL;
	}
	struct dns_resolver *r = dns_resolver_new(ctx->cfg->dns_resolver, &error);
	if (r == NULL) {
		cli_error("%s", error);
		if (fd != STDIN_FILENO)
			close(fd);
		return CLI_FAIL;
	}
	/* a cache for this run, as the daemon has: ARC seals and signatures
	 * often share a key */
	struct dns_cache *cache = dns_cache_new(64, 1 << 20);
	dns_resolver_set_cache(r, cache);
	struct dns_source src = dns_source_resolver(r);
	struct dkim_verify *v = NULL;
	struct arc_verify *a = NULL;
	ret = dkim_verify_fd(fd, (int64_t)time(NULL), &src, &v, &a, &error);
	if (fd != STDIN_FILENO)
		close(fd);
	if (ret < 0) {
		cli_error("%s: %s", esc_str(path), error);
		dns_resolver_free(&r);
		dns_cache_free(&cache);
		return CLI_FAIL;
	}
	if (dkim_verify_count(v) == 0)
		printf("dkim=none reason=\"no DKIM-Signature\"\n");
	for (size_t i = 0; i < dkim_verify_count(v); i++)
		print_signature(dkim_verify_result(v, i));
	if (dkim_verify_skipped(v) > 0)
		printf("not checked: %zu more signatures (at most %d are)\n", dkim_verify_skipped(v),
		       DKIM_VERIFY_SIGS_MAX);
	const struct arc_result *ar = arc_verify_result(a);
	printf("arc=%s", arc_status_name(ar->status));
	if (ar->instances > 0)
		printf(" i=%u", ar->instances);
	if (ar->domain != NULL)
		printf(" d=%s", esc_str(ar->domain));
	printf(" reason=\"%s\"\n", ar->reason != NULL ? ar->reason : "");
	print_authres(ctx->cfg->hostname, v, a);
	dkim_verify_free(&v);
	arc_verify_free(&a);
	dns_resolver_free(&r);
	dns_cache_free(&cache);
	return CLI_OK;
}
