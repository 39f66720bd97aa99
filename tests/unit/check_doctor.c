/* Unit tests for doctor/doctor.c over DNS answers from a table
 * (trust/dns_source.h): each domain check names what is wrong, and only
 * that, and a failing lookup is said to be one. */
#include <stdio.h>
#include <string.h>

#include "doctor/doctor.h"
#include "tests/unit/runner.h"

static const char ZONE[] =
	"mail.example.org A 192.0.2.1\n"
	"1.2.0.192.in-addr.arpa PTR mail.example.org\n"
	"good.example MX 10 mail.example.org\n"
	"good.example TXT \"v=spf1 mx -all\"\n"
	"sel._domainkey.good.example TXT \"v=DKIM1; k=ed25519; p=\" \"QUJD REVG\"\n"
	"_dmarc.good.example TXT \"v=DMARC1; p=reject\"\n"
	"twospf.example MX 10 mail.example.org\n"
	"twospf.example TXT \"v=spf1 mx -all\"\n"
	"twospf.example TXT \"v=spf1 a -all\"\n"
	"twospf.example TXT \"google-site-verification=x\"\n"
	"sel._domainkey.twospf.example TXT \"p=QUJDREVG\"\n"
	"_dmarc.twospf.example TXT \"v=DMARC1; p=none\"\n"
	"broken.example MX !TEMPFAIL\n"
	"broken.example TXT !TEMPFAIL\n"
	"sel._domainkey.broken.example TXT !TEMPFAIL\n"
	"_dmarc.broken.example TXT !TEMPFAIL\n";

static const struct doctor_dkim_key KEY = { "sel", "QUJDREVG" };

static void
run(const char *domain, struct doctor_report *r)
{
	struct dns_table *t = dns_table_new();
	const char *error;
	ck_assert_int_eq(dns_table_load(t, ZONE, strlen(ZONE), &error), 0);
	struct dns_source src = dns_table_source(t);
	struct doctor_params p = { .hostname = "mail.example.org", .now = 1700000000 };
	struct doctor_domain d = { domain, &KEY, 1 };
	char a0[] = "192.0.2.1";
	char *addr[] = { a0 };
	doctor_report_init(r);
	doctor_check_domain(&src, &p, &d, addr, 1, r);
	dns_table_free(&t);
}

static const struct doctor_finding *
find(const struct doctor_report *r, const char *check)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->f[i].check, check) == 0)
			return &r->f[i];
	ck_abort_msg("no %s finding", check);
	return NULL;
}

START_TEST(test_good_domain)
{
	struct doctor_report r;
	run("good.example", &r);
	/* the DKIM key split over two strings with a space inside still
	 * matches (RFC 6376 §3.6.2.2: whitespace in p= is ignored) */
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(r.f[i].status == DOCTOR_OK || r.f[i].status == DOCTOR_INFO, "%s: %s",
			      r.f[i].check, r.f[i].text);
	ck_assert_ptr_nonnull(strstr(find(&r, "dmarc")->text, "p=reject"));
	doctor_report_free(&r);
}
END_TEST

START_TEST(test_two_spf_records)
{
	struct doctor_report r;
	run("twospf.example", &r);
	const struct doctor_finding *f = find(&r, "spf");
	ck_assert_int_eq(f->status, DOCTOR_FAIL);
	ck_assert_ptr_nonnull(strstr(f->text, "has 2 SPF records"));
	/* a DKIM record without v= counts (v= is optional) */
	ck_assert_int_eq(find(&r, "dkim")->status, DOCTOR_OK);
	ck_assert_uint_eq(doctor_report_count(&r, DOCTOR_FAIL), 1);
	doctor_report_free(&r);
}
END_TEST

START_TEST(test_dns_failure_is_no_verdict)
{
	struct doctor_report r;
	run("broken.example", &r);
	ck_assert_uint_eq(doctor_report_count(&r, DOCTOR_FAIL), 0);
	const char *checks[] = { "mx", "spf", "dkim", "dmarc" };
	for (size_t i = 0; i < 4; i++) {
		const struct doctor_finding *f = find(&r, checks[i]);
		ck_assert_int_eq(f->status, DOCTOR_WARN);
		ck_assert_ptr_nonnull(strstr(f->text, "DNS lookup failed"));
	}
	doctor_report_free(&r);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("doctor");
	TCase *tc = tcase_create("checks");
	tcase_add_test(tc, test_good_domain);
	tcase_add_test(tc, test_two_spf_records);
	tcase_add_test(tc, test_dns_failure_is_no_verdict);
	suite_add_tcase(s, tc);
	return s;
}
