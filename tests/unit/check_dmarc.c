/* Unit tests for trust/dmarc and trust/psl: the record's syntax (RFC 7489
 * §6.3, §6.4), policy discovery (§6.6.3), alignment (§3.1) against the
 * Public Suffix List, p/sp, pct sampling (§6.6.4), and the
 * Authentication-Results piece. */
#include <stdio.h>
#include <string.h>

#include "trust/dmarc.h"
#include "trust/psl.h"
#include "tests/unit/runner.h"

START_TEST(test_psl)
{
	static const struct {
		const char *in, *org;
	} cases[] = {
		{ "example.com", "example.com" },
		{ "Mail.Example.COM.", "example.com" },
		{ "a.b.example.co.uk", "example.co.uk" },
		{ "example.co.uk", "example.co.uk" },
		{ "co.uk", "co.uk" },
		{ "com", "com" },
		/* not in the list: the implicit "*" rule */
		{ "a.b.example.test", "example.test" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *org = psl_org_domain(cases[i].in);
		if (strcmp(org, cases[i].org) != 0)
			ck_abort_msg("%s: %s, not %s", cases[i].in, org, cases[i].org);
		free(org);
	}
}
END_TEST

static int
parse(const char *text, struct dmarc_record *rec)
{
	const char *error = NULL;
	return dmarc_record_parse(text, strlen(text), rec, &error);
}

START_TEST(test_record)
{
	struct dmarc_record r;
	ck_assert_int_eq(parse("v=DMARC1; p=reject", &r), 0);
	ck_assert(r.applies);
	ck_assert_int_eq(r.p, DMARC_POLICY_REJECT);
	ck_assert(!r.has_sp);
	ck_assert_int_eq(r.adkim, DMARC_ALIGN_RELAXED);
	ck_assert_uint_eq(r.pct, 100);
	ck_assert_int_eq(parse(" v = DMARC1 ;p=Quarantine; sp = none;adkim=s; aspf=S ;pct=25;"
			       " rua=mailto:a@example.org!10m, https://r.example/x; ruf=mailto:f@x;"
			       " fo=0:1:d:s; rf=afrf; ri=86400; np=reject; future=x;;",
			       &r),
			 0);
	ck_assert_int_eq(r.p, DMARC_POLICY_QUARANTINE);
	ck_assert(r.has_sp);
	ck_assert_int_eq(r.sp, DMARC_POLICY_NONE);
	ck_assert_int_eq(r.adkim, DMARC_ALIGN_STRICT);
	ck_assert_int_eq(r.aspf, DMARC_ALIGN_STRICT);
	ck_assert_uint_eq(r.pct, 25);
	ck_assert(r.has_rua);
	/* not DMARC records: ignored */
	static const char *const other[] = { "", "v=spf1 -all", "p=reject; v=DMARC1",
					     "v=dmarc1; p=reject", "v=DMARC2; p=reject",
					     "v=DMARC1x; p=reject" };
	for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
		if (parse(other[i], &r) != 1)
			ck_abort_msg("'%s' taken for DMARC", other[i]);
	/* malformed: permerror */
	static const char *const bad[] = {
		"v=DMARC1; p=reject; adkim=x",	   "v=DMARC1; p=reject; aspf=relaxed",
		"v=DMARC1; p=reject; pct=101",	   "v=DMARC1; p=reject; pct=1000",
		"v=DMARC1; p=reject; pct=abc",	   "v=DMARC1; p=reject; pct=-1",
		"v=DMARC1; p=reject; fo=2",	   "v=DMARC1; p=reject; fo=0::1",
		"v=DMARC1; p=reject; ri=1h",	   "v=DMARC1; p=reject; rua=nothing",
		"v=DMARC1; p=reject; rua=mailto:a@b; rua=mailto:c@d",
		"v=DMARC1; p=reject; rf=a f",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (parse(bad[i], &r) != -1)
			ck_abort_msg("'%s' taken", bad[i]);
	/* §6.6.3: no valid p= with a report address is p=none; without,
	 * DMARC does not apply */
	ck_assert_int_eq(parse("v=DMARC1; rua=mailto:r@example.org", &r), 0);
	ck_assert(r.applies);
	ck_assert_int_eq(r.p, DMARC_POLICY_NONE);
	ck_assert_int_eq(parse("v=DMARC1; p=bogus; rua=mailto:r@example.org", &r), 0);
	ck_assert_int_eq(r.p, DMARC_POLICY_NONE);
	ck_assert_int_eq(parse("v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.org", &r), 0);
	ck_assert_int_eq(r.p, DMARC_POLICY_NONE);
	ck_assert(!r.has_sp);
	ck_assert_int_eq(parse("v=DMARC1; p=rej", &r), 0);
	ck_assert(!r.applies);
	ck_assert_int_eq(parse("v=DMARC1", &r), 0);
	ck_assert(!r.applies);
	char big[DMARC_RECORD_MAX + 20];
	memset(big, ' ', sizeof big - 1);
	memcpy(big, "v=DMARC1; p=reject;", 19);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(parse(big, &r), -1);
}
END_TEST

struct fixture {
	struct dns_table *t;
	struct dns_source src;
	struct dmarc_request req;
	struct dmarc_dkim_result dkim[4];
	struct dmarc_verdict v;
};

static const char zone[] =
	"_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine\"\n"
	"_dmarc.strict.com TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n"
	"_dmarc.half.com TXT \"v=DMARC1; p=reject; pct=50\"\n"
	"_dmarc.halfq.com TXT \"v=DMARC1; p=quarantine; pct=50\"\n"
	"_dmarc.own.example.com TXT \"v=DMARC1; p=none\"\n"
	"_dmarc.uk.co.uk TXT \"v=DMARC1; p=reject\"\n"
	"_dmarc.two.com TXT \"v=DMARC1; p=reject\"\n"
	"_dmarc.two.com TXT \"v=DMARC1; p=none\"\n"
	"_dmarc.mixed.com TXT \"hello\"\n"
	"_dmarc.mixed.com TXT \"v=DMARC1; p=quarantine\"\n"
	"_dmarc.broken.com TXT \"v=DMARC1; p=reject; adkim=x\"\n"
	"_dmarc.sub.nop.com TXT \"v=DMARC1; adkim=s\"\n"
	"_dmarc.nop.com TXT \"v=DMARC1; p=reject\"\n"
	"_dmarc.fail.com TXT !TEMPFAIL\n";

static void
setup(struct fixture *f, const char *from)
{
	memset(f, 0, sizeof *f);
	f->t = dns_table_new();
	const char *error;
	ck_assert_int_eq(dns_table_load(f->t, zone, strlen(zone), &error), 0);
	f->src = dns_table_source(f->t);
	f->req.from_domain = from;
	f->req.spf = SPF_NONE;
	f->req.dkim = f->dkim;
}

static void
dkim(struct fixture *f, const char *d, bool pass)
{
	f->dkim[f->req.n_dkim].domain = d;
	f->dkim[f->req.n_dkim].pass = pass;
	f->req.n_dkim++;
}

static enum dmarc_result
run(struct fixture *f)
{
	return dmarc_check(&f->src, &f->req, &f->v);
}

static void
teardown(struct fixture *f)
{
	dmarc_verdict_free(&f->v);
	ck_assert_ptr_null(f->v.from_domain);
	dns_table_free(&f->t);
}

START_TEST(test_alignment)
{
	struct fixture f;
	/* DKIM, relaxed: any name of the same organisational domain */
	setup(&f, "Example.COM");
	dkim(&f, "other.net", true);
	dkim(&f, "mail.example.com", true);
	ck_assert_int_eq(run(&f), DMARC_PASS);
	ck_assert(f.v.dkim_aligned);
	ck_assert(!f.v.spf_aligned);
	ck_assert_str_eq(f.v.from_domain, "example.com");
	ck_assert_str_eq(f.v.org_domain, "example.com");
	ck_assert_str_eq(f.v.record_domain, "example.com");
	ck_assert_int_eq(f.v.disposition, DMARC_POLICY_NONE);
	teardown(&f);
	/* a signature that did not verify does not count */
	setup(&f, "example.com");
	dkim(&f, "example.com", false);
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	ck_assert_int_eq(f.v.disposition, DMARC_POLICY_REJECT);
	teardown(&f);
	/* SPF, relaxed; only a pass counts */
	setup(&f, "example.com");
	f.req.spf = SPF_PASS;
	f.req.spf_domain = "bounces.example.com";
	ck_assert_int_eq(run(&f), DMARC_PASS);
	ck_assert(f.v.spf_aligned);
	teardown(&f);
	setup(&f, "example.com");
	f.req.spf = SPF_SOFTFAIL;
	f.req.spf_domain = "example.com";
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	teardown(&f);
	/* strict: the same name only, either way */
	static const char *const near[] = { "mail.strict.com", "x.strict.com", "com" };
	for (size_t i = 0; i < 3; i++) {
		setup(&f, "strict.com");
		dkim(&f, near[i], true);
		f.req.spf = SPF_PASS;
		f.req.spf_domain = near[i];
		ck_assert_int_eq(run(&f), DMARC_FAIL);
		teardown(&f);
	}
	setup(&f, "strict.com");
	dkim(&f, "STRICT.com.", true);
	ck_assert_int_eq(run(&f), DMARC_PASS);
	teardown(&f);
	/* a public suffix is nobody's organisational domain */
	setup(&f, "example.com");
	dkim(&f, "com", true);
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	teardown(&f);
	setup(&f, "a.uk.co.uk");
	dkim(&f, "co.uk", true);
	f.req.spf = SPF_PASS;
	f.req.spf_domain = "other.co.uk";
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	teardown(&f);
}
END_TEST

START_TEST(test_discovery)
{
	struct fixture f;
	/* a subdomain without a record: the organisational domain's, sp= */
	setup(&f, "news.example.com");
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	ck_assert_str_eq(f.v.record_domain, "example.com");
	ck_assert(f.v.used_sp);
	ck_assert_int_eq(f.v.policy, DMARC_POLICY_QUARANTINE);
	ck_assert_int_eq(f.v.disposition, DMARC_POLICY_QUARANTINE);
	ck_assert_uint_eq(dns_table_queries(f.t), 2);
	teardown(&f);
	/* a subdomain with its own record: that record's p= */
	setup(&f, "own.example.com");
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	ck_assert_str_eq(f.v.record_domain, "own.example.com");
	ck_assert(!f.v.used_sp);
	ck_assert_int_eq(f.v.policy, DMARC_POLICY_NONE);
	teardown(&f);
	/* other TXT records beside it are ignored */
	setup(&f, "mixed.com");
	ck_assert_int_eq(run(&f), DMARC_FAIL);
	ck_assert_int_eq(f.v.policy, DMARC_POLICY_QUARANTINE);
	teardown(&f);
	/* none: no record; two records; no usable p= (and the organisational
	 * domain's record is not looked at then); no From domain */
	static const char *const none[] = { "nothing.org", "two.com", "sub.nop.com", "",
					    "localhost", "a..b.com" };
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		setup(&f, none[i]);
		if (run(&f) != DMARC_NONE)
			ck_abort_msg("%s: %s", none[i], dmarc_result_name(f.v.result));
		ck_assert_int_eq(f.v.disposition, DMARC_POLICY_NONE);
		teardown(&f);
	}
	setup(&f, NULL);
	ck_assert_int_eq(run(&f), DMARC_NONE);
	teardown(&f);
	setup(&f, "broken.com");
	ck_assert_int_eq(run(&f), DMARC_PERMERROR);
	ck_assert_ptr_nonnull(strstr(f.v.problem, "adkim=x"));
	teardown(&f);
	setup(&f, "sub.fail.com");
	ck_assert_int_eq(run(&f), DMARC_TEMPERROR);
	ck_assert_int_eq(f.v.disposition, DMARC_POLICY_NONE);
	teardown(&f);
}
END_TEST

START_TEST(test_sampling)
{
	/* §6.6.4: in the sample (sample < pct) the policy, out of it the next
	 * milder one */
	static const struct {
		const char *from;
		unsigned sample;
		enum dmarc_policy dis;
	} cases[] = {
		{ "half.com", 0, DMARC_POLICY_REJECT },	    { "half.com", 49, DMARC_POLICY_REJECT },
		{ "half.com", 50, DMARC_POLICY_QUARANTINE }, { "half.com", 99, DMARC_POLICY_QUARANTINE },
		{ "halfq.com", 10, DMARC_POLICY_QUARANTINE }, { "halfq.com", 60, DMARC_POLICY_NONE },
		{ "example.com", 99, DMARC_POLICY_REJECT },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fixture f;
		setup(&f, cases[i].from);
		f.req.sample = cases[i].sample;
		ck_assert_int_eq(run(&f), DMARC_FAIL);
		if (f.v.disposition != cases[i].dis)
			ck_abort_msg("%s sample %u: %s", cases[i].from, cases[i].sample,
				     dmarc_policy_name(f.v.disposition));
		teardown(&f);
	}
	/* the sample is the message's: the same key, the same place */
	const char *id = "<1234@example.com>";
	unsigned s = dmarc_sample(id, strlen(id));
	ck_assert_uint_lt(s, 100);
	ck_assert_uint_eq(dmarc_sample(id, strlen(id)), s);
	unsigned seen[100] = { 0 };
	for (int i = 0; i < 2000; i++) {
		char key[32];
		snprintf(key, sizeof key, "<%d@example.com>", i);
		seen[dmarc_sample(key, strlen(key))]++;
	}
	/* and spread over the range */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_gt(seen[i], 0);
}
END_TEST

START_TEST(test_authres)
{
	struct fixture f;
	struct buf b = BUF_INIT;
	setup(&f, "news.example.com");
	run(&f);
	dmarc_authres(&b, &f.v);
	ck_assert_str_eq(buf_cstr(&b),
			 "dmarc=fail (p=quarantine dis=quarantine) header.from=news.example.com");
	teardown(&f);
	buf_reset(&b);
	setup(&f, "broken.com");
	run(&f);
	dmarc_authres(&b, &f.v);
	ck_assert_str_eq(buf_cstr(&b), "dmarc=permerror header.from=broken.com");
	teardown(&f);
	buf_free(&b);
	ck_assert_str_eq(dmarc_result_name(DMARC_TEMPERROR), "temperror");
	ck_assert_str_eq(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("dmarc");
	TCase *tc = tcase_create("dmarc");
	tcase_add_test(tc, test_psl);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_discovery);
	tcase_add_test(tc, test_sampling);
	tcase_add_test(tc, test_authres);
	suite_add_tcase(s, tc);
	return s;
}
