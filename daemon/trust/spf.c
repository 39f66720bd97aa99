/*
 * spf: check_host() of RFC 7208 as a state machine (see spf.h).
 *
 * The machine holds a stack of frames, one per record being evaluated:
 * the top-level domain's, and one more for each include (§5.2) in
 * progress; redirect (§6.1) replaces the frame whose record it ends.  One
 * step evaluates one term of the innermost frame.  A frame that ends
 * hands its result to the include that made it, or is the answer.  An
 * error (temperror, permerror) ends the whole check (§4.6.4, §5.2).
 */
#include "trust/spf.h"

#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "trust/spf_int.h"

/* One include per lookup, plus the top: deeper is over the limit. */
#define FRAMES_MAX (SPF_LOOKUPS_MAX + 2)

struct frame {
	char *domain;		/* %{d}: the domain whose record this is */
	struct spf_record rec;
	size_t next;		/* the next term to evaluate */
};

struct spf_eval {
	const struct dns_source *dns;
	const struct spf_request *req;
	struct spf_verdict *v;
	struct spf_macro_env env;
	char *local, *sender_domain;
	char *ptr_name;		/* %{p}, once looked up */
	struct frame frames[FRAMES_MAX];
	size_t depth;
	/* set when the check ends in an error */
	enum spf_result error;
	char *problem;
};

enum term_outcome {
	TERM_NOMATCH,
	TERM_MATCH,
	TERM_PUSHED,	/* include: a new frame to evaluate first */
	TERM_ERROR,	/* e->error says which */
};

static const char *const result_names[] = {
	[SPF_NONE] = "none",	     [SPF_NEUTRAL] = "neutral",	    [SPF_PASS] = "pass",
	[SPF_FAIL] = "fail",	     [SPF_SOFTFAIL] = "softfail",   [SPF_TEMPERROR] = "temperror",
	[SPF_PERMERROR] = "permerror",
};

const char *
spf_result_name(enum spf_result r)
{
	if ((unsigned)r >= sizeof result_names / sizeof result_names[0])
		return "none";
	return result_names[r];
}

void
spf_verdict_free(struct spf_verdict *v)
{
	xfree(v->sender);
	xfree(v->domain);
	xfree(v->mechanism);
	xfree(v->explanation);
	xfree(v->problem);
}

/* Ends the check in an error; problem may be errfmt()'s, so it is copied
 * before anything else can reuse its slot. */
static void
fail_with(struct spf_eval *e, enum spf_result r, const char *problem)
{
	if (e->error == SPF_NONE) {
		e->error = r;
		e->problem = xstrdup(problem);
	}
}

/* ---- DNS, counted --------------------------------------------------------- */

/* §4.6.4: a term that causes DNS queries. */
static bool
count_lookup(struct spf_eval *e)
{
	if (++e->v->lookups > SPF_LOOKUPS_MAX) {
		fail_with(e, SPF_PERMERROR, "more than 10 DNS-querying terms");
		return false;
	}
	return true;
}

/* One query; false when the check must end (temperror, or the void
 * limit).  An empty answer or NXDOMAIN counts as a void lookup
 * (§4.6.4) unless count_void is false. */
static bool
ask(struct spf_eval *e, const char *name, enum dns_type type, struct dns_answer *ans,
    bool count_void)
{
	int st = dns_source_query(e->dns, name, type, ans);
	if (st == DNS_TEMPFAIL || st == DNS_ERROR) {
		fail_with(e, SPF_TEMPERROR,
			  errfmt("DNS %s lookup of %s failed", dns_type_name(type), esc_str(name)));
		dns_answer_free(ans);
		return false;
	}
	if (st != DNS_OK && count_void && ++e->v->void_lookups > SPF_VOID_MAX) {
		fail_with(e, SPF_PERMERROR, "more than 2 void DNS lookups");
		return false;
	}
	return true;
}

/* The client's address family as a DNS type. */
static enum dns_type
addr_type(const struct spf_eval *e)
{
	return e->req->ip.family == AF_INET ? DNS_T_A : DNS_T_AAAA;
}

/* Whether an A/AAAA answer holds an address in the client's network of
 * the given prefix. */
static bool
answer_matches(const struct spf_eval *e, const struct dns_answer *ans, unsigned prefix)
{
	for (size_t i = 0; i < ans->n; i++)
		if (ip_addr_in_net(&e->req->ip, ans->rr[i].addr, e->req->ip.family, prefix))
			return true;
	return false;
}

/*
 * §4.4 and §4.5: the SPF record of domain into *rec.  0 when there is
 * one; otherwise the result it leads to in *r: none (no record, no such
 * domain, a name DNS cannot carry), temperror, or permerror (two records,
 * a syntax error).
 */
static int
fetch_record(struct spf_eval *e, const char *domain, struct spf_record *rec,
	     enum spf_result *r)
{
	memset(rec, 0, sizeof *rec);
	if (!spf_name_ok(domain)) {
		*r = SPF_NONE;
		return -1;
	}
	struct dns_answer ans;
	if (!ask(e, domain, DNS_T_TXT, &ans, true)) {
		*r = e->error;
		return -1;
	}
	const struct dns_rr *found = NULL;
	for (size_t i = 0; i < ans.n; i++) {
		if (!spf_record_is_spf(ans.rr[i].text, ans.rr[i].text_len))
			continue;
		if (found != NULL) {
			dns_answer_free(&ans);
			fail_with(e, SPF_PERMERROR,
				  errfmt("%s has more than one SPF record", esc_str(domain)));
			*r = SPF_PERMERROR;
			return -1;
		}
		found = &ans.rr[i];
	}
	if (found == NULL) {
		dns_answer_free(&ans);
		*r = SPF_NONE;
		return -1;
	}
	const char *error;
	int ret = spf_record_parse(found->text, found->text_len, rec, &error);
	dns_answer_free(&ans);
	if (ret < 0) {
		fail_with(e, SPF_PERMERROR, errfmt("%s: %s", esc_str(domain), error));
		*r = SPF_PERMERROR;
		return -1;
	}
	return 0;
}

/* ---- the validated names of the client (ptr, %{p}) ------------------------ */

/*
 * §5.5: the names of the client's PTR records (the first 10, §4.6.4)
 * whose addresses include the client.  A failed PTR lookup gives no
 * names; a name whose address lookup fails is skipped.  false when the
 * check must end (the void limit).
 */
static bool
validated_names(struct spf_eval *e, char ***names_r, size_t *n_r)
{
	*names_r = NULL;
	*n_r = 0;
	struct buf rev = BUF_INIT;
	ip_addr_reverse_name(&rev, &e->req->ip);
	struct dns_answer ptr;
	int st = dns_source_query(e->dns, buf_cstr(&rev), DNS_T_PTR, &ptr);
	buf_free(&rev);
	if (st == DNS_TEMPFAIL || st == DNS_ERROR)
		return true;
	if (st != DNS_OK) {
		if (++e->v->void_lookups > SPF_VOID_MAX) {
			fail_with(e, SPF_PERMERROR, "more than 2 void DNS lookups");
			return false;
		}
		return true;
	}
	bool go_on = true;
	size_t n = ptr.n < SPF_NAMES_MAX ? ptr.n : SPF_NAMES_MAX;
	char **names = xreallocarray(NULL, n > 0 ? n : 1, sizeof *names);
	size_t k = 0;
	for (size_t i = 0; i < n && go_on; i++) {
		const char *name = ptr.rr[i].text;
		if (!spf_name_ok(name))
			continue;
		struct dns_answer a;
		st = dns_source_query(e->dns, name, addr_type(e), &a);
		if (st == DNS_OK) {
			if (answer_matches(e, &a, e->req->ip.family == AF_INET ? 32 : 128))
				names[k++] = xstrdup(name);
		} else if (st != DNS_TEMPFAIL && st != DNS_ERROR &&
			   ++e->v->void_lookups > SPF_VOID_MAX) {
			fail_with(e, SPF_PERMERROR, "more than 2 void DNS lookups");
			go_on = false;
		}
		dns_answer_free(&a);
	}
	dns_answer_free(&ptr);
	*names_r = names;
	*n_r = k;
	return go_on;
}

static void
names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* name is target or a name below it (case does not matter). */
static bool
at_or_below(const char *name, const char *target)
{
	size_t nl = strlen(name), tl = strlen(target);
	if (nl == tl)
		return str_eq_nocase(name, target);
	return nl > tl && name[nl - tl - 1] == '.' && str_eq_nocase(name + nl - tl, target);
}

/* %{p} (§7.3): the current domain if validated, else a validated name
 * below it, else any validated name, else "unknown". */
static const char *
ptr_name(void *ctx)
{
	struct spf_eval *e = ctx;
	if (e->ptr_name != NULL)
		return e->ptr_name;
	char **names;
	size_t n;
	(void)validated_names(e, &names, &n);
	const char *pick = NULL;
	for (size_t i = 0; i < n && pick == NULL; i++)
		if (str_eq_nocase(names[i], e->env.domain))
			pick = names[i];
	for (size_t i = 0; i < n && pick == NULL; i++)
		if (at_or_below(names[i], e->env.domain))
			pick = names[i];
	if (pick == NULL && n > 0)
		pick = names[0];
	e->ptr_name = xstrdup(pick != NULL ? pick : "unknown");
	names_free(names, n);
	return e->ptr_name;
}

/* ---- the mechanisms (§5) --------------------------------------------------- */

/* The target name of a term: its domain-spec expanded, or the current
 * domain. */
static char *
target_of(struct spf_eval *e, const struct spf_term *t)
{
	if (t->domain_spec == NULL)
		return xstrdup(e->env.domain);
	return spf_domain_expand(t->domain_spec, &e->env);
}

static enum term_outcome
eval_a(struct spf_eval *e, const struct spf_term *t, const char *target)
{
	unsigned prefix = e->req->ip.family == AF_INET ? t->cidr4 : t->cidr6;
	struct dns_answer ans;
	if (!spf_name_ok(target))
		return TERM_NOMATCH;
	if (!ask(e, target, addr_type(e), &ans, true))
		return TERM_ERROR;
	bool match = answer_matches(e, &ans, prefix);
	dns_answer_free(&ans);
	return match ? TERM_MATCH : TERM_NOMATCH;
}

static enum term_outcome
eval_mx(struct spf_eval *e, const struct spf_term *t, const char *target)
{
	unsigned prefix = e->req->ip.family == AF_INET ? t->cidr4 : t->cidr6;
	struct dns_answer mx;
	if (!spf_name_ok(target))
		return TERM_NOMATCH;
	if (!ask(e, target, DNS_T_MX, &mx, true))
		return TERM_ERROR;
	/* §4.6.4: more than 10 MX names to look up is permerror */
	if (mx.n > SPF_NAMES_MAX) {
		dns_answer_free(&mx);
		fail_with(e, SPF_PERMERROR, errfmt("more than 10 MX records for %s", esc_str(target)));
		return TERM_ERROR;
	}
	/* every exchange is looked up before any is matched, so that a
	 * failure anywhere is a temperror whatever the order of the MXs */
	bool match = false;
	for (size_t i = 0; i < mx.n; i++) {
		struct dns_answer a;
		if (!spf_name_ok(mx.rr[i].text))
			continue;
		if (!ask(e, mx.rr[i].text, addr_type(e), &a, true)) {
			dns_answer_free(&mx);
			return TERM_ERROR;
		}
		match = match || answer_matches(e, &a, prefix);
		dns_answer_free(&a);
	}
	dns_answer_free(&mx);
	return match ? TERM_MATCH : TERM_NOMATCH;
}

static enum term_outcome
eval_ptr(struct spf_eval *e, const char *target)
{
	char **names;
	size_t n;
	if (!validated_names(e, &names, &n)) {
		names_free(names, n);
		return TERM_ERROR;
	}
	bool match = false;
	for (size_t i = 0; i < n && !match; i++)
		match = at_or_below(names[i], target);
	names_free(names, n);
	return match ? TERM_MATCH : TERM_NOMATCH;
}

static enum term_outcome
eval_exists(struct spf_eval *e, const char *target)
{
	struct dns_answer ans;
	if (!spf_name_ok(target))
		return TERM_NOMATCH;
	/* §5.7: always an A query, whatever the client's family */
	if (!ask(e, target, DNS_T_A, &ans, true))
		return TERM_ERROR;
	bool match = ans.n > 0;
	dns_answer_free(&ans);
	return match ? TERM_MATCH : TERM_NOMATCH;
}

static void
set_domain(struct spf_eval *e, const char *domain)
{
	e->env.domain = domain;
}

/* Starts evaluating domain's record in a new frame (include). */
static enum term_outcome
push_include(struct spf_eval *e, const char *target)
{
	if (e->depth >= FRAMES_MAX) {
		fail_with(e, SPF_PERMERROR, "includes nested too deep");
		return TERM_ERROR;
	}
	struct frame *f = &e->frames[e->depth];
	enum spf_result r;
	if (fetch_record(e, target, &f->rec, &r) < 0) {
		/* §5.2: an included domain without a record is permerror */
		if (r == SPF_NONE)
			fail_with(e, SPF_PERMERROR,
				  errfmt("included domain %s has no SPF record", esc_str(target)));
		return TERM_ERROR;
	}
	f->domain = xstrdup(target);
	f->next = 0;
	e->depth++;
	set_domain(e, f->domain);
	return TERM_PUSHED;
}

static enum term_outcome
eval_term(struct spf_eval *e, const struct spf_term *t)
{
	switch (t->mech) {
	case SPF_M_ALL:
		return TERM_MATCH;
	case SPF_M_IP4:
		return ip_addr_in_net(&e->req->ip, t->net, AF_INET, t->cidr4) ? TERM_MATCH
									       : TERM_NOMATCH;
	case SPF_M_IP6:
		return ip_addr_in_net(&e->req->ip, t->net, AF_INET6, t->cidr6) ? TERM_MATCH
										: TERM_NOMATCH;
	default:
		break;
	}
	if (!count_lookup(e))
		return TERM_ERROR;
	char *target = target_of(e, t);
	/* %{p} may have gone over the void limit while expanding */
	if (e->error != SPF_NONE) {
		free(target);
		return TERM_ERROR;
	}
	enum term_outcome out = TERM_NOMATCH;
	switch (t->mech) {
	case SPF_M_INCLUDE:
		out = push_include(e, target);
		break;
	case SPF_M_A:
		out = eval_a(e, t, target);
		break;
	case SPF_M_MX:
		out = eval_mx(e, t, target);
		break;
	case SPF_M_PTR:
		out = eval_ptr(e, target);
		break;
	case SPF_M_EXISTS:
		out = eval_exists(e, target);
		break;
	default:
		break;
	}
	free(target);
	return out;
}

/* ---- the machine ----------------------------------------------------------- */

static void
frame_clear(struct frame *f)
{
	xfree(f->domain);
	spf_record_free(&f->rec);
	f->next = 0;
}

/* §6.1: the frame's record ended without a match and has redirect=: the
 * frame continues with the target's record.  false on an error. */
static bool
follow_redirect(struct spf_eval *e, struct frame *f)
{
	if (!count_lookup(e))
		return false;
	char *target = spf_domain_expand(f->rec.redirect, &e->env);
	struct spf_record rec;
	enum spf_result r;
	if (e->error != SPF_NONE) {
		free(target);
		return false;
	}
	if (fetch_record(e, target, &rec, &r) < 0) {
		if (r == SPF_NONE)
			fail_with(e, SPF_PERMERROR,
				  errfmt("redirect domain %s has no SPF record", esc_str(target)));
		free(target);
		return false;
	}
	frame_clear(f);
	f->rec = rec;
	f->domain = target;
	set_domain(e, f->domain);
	return true;
}

/* Runs frames until the top one has a result; *term_r is the top frame's
 * term that decided (NULL: none did). */
static enum spf_result
run(struct spf_eval *e, const struct spf_term **term_r)
{
	*term_r = NULL;
	for (;;) {
		struct frame *f = &e->frames[e->depth - 1];
		enum spf_result result;
		const struct spf_term *decided = NULL;
		if (f->next < f->rec.n) {
			const struct spf_term *t = &f->rec.terms[f->next];
			enum term_outcome out = eval_term(e, t);
			if (out == TERM_ERROR)
				return e->error;
			if (out == TERM_PUSHED)
				continue;
			if (out == TERM_NOMATCH) {
				f->next++;
				continue;
			}
			result = t->qualifier;
			decided = t;
		} else if (f->rec.redirect != NULL) {
			if (!follow_redirect(e, f))
				return e->error;
			continue;
		} else {
			/* §4.7: no match, no redirect */
			result = SPF_NEUTRAL;
		}
		/* The frame has its result: hand it to the include that made
		 * the frame.  §5.2: the include matches when the result is
		 * pass, and a match ends the parent's frame in turn. */
		for (;;) {
			if (e->depth == 1) {
				*term_r = decided;
				return result;
			}
			frame_clear(&e->frames[e->depth - 1]);
			e->depth--;
			struct frame *parent = &e->frames[e->depth - 1];
			set_domain(e, parent->domain);
			if (result != SPF_PASS) {
				parent->next++;
				break;
			}
			decided = &parent->rec.terms[parent->next];
			result = decided->qualifier;
		}
	}
}

/* The explanation of a fail (§6.2): the exp= of the record that decided,
 * its TXT record expanded; nothing when any step fails. */
static char *
explanation(struct spf_eval *e, const struct frame *top)
{
	if (top->rec.exp == NULL)
		return NULL;
	char *name = spf_domain_expand(top->rec.exp, &e->env);
	struct dns_answer ans;
	char *text = NULL;
	const char *error;
	/* not a term that counts (§4.6.4), nor a void lookup */
	if (spf_name_ok(name) && dns_source_query(e->dns, name, DNS_T_TXT, &ans) == DNS_OK) {
		if (ans.n == 1 && strlen(ans.rr[0].text) == ans.rr[0].text_len &&
		    spf_macro_check(ans.rr[0].text, ans.rr[0].text_len, true, &error) == 0) {
			struct buf out;
			buf_init(&out, SPF_EXPLANATION_MAX);
			if (spf_macro_expand(&out, ans.rr[0].text, &e->env) == 0)
				text = buf_steal(&out);
			buf_free(&out);
		}
		dns_answer_free(&ans);
	}
	free(name);
	return text;
}

/* §4.3: a domain check_host() can look at: labels of 1 to 63 bytes, at
 * least two of them (a trailing dot aside). */
static bool
domain_ok(const char *domain)
{
	size_t l = strlen(domain);
	char *d = xstrndup(domain, l > 0 && domain[l - 1] == '.' ? l - 1 : l);
	bool ok = spf_name_ok(d) && strchr(d, '.') != NULL;
	free(d);
	return ok;
}

enum spf_result
spf_check_host(const struct dns_source *dns, const struct spf_request *req, const char *domain,
	       const char *sender, enum spf_identity identity, struct spf_verdict *v)
{
	struct spf_eval e;
	memset(&e, 0, sizeof e);
	memset(v, 0, sizeof *v);
	e.dns = dns;
	e.req = req;
	e.v = v;
	v->identity = identity;
	v->domain = xstrdup(domain);
	v->sender = sender != NULL ? xstrdup(sender) : xasprintf("postmaster@%s", domain);
	/* §4.3: no local part is "postmaster"; the domain is after the
	 * last "@" */
	const char *at = strrchr(v->sender, '@');
	e.local = at != NULL && at > v->sender ? xstrndup(v->sender, (size_t)(at - v->sender))
					       : xstrdup("postmaster");
	e.sender_domain = xstrdup(at != NULL ? at + 1 : v->sender);
	e.env.sender = v->sender;
	e.env.local = e.local;
	e.env.sender_domain = e.sender_domain;
	e.env.helo = req->helo != NULL ? req->helo : "";
	e.env.ip = &req->ip;
	e.env.receiver = req->receiver;
	e.env.now = req->now;
	e.env.ptr_name = ptr_name;
	e.env.ctx = &e;

	enum spf_result r;
	const struct spf_term *decided = NULL;
	struct frame *top = &e.frames[0];
	if (req->ip.family != AF_INET && req->ip.family != AF_INET6) {
		r = SPF_PERMERROR;
		fail_with(&e, r, "no client address");
	} else if (!domain_ok(domain)) {
		r = SPF_NONE;
	} else if (fetch_record(&e, domain, &top->rec, &r) == 0) {
		top->domain = xstrdup(domain);
		e.depth = 1;
		set_domain(&e, top->domain);
		r = run(&e, &decided);
		if (decided != NULL)
			v->mechanism = xstrdup(decided->text);
		if (r == SPF_FAIL && e.depth >= 1)
			v->explanation = explanation(&e, &e.frames[0]);
	}
	v->result = r;
	if (r == SPF_TEMPERROR || r == SPF_PERMERROR) {
		v->problem = e.problem;
		e.problem = NULL;
	}
	free(e.problem);
	for (size_t i = 0; i < FRAMES_MAX; i++)
		frame_clear(&e.frames[i]);
	free(e.local);
	free(e.sender_domain);
	free(e.ptr_name);
	return r;
}

enum spf_result
spf_check(const struct dns_source *dns, const struct spf_request *req, struct spf_verdict *v)
{
	const char *sender = req->sender != NULL ? req->sender : "";
	const char *helo = req->helo != NULL ? req->helo : "";
	if (sender[0] == '\0') {
		/* §2.4: the null sender: check "postmaster@HELO" */
		return spf_check_host(dns, req, helo, NULL, SPF_ID_HELO, v);
	}
	const char *at = strrchr(sender, '@');
	return spf_check_host(dns, req, at != NULL ? at + 1 : sender, sender, SPF_ID_MAILFROM, v);
}
