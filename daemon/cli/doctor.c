/*
 * `mailhub doctor [DOMAIN]`: what the world sees of this server, and what
 * to fix (doctor/doctor.h), one finding a line, grouped by domain.
 * Exit status 1 when any check failed, so that a script or a timer can
 * tell.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/seal.h"
#include "doctor/doctor.h"
#include "store/store.h"

/* Where the outbound port 25 probe goes by default: a large provider's
 * MX, which always answers on port 25 when nothing blocks it. */
#define DOCTOR_DEFAULT_PROBE "gmail-smtp-in.l.google.com:25"

static void
print_group(const struct doctor_report *r, const char *domain)
{
	printf("%s\n", domain != NULL ? domain : "this server");
	for (size_t i = 0; i < r->n; i++) {
		const struct doctor_finding *f = &r->f[i];
		if ((domain == NULL) != (f->domain == NULL) ||
		    (domain != NULL && strcmp(domain, f->domain) != 0))
			continue;
		const char *s = doctor_status_name(f->status);
		printf("  %-4s  %-11s %s\n", s, f->check, f->text);
	}
}

int
cmd_doctor(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ "--address", true, false, NULL },
		{ "--probe", true, false, NULL },
		{ "--no-probe", false, false, NULL },
	};
	const char *pos[1];
	size_t n_pos;
	const char *error;
	struct store *st;

	int ret = cli_parse_args("doctor", argc, argv, 1, opts, 3, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (opts[1].seen && opts[2].seen)
		return cli_usage_error("doctor: --probe and --no-probe do not go together");
	const char *probe = opts[2].seen ? NULL : opts[1].seen ? opts[1].value
		: DOCTOR_DEFAULT_PROBE;
	/* the DKIM keys are sealed; without the key they cannot be compared */
	if (seal_key_load(ctx->cfg->data_dir, &error) < 0)
		cli_error("doctor: %s (the DKIM keys cannot be read)", error);
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	struct doctor_report r;
	doctor_report_init(&r);
	ret = doctor_collect(st, ctx->cfg, n_pos > 0 ? pos[0] : NULL,
			     opts[0].seen ? opts[0].value : NULL, probe, &r, &error);
	store_close(&st);
	if (ret != STORE_OK) {
		cli_error("doctor: %s", error);
		doctor_report_free(&r);
		return CLI_FAIL;
	}
	print_group(&r, NULL);
	for (size_t i = 0; i < r.n; i++) {
		bool first = r.f[i].domain != NULL;
		for (size_t k = 0; first && k < i; k++)
			first = r.f[k].domain == NULL || strcmp(r.f[k].domain, r.f[i].domain) != 0;
		if (first)
			print_group(&r, r.f[i].domain);
	}
	size_t fails = doctor_report_count(&r, DOCTOR_FAIL);
	size_t warns = doctor_report_count(&r, DOCTOR_WARN);
	printf("%zu to fix, %zu to consider\n", fails, warns);
	doctor_report_free(&r);
	return fails > 0 ? CLI_FAIL : CLI_OK;
}
