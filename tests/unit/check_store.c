/* Unit tests for the store: domains, users, aliases, resolution, mailboxes,
 * tokens and change notification. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/authcache.h"
#include "core/hash.h"
#include "core/password.h"
#include "store/blob.h"
#include "store/store_int.h"
#include "tests/unit/store_test.h"

#include <stddef.h>
#include <time.h>

static int64_t
store_test_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define CATCH_LOOP_MSG "would loop"

static bool
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

START_TEST(test_validation)
{
	ck_assert(store_domain_name_valid("example.org"));
	ck_assert(store_domain_name_valid("a-b.example.org"));
	ck_assert(store_domain_name_valid("localhost"));
	ck_assert(store_domain_name_valid("123.example"));
	ck_assert(!store_domain_name_valid(""));
	ck_assert(!store_domain_name_valid("x..y"));
	ck_assert(!store_domain_name_valid(".x"));
	ck_assert(!store_domain_name_valid("x."));
	ck_assert(!store_domain_name_valid("-x.org"));
	ck_assert(!store_domain_name_valid("x-.org"));
	ck_assert(!store_domain_name_valid("ex_ample.org"));
	ck_assert(!store_domain_name_valid("ex ample.org"));
	char label[70];
	memset(label, 'a', 63);
	snprintf(label + 63, sizeof label - 63, "%s", ".org");
	ck_assert(store_domain_name_valid(label));
	memset(label, 'a', 64);
	snprintf(label + 64, sizeof label - 64, "%s", ".org");
	ck_assert(!store_domain_name_valid(label));
	char longname[300];
	for (int i = 0; i < 127; i++)
		memcpy(longname + 2 * i, "a.", 2);
	memcpy(longname + 254, "a", 2);	/* 255 bytes */
	ck_assert(!store_domain_name_valid(longname));

	ck_assert(store_address_valid("a@example.org"));
	ck_assert(store_address_valid("first.last+tag@example.org"));
	ck_assert(store_address_valid("o'brien!#$%&*/=?^_`{|}~-@example.org"));
	ck_assert(!store_address_valid("example.org"));
	ck_assert(!store_address_valid("@example.org"));
	ck_assert(!store_address_valid("a@"));
	ck_assert(!store_address_valid("a@b@example.org"));
	ck_assert(!store_address_valid(".a@example.org"));
	ck_assert(!store_address_valid("a.@example.org"));
	ck_assert(!store_address_valid("a..b@example.org"));
	ck_assert(!store_address_valid("a b@example.org"));
	ck_assert(!store_address_valid("\"a\"@example.org"));
	ck_assert(!store_address_valid("a@x..y"));
	char local[80];
	memset(local, 'l', 65);
	snprintf(local + 65, sizeof local - 65, "%s", "@x.org");
	ck_assert(!store_address_valid(local));
	snprintf(local + 64, sizeof local - 64, "%s", "@x.org");
	ck_assert(store_address_valid(local));
}
END_TEST

START_TEST(test_domains)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	struct store_domain *list;
	size_t n;

	ck_assert_int_eq(store_domain_add(st, "x..y", &error), STORE_INVALID);
	ck_assert_str_eq(error, "invalid domain name 'x..y'");
	ck_assert_int_eq(store_domain_add(st, "Example.ORG", &error), STORE_OK);
	ck_assert_int_eq(store_domain_add(st, "example.org", &error), STORE_EXISTS);
	ck_assert_str_eq(error, "domain 'example.org' exists already");
	ck_assert_int_eq(store_domain_add(st, "b.example", &error), STORE_OK);
	ck_assert_int_eq(store_domain_is_local(st, "EXAMPLE.org"), 1);
	ck_assert_int_eq(store_domain_is_local(st, "other.org"), 0);
	ck_assert_int_eq(store_domain_list(st, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].name, "b.example");
	ck_assert_str_eq(list[1].name, "example.org");	/* lowercased */
	ck_assert_int_gt(list[1].created, 0);
	store_domain_list_free(&list, n);
	ck_assert_ptr_null(list);

	/* in use: refused, nothing removed */
	ck_assert_int_eq(store_user_add(st, "u@example.org", TEST_HASH, false, 0, &error), STORE_OK);
	ck_assert_int_eq(store_domain_del(st, "example.org", &error), STORE_BUSY);
	ck_assert_ptr_nonnull(strstr(error, "example.org"));
	const char *dest[] = { "u@example.org" };
	ck_assert_int_eq(store_alias_add(st, "x@b.example", dest, 1, &error), STORE_OK);
	ck_assert_int_eq(store_domain_del(st, "b.example", &error), STORE_BUSY);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM domains"), 2);
	ck_assert_int_eq(store_alias_del(st, "x@b.example", &error), STORE_OK);
	ck_assert_int_eq(store_domain_del(st, "B.example", &error), STORE_OK);
	ck_assert_int_eq(store_domain_del(st, "b.example", &error), STORE_NOTFOUND);
	ck_assert_str_eq(error, "domain 'b.example' does not exist");
	ck_assert_int_eq(store_domain_is_local(st, "b.example"), 0);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_users)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	struct store_user u;
	struct store_user *list;
	size_t n;
	unsigned count;

	ck_assert_int_eq(store_user_add(st, "a@example.org", TEST_HASH, false, 0, &error), STORE_NOTLOCAL);
	ck_assert_str_eq(error, "domain 'example.org' is not a local domain");
	ck_assert_int_eq(store_domain_add(st, "example.org", &error), STORE_OK);
	ck_assert_int_eq(store_user_add(st, "not an address", TEST_HASH, false, 0, &error), STORE_INVALID);
	ck_assert_str_eq(error, "invalid address 'not an address'");
	ck_assert_int_eq(store_user_add(st, "a@example.org", NULL, false, 0, &error), STORE_INVALID);
	ck_assert_int_eq(store_user_add(st, "A@Example.org", TEST_HASH, true, 5000, &error), STORE_OK);
	ck_assert_int_eq(store_user_add(st, "a@EXAMPLE.ORG", TEST_HASH, false, 0, &error), STORE_EXISTS);
	ck_assert_str_eq(error, "user 'a@example.org' exists already");
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM users"), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM mailboxes"), 6);

	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_str_eq(u.address, "a@example.org");
	ck_assert_str_eq(u.password_hash, TEST_HASH);
	ck_assert(u.admin);
	ck_assert(u.enabled);
	ck_assert_uint_eq(u.quota, 5000);
	ck_assert_uint_eq(u.used, 0);
	int64_t id = u.id;
	store_user_clear(&u);
	ck_assert_int_eq(store_user_get_by_id(st, id, &u, &error), STORE_OK);
	ck_assert_str_eq(u.address, "a@example.org");
	store_user_clear(&u);
	ck_assert_int_eq(store_user_get(st, "nobody@example.org", &u, &error), STORE_NOTFOUND);
	ck_assert_str_eq(error, "user 'nobody@example.org' does not exist");

	/* standard mailboxes with their SPECIAL-USE */
	struct store_mailbox *mbs;
	ck_assert_int_eq(store_mailbox_list(st, id, &mbs, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 6);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(mbs[i].name, "INBOX") == 0 && mbs[i].special_use == NULL)
			found |= 1;
		if (strcmp(mbs[i].name, "Drafts") == 0 && strcmp(mbs[i].special_use, "\\Drafts") == 0)
			found |= 2;
		if (strcmp(mbs[i].name, "Sent") == 0 && strcmp(mbs[i].special_use, "\\Sent") == 0)
			found |= 4;
		if (strcmp(mbs[i].name, "Trash") == 0 && strcmp(mbs[i].special_use, "\\Trash") == 0)
			found |= 8;
		if (strcmp(mbs[i].name, "Junk") == 0 && strcmp(mbs[i].special_use, "\\Junk") == 0)
			found |= 16;
		if (strcmp(mbs[i].name, "Archive") == 0 && strcmp(mbs[i].special_use, "\\Archive") == 0)
			found |= 32;
		ck_assert_uint_eq(mbs[i].uidnext, 1);
		ck_assert(mbs[i].subscribed);
		for (size_t j = 0; j < i; j++)
			ck_assert_uint_ne(mbs[i].uidvalidity, mbs[j].uidvalidity);
	}
	ck_assert_int_eq(found, 63);
	store_mailbox_list_free(&mbs, n);

	/* setters */
	ck_assert_int_eq(store_user_set_password(st, "a@example.org", "{CRYPT}$6$x$y", &error), STORE_OK);
	ck_assert_int_eq(store_user_set_admin(st, "a@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_user_set_quota(st, "A@example.org", 0, &error), STORE_OK);
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_user_set_enabled(st, "zz@example.org", false, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_user_set_password(st, "a@example.org", "", &error), STORE_INVALID);
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_str_eq(u.password_hash, "{CRYPT}$6$x$y");
	ck_assert(!u.admin);
	ck_assert(!u.enabled);
	ck_assert_uint_eq(u.quota, 0);
	store_user_clear(&u);

	ck_assert_int_eq(store_user_add(st, "b@example.org", TEST_HASH, true, 0, &error), STORE_OK);
	ck_assert_int_eq(store_user_list(st, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].address, "a@example.org");
	ck_assert_str_eq(list[1].address, "b@example.org");
	store_user_list_free(&list, n);
	ck_assert_int_eq(store_user_count(st, false, &count, &error), STORE_OK);
	ck_assert_uint_eq(count, 2);
	ck_assert_int_eq(store_user_count(st, true, &count, &error), STORE_OK);
	ck_assert_uint_eq(count, 1);

	/* delete: the user's mailboxes, messages and tokens go too */
	char hash[SHA256_HEX_LEN + 1];
	uint32_t uid;
	char *token;
	ck_assert_int_eq(blob_put(st, "x", 1, hash, &error), STORE_OK);
	ck_assert_int_eq(store_append(st, test_inbox(st, "b@example.org"), hash, 1,
				      1, 0, NULL, false, &uid, &error), STORE_OK);
	ck_assert_int_eq(store_token_create(st, "b@example.org", "t", 0, &token, NULL, &error), STORE_OK);
	free(token);
	ck_assert_int_eq(store_user_del(st, "B@example.org", &error), STORE_OK);
	ck_assert_int_eq(store_user_del(st, "b@example.org", &error), STORE_NOTFOUND);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM users"), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM mailboxes"), 6);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM messages"), 0);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM api_tokens"), 0);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_authenticate)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	const char *error = NULL;
	struct store_user u;
	char *hash;

	ck_assert_int_eq(store_domain_add(st, "example.org", &error), STORE_OK);
	ck_assert_int_eq(password_hash("secret pass", &hash, &error), 0);
	ck_assert_int_eq(store_user_add(st, "a@example.org", hash, false, 0, &error), STORE_OK);
	free(hash);
	ck_assert_int_eq(store_user_authenticate(st, "A@example.org", "secret pass", &u, &error), STORE_OK);
	ck_assert_str_eq(u.address, "a@example.org");
	store_user_clear(&u);

	const char *wrong, *unknown, *disabled;
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "wrong", &u, &error), STORE_NOTFOUND);
	wrong = error;
	ck_assert_ptr_null(u.address);
	ck_assert_int_eq(store_user_authenticate(st, "x@example.org", "secret pass", &u, &error), STORE_NOTFOUND);
	unknown = error;
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "secret pass", &u, &error), STORE_NOTFOUND);
	disabled = error;
	/* one answer for every reason */
	ck_assert_str_eq(wrong, unknown);
	ck_assert_str_eq(wrong, disabled);

	/* the cache of verified passwords (core/authcache.h) */
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", true, &error), STORE_OK);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "secret pass",
							 &u, &error), STORE_OK);
		store_user_clear(&u);
	}
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert(authcache_hit("a@example.org", "secret pass", u.password_hash));
	ck_assert(!authcache_hit("a@example.org", "secret pasS", u.password_hash));
	store_user_clear(&u);
	/* a wrong password is still refused, and is never cached */
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "secret pasS", &u, &error),
			 STORE_NOTFOUND);
	/* disabled: refused though the password is in the cache */
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "secret pass", &u, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_user_set_enabled(st, "a@example.org", true, &error), STORE_OK);
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "secret pass", &u, &error),
			 STORE_OK);
	store_user_clear(&u);
	/* a new password set by another process (`mailhub user passwd`):
	 * this one's cache is not told, the new stored hash is enough */
	ck_assert_int_eq(password_hash("other pass", &hash, &error), 0);
	test_sql(dir, "UPDATE users SET password_hash = '%s' WHERE address = 'a@example.org'",
		 hash);
	free(hash);
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "secret pass", &u, &error),
			 STORE_NOTFOUND);
	ck_assert_int_eq(store_user_authenticate(st, "a@example.org", "other pass", &u, &error),
			 STORE_OK);
	store_user_clear(&u);
	/* a change in this process drops the entries */
	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert(authcache_hit("a@example.org", "other pass", u.password_hash));
	ck_assert_int_eq(store_user_set_password(st, "a@example.org", u.password_hash, &error),
			 STORE_OK);
	ck_assert(!authcache_hit("a@example.org", "other pass", u.password_hash));
	store_user_clear(&u);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_alias_crud)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct store_alias a, *list;
	size_t n;
	const char *two[] = { "A@example.org", "remote@other.net", "a@example.org" };

	ck_assert_int_eq(store_alias_add(st, "Sales@example.org", two, 3, &error), STORE_OK);
	ck_assert_int_eq(store_alias_get(st, "sales@EXAMPLE.org", &a, &error), STORE_OK);
	ck_assert_str_eq(a.source, "sales@example.org");
	ck_assert_uint_eq(a.n_destinations, 2);	/* lowercased, repeats dropped */
	ck_assert_str_eq(a.destinations[0], "a@example.org");
	ck_assert_str_eq(a.destinations[1], "remote@other.net");
	store_alias_clear(&a);

	const char *one[] = { "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "@example.org", one, 1, &error), STORE_OK);
	ck_assert_int_eq(store_alias_list(st, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].source, "@example.org");
	ck_assert_uint_eq(list[0].n_destinations, 1);
	ck_assert_str_eq(list[1].source, "sales@example.org");
	ck_assert_uint_eq(list[1].n_destinations, 2);
	store_alias_list_free(&list, n);

	ck_assert_int_eq(store_alias_set(st, "sales@example.org", one, 1, &error), STORE_OK);
	ck_assert_int_eq(store_alias_get(st, "sales@example.org", &a, &error), STORE_OK);
	ck_assert_uint_eq(a.n_destinations, 1);
	ck_assert_str_eq(a.destinations[0], "b@example.org");
	store_alias_clear(&a);
	ck_assert_int_eq(store_alias_set(st, "nope@example.org", one, 1, &error), STORE_NOTFOUND);

	/* refusals, each leaving the tables as they were */
	long long aliases = test_sql_int(dir, "SELECT count(*) FROM aliases");
	long long dests = test_sql_int(dir, "SELECT count(*) FROM alias_destinations");
	ck_assert_int_eq(store_alias_add(st, "sales@example.org", one, 1, &error), STORE_EXISTS);
	ck_assert_str_eq(error, "alias 'sales@example.org' exists already");
	ck_assert_int_eq(store_alias_add(st, "a@example.org", one, 1, &error), STORE_EXISTS);
	ck_assert_str_eq(error, "'a@example.org' is a user already");
	ck_assert_int_eq(store_alias_add(st, "x@other.net", one, 1, &error), STORE_NOTLOCAL);
	ck_assert_int_eq(store_alias_add(st, "x..y@example.org", one, 1, &error), STORE_INVALID);
	ck_assert_int_eq(store_alias_add(st, "@x..y", one, 1, &error), STORE_INVALID);
	const char *bad[] = { "b@example.org", "not-an-address" };
	ck_assert_int_eq(store_alias_add(st, "x@example.org", bad, 2, &error), STORE_INVALID);
	ck_assert_str_eq(error, "invalid destination 'not-an-address'");
	ck_assert_int_eq(store_alias_add(st, "x@example.org", one, 0, &error), STORE_INVALID);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM aliases"), aliases);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM alias_destinations"), dests);

	/* a user cannot take an alias's address */
	ck_assert_int_eq(store_user_add(st, "sales@example.org", TEST_HASH, false, 0, &error), STORE_EXISTS);
	ck_assert_str_eq(error, "'sales@example.org' is an alias already");

	ck_assert_int_eq(store_alias_del(st, "SALES@example.org", &error), STORE_OK);
	ck_assert_int_eq(store_alias_del(st, "sales@example.org", &error), STORE_NOTFOUND);
	ck_assert_str_eq(error, "alias 'sales@example.org' does not exist");
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM alias_destinations"), 1);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_alias_loops)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;

	/* direct */
	const char *self[] = { "x@example.org" };
	ck_assert_int_eq(store_alias_add(st, "x@example.org", self, 1, &error), STORE_LOOP);
	ck_assert_str_eq(error, "alias 'x@example.org' would loop: x@example.org -> x@example.org");

	/* via a chain: x -> y, y -> z, then z -> x */
	const char *to_y[] = { "y@example.org" }, *to_z[] = { "z@example.org", "a@example.org" };
	const char *to_x[] = { "b@example.org", "x@example.org" };
	ck_assert_int_eq(store_alias_add(st, "x@example.org", to_y, 1, &error), STORE_OK);
	ck_assert_int_eq(store_alias_add(st, "y@example.org", to_z, 2, &error), STORE_OK);
	long long aliases = test_sql_int(dir, "SELECT count(*) FROM aliases");
	long long dests = test_sql_int(dir, "SELECT count(*) FROM alias_destinations");
	ck_assert_int_eq(store_alias_add(st, "z@example.org", to_x, 2, &error), STORE_LOOP);
	ck_assert_ptr_nonnull(strstr(error, "alias 'z@example.org' would loop: "));
	ck_assert_ptr_nonnull(strstr(error, "z@example.org -> x@example.org -> y@example.org -> z@example.org"));
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM aliases"), aliases);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM alias_destinations"), dests);
	/* changing an existing alias into a loop is refused and keeps the old one */
	const char *back[] = { "x@example.org" };
	ck_assert_int_eq(store_alias_set(st, "y@example.org", back, 1, &error), STORE_LOOP);
	struct store_alias a;
	ck_assert_int_eq(store_alias_get(st, "y@example.org", &a, &error), STORE_OK);
	ck_assert_uint_eq(a.n_destinations, 2);
	store_alias_clear(&a);

	/* via the catch-all: unknown@ goes to the catch-all, which sends to
	 * another unknown address of the same domain */
	const char *to_unknown[] = { "nobody@example.org" };
	ck_assert_int_eq(store_alias_add(st, "@example.org", to_unknown, 1, &error), STORE_LOOP);
	ck_assert_ptr_nonnull(strstr(error, "alias '@example.org' would loop"));
	ck_assert_ptr_nonnull(strstr(error, "@example.org -> nobody@example.org -> @example.org"));
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM aliases"), aliases);
	/* a catch-all to a real user is fine */
	const char *to_b[] = { "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "@example.org", to_b, 1, &error), STORE_OK);

	/* a chain deeper than ALIAS_DEPTH_MAX counts as a loop */
	ck_assert_int_eq(store_domain_add(st, "deep.example", &error), STORE_OK);
	char src[64], dst[64];
	for (int i = 0; i < 10; i++) {
		snprintf(src, sizeof src, "d%d@deep.example", i);
		snprintf(dst, sizeof dst, "d%d@deep.example", i + 1);
		const char *d[] = { dst };
		ck_assert_int_eq(store_alias_add(st, src, d, 1, &error), STORE_OK);
	}
	/* d10 -> a user would make d0 eleven deep */
	const char *to_a[] = { "a@example.org" };
	ck_assert_int_eq(store_alias_add(st, "d10@deep.example", to_a, 1, &error), STORE_LOOP);
	ck_assert_ptr_nonnull(strstr(error, "longer than"));
	/* prepending to the chain is refused just as well */
	const char *to_d0[] = { "d0@deep.example" };
	ck_assert_int_eq(store_alias_add(st, "top@deep.example", to_d0, 1, &error), STORE_LOOP);

	/* a diamond is not a loop */
	const char *both[] = { "p@example.org", "q@example.org" };
	ck_assert_int_eq(store_alias_add(st, "p@example.org", to_b, 1, &error), STORE_OK);
	ck_assert_int_eq(store_alias_add(st, "q@example.org", to_b, 1, &error), STORE_OK);
	ck_assert_int_eq(store_alias_add(st, "r@example.org", both, 2, &error), STORE_OK);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_resolve)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct store_resolution r;
	bool owned;

	ck_assert_int_eq(store_user_add(st, "c@example.org", TEST_HASH, false, 0, &error), STORE_OK);
	/* a user */
	ck_assert_int_eq(store_resolve(st, "A@example.org", &r, &error), STORE_OK);
	ck_assert_uint_eq(r.n_users, 1);
	ck_assert_str_eq(r.user_addresses[0], "a@example.org");
	ck_assert_uint_eq(r.n_remote, 0);
	int64_t a_id = r.user_ids[0];
	store_resolution_clear(&r);

	/* unknown, not local, invalid */
	ck_assert_int_eq(store_resolve(st, "x@example.org", &r, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_resolve(st, "x@other.net", &r, &error), STORE_NOTLOCAL);
	ck_assert_int_eq(store_resolve(st, "x", &r, &error), STORE_INVALID);

	/* an alias with several destinations, one remote, one a chain */
	const char *team[] = { "a@example.org", "fwd@example.org", "out@other.net" };
	const char *fwd[] = { "b@example.org", "Out@other.net", "x@third.net" };
	ck_assert_int_eq(store_alias_add(st, "fwd@example.org", fwd, 3, &error), STORE_OK);
	ck_assert_int_eq(store_alias_add(st, "team@example.org", team, 3, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "team@example.org", &r, &error), STORE_OK);
	ck_assert_uint_eq(r.n_users, 2);
	ck_assert_str_eq(r.user_addresses[0], "a@example.org");
	ck_assert_str_eq(r.user_addresses[1], "b@example.org");
	ck_assert_uint_eq(r.n_remote, 2);	/* out@other.net once */
	ck_assert_str_eq(r.remote[0], "out@other.net");
	ck_assert_str_eq(r.remote[1], "x@third.net");
	store_resolution_clear(&r);
	ck_assert_int_eq(store_address_owned_by(st, "team@example.org", a_id, &owned, &error), STORE_OK);
	ck_assert(owned);
	ck_assert_int_eq(store_address_owned_by(st, "c@example.org", a_id, &owned, &error), STORE_OK);
	ck_assert(!owned);
	ck_assert_int_eq(store_address_owned_by(st, "zz@example.org", a_id, &owned, &error), STORE_OK);
	ck_assert(!owned);

	/* catch-all: only when no user and no alias matches */
	const char *to_c[] = { "c@example.org" };
	ck_assert_int_eq(store_alias_add(st, "@example.org", to_c, 1, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "anything@example.org", &r, &error), STORE_OK);
	ck_assert_uint_eq(r.n_users, 1);
	ck_assert_str_eq(r.user_addresses[0], "c@example.org");
	store_resolution_clear(&r);
	ck_assert_int_eq(store_resolve(st, "a@example.org", &r, &error), STORE_OK);
	ck_assert_str_eq(r.user_addresses[0], "a@example.org");
	store_resolution_clear(&r);
	ck_assert_int_eq(store_resolve(st, "fwd@example.org", &r, &error), STORE_OK);
	ck_assert_str_eq(r.user_addresses[0], "b@example.org");
	store_resolution_clear(&r);
	/* an alias destination of the domain that is nobody: the catch-all */
	const char *ghost[] = { "ghost@example.org" };
	ck_assert_int_eq(store_alias_add(st, "g@example.org", ghost, 1, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "g@example.org", &r, &error), STORE_OK);
	ck_assert_str_eq(r.user_addresses[0], "c@example.org");
	store_resolution_clear(&r);
	ck_assert_int_eq(store_alias_del(st, "@example.org", &error), STORE_OK);
	/* without it, a destination that is nobody is skipped */
	ck_assert_int_eq(store_resolve(st, "g@example.org", &r, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_resolve(st, "anything@example.org", &r, &error), STORE_NOTFOUND);

	/* disabled users */
	ck_assert_int_eq(store_user_set_enabled(st, "b@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "b@example.org", &r, &error), STORE_NOTFOUND);
	const char *to_b[] = { "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "onlyb@example.org", to_b, 1, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "onlyb@example.org", &r, &error), STORE_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(error, "disabled"));
	ck_assert_int_eq(store_resolve(st, "team@example.org", &r, &error), STORE_OK);
	ck_assert_uint_eq(r.n_users, 1);	/* a only; b is disabled */
	ck_assert_uint_eq(r.n_remote, 2);
	store_resolution_clear(&r);

	/* a loop made behind the store's back is reported, not followed */
	test_sql(dir, "INSERT INTO alias_destinations SELECT id, 9, 'team@example.org'"
		 " FROM aliases WHERE source = 'fwd@example.org'");
	ck_assert_int_eq(store_resolve(st, "team@example.org", &r, &error), STORE_LOOP);
	ck_assert_ptr_nonnull(strstr(error, "alias loop: team@example.org -> fwd@example.org -> team@example.org"));
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_mailboxes)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct store_user u;
	struct store_mailbox mb, mb2;

	ck_assert_int_eq(store_user_get(st, "a@example.org", &u, &error), STORE_OK);
	ck_assert_int_eq(store_mailbox_get(st, u.id, "inbox", &mb, &error), STORE_OK);
	ck_assert_str_eq(mb.name, "INBOX");
	ck_assert_uint_eq(mb.messages, 0);
	ck_assert_uint_eq(mb.first_recent_uid, 1);
	ck_assert_int_eq(store_mailbox_get_by_id(st, mb.id, &mb2, &error), STORE_OK);
	ck_assert_str_eq(mb2.name, "INBOX");
	store_mailbox_clear(&mb2);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "Archive/2024", NULL, true, &error), STORE_OK);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "Archive/2024", NULL, true, &error), STORE_EXISTS);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "Inbox", NULL, true, &error), STORE_EXISTS);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "", NULL, true, &error), STORE_INVALID);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "a//b", NULL, true, &error), STORE_INVALID);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "/a", NULL, true, &error), STORE_INVALID);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "a*", NULL, true, &error), STORE_INVALID);
	ck_assert_int_eq(store_mailbox_create(st, u.id, "a\nb", NULL, true, &error), STORE_INVALID);
	ck_assert_int_eq(store_mailbox_create(st, 9999, "x", NULL, true, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_mailbox_get(st, u.id, "Archive/2024", &mb2, &error), STORE_OK);
	ck_assert_uint_gt(mb2.uidvalidity, mb.uidvalidity);
	uint32_t old_validity = mb2.uidvalidity;
	store_mailbox_clear(&mb2);
	/* recreated: a greater UIDVALIDITY (RFC 3501 §2.3.1.1) */
	test_sql(dir, "DELETE FROM mailboxes WHERE name = 'Archive/2024'");
	ck_assert_int_eq(store_mailbox_create(st, u.id, "Archive/2024", "\\Archive", true, &error), STORE_OK);
	ck_assert_int_eq(store_mailbox_get(st, u.id, "Archive/2024", &mb2, &error), STORE_OK);
	ck_assert_uint_gt(mb2.uidvalidity, old_validity);
	ck_assert_str_eq(mb2.special_use, "\\Archive");
	store_mailbox_clear(&mb2);
	ck_assert_int_eq(store_mailbox_get(st, u.id, "Nope", &mb2, &error), STORE_NOTFOUND);
	ck_assert_str_eq(error, "mailbox 'Nope' does not exist");
	store_mailbox_clear(&mb);
	store_user_clear(&u);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_tokens)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char *token, *token_b;
	int64_t id, id_b;
	struct store_user u;
	struct store_token *list;
	size_t n;

	ck_assert_int_eq(store_token_create(st, "nobody@example.org", "x", 0, &token, &id, &error), STORE_NOTFOUND);
	ck_assert_ptr_null(token);
	ck_assert_int_eq(store_token_create(st, "A@example.org", "laptop", 0, &token, &id, &error), STORE_OK);
	ck_assert_uint_eq(strlen(token), 64);
	ck_assert_int_eq(store_token_create(st, "b@example.org", "phone", 0, &token_b, &id_b, &error), STORE_OK);
	ck_assert_str_ne(token, token_b);

	/* only the SHA-256 is stored */
	char hash[SHA256_HEX_LEN + 1];
	sha256_hex(token, strlen(token), hash);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM api_tokens WHERE hash = '%s'", hash), 1);
	ck_assert_int_eq(test_sql_int(dir, "SELECT count(*) FROM api_tokens WHERE hash = '%s'"
				      " OR name = '%s' OR instr(hash, '%s') > 0", token, token, token), 0);
	ck_assert_int_eq(test_sql_int(dir, "SELECT last_used FROM api_tokens WHERE id = %lld",
				      (long long)id), 0);

	ck_assert_int_eq(store_token_check(st, token, &u, &error), STORE_OK);
	ck_assert_str_eq(u.address, "a@example.org");
	store_user_clear(&u);
	ck_assert_int_gt(test_sql_int(dir, "SELECT last_used FROM api_tokens WHERE id = %lld",
				      (long long)id), 0);
	/* wrong, malformed, other case */
	char wrong[65];
	memcpy(wrong, token, 65);
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(store_token_check(st, wrong, &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_token_check(st, "", &u, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_token_check(st, hash, &u, &error), STORE_NOTFOUND);

	struct store_user a;
	ck_assert_int_eq(store_user_get(st, "a@example.org", &a, &error), STORE_OK);
	ck_assert_int_eq(store_token_list(st, a.id, &list, &n, &error), STORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].name, "laptop");
	ck_assert_int_eq(strncmp(list[0].prefix, token, 8), 0);
	ck_assert_uint_eq(strlen(list[0].prefix), 8);
	ck_assert_int_gt(list[0].created, 0);
	store_token_list_free(&list, n);

	/* deleting someone else's token is not allowed */
	ck_assert_int_eq(store_token_del(st, a.id, id_b, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_token_check(st, token_b, &u, &error), STORE_OK);
	store_user_clear(&u);
	ck_assert_int_eq(store_token_del(st, a.id, id, &error), STORE_OK);
	ck_assert_int_eq(store_token_check(st, token, &u, &error), STORE_NOTFOUND);

	/* a disabled user's token does not work */
	ck_assert_int_eq(store_user_set_enabled(st, "b@example.org", false, &error), STORE_OK);
	ck_assert_int_eq(store_token_check(st, token_b, &u, &error), STORE_NOTFOUND);
	store_user_clear(&a);
	free(token);
	free(token_b);
	store_close(&st);
	free(dir);
}
END_TEST

static int64_t
test_user_id(struct store *st, const char *address)
{
	struct store_user u;
	const char *error = NULL;
	ck_assert_int_eq(store_user_get(st, address, &u, &error), STORE_OK);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

START_TEST(test_subaddress)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	struct store_resolution r;

	/* off by default */
	ck_assert_int_eq(store_resolve(st, "a+x@example.org", &r, &error), STORE_NOTFOUND);
	store_set_recipient_delimiter(st, "+-");
	ck_assert_int_eq(store_resolve(st, "A+Shop@example.org", &r, &error), STORE_OK);
	ck_assert_uint_eq(r.n_users, 1);
	ck_assert_str_eq(r.user_addresses[0], "a@example.org");
	ck_assert_str_eq(r.details[0], "+shop");
	store_resolution_clear(&r);
	/* the first delimiter splits; the rest is the subaddress */
	ck_assert_int_eq(store_resolve(st, "a-x+y@example.org", &r, &error), STORE_OK);
	ck_assert_str_eq(r.details[0], "-x+y");
	store_resolution_clear(&r);
	/* the address as written first, then unextended, then the catch-all */
	ck_assert_int_eq(store_user_add(st, "a+b@example.org", TEST_HASH, false, 0, &error),
			 STORE_OK);
	ck_assert_int_eq(store_resolve(st, "a+b@example.org", &r, &error), STORE_OK);
	ck_assert_str_eq(r.user_addresses[0], "a+b@example.org");
	ck_assert_ptr_null(r.details[0]);
	store_resolution_clear(&r);
	const char *to_ab[] = { "a@example.org", "b@example.org", "x@remote.example" };
	ck_assert_int_eq(store_alias_add(st, "team@example.org", to_ab, 3, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "team+x@example.org", &r, &error), STORE_OK);
	ck_assert_uint_eq(r.n_users, 2);
	ck_assert_ptr_null(r.details[0]);
	ck_assert_uint_eq(r.n_remote, 1);
	store_resolution_clear(&r);
	ck_assert_int_eq(store_resolve(st, "nobody+x@example.org", &r, &error), STORE_NOTFOUND);
	ck_assert_int_eq(store_resolve(st, "+a@example.org", &r, &error), STORE_NOTFOUND);
	const char *to_b[] = { "b@example.org" };
	ck_assert_int_eq(store_alias_add(st, "@example.org", to_b, 1, &error), STORE_OK);
	ck_assert_int_eq(store_resolve(st, "nobody+x@example.org", &r, &error), STORE_OK);
	ck_assert_str_eq(r.user_addresses[0], "b@example.org");
	ck_assert_ptr_null(r.details[0]);
	store_resolution_clear(&r);
	/* and submission's "owned by" check follows it */
	bool owned = false;
	int64_t a_id = test_user_id(st, "a@example.org");
	ck_assert_int_eq(store_address_owned_by(st, "a+news@example.org", a_id, &owned, &error),
			 STORE_OK);
	ck_assert(owned);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_deliver_copies)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char h1[SHA256_HEX_LEN + 1], h2[SHA256_HEX_LEN + 1];
	int64_t a = test_user_id(st, "a@example.org"), b = test_user_id(st, "b@example.org");

	ck_assert_int_eq(store_mailbox_create(st, a, "Shop", NULL, true, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, "copy one", 8, h1, &error), STORE_OK);
	ck_assert_int_eq(blob_put(st, "copy two!", 9, h2, &error), STORE_OK);
	ck_assert_int_eq(store_user_set_quota(st, "b@example.org", 4, &error), STORE_OK);
	struct store_copy c[] = {
		{ .user_id = a, .mailbox = "shop", .blob = h1, .size = 8 },
		{ .user_id = a, .mailbox = "nosuch", .blob = h2, .size = 9 },
		{ .user_id = b, .mailbox = NULL, .blob = h2, .size = 9 },
	};
	ck_assert_int_eq(store_deliver_copies(st, c, 3, 1, &error), STORE_OK);
	ck_assert_int_eq(c[0].status, STORE_OK);
	ck_assert_int_eq(c[1].status, STORE_OK);
	ck_assert_int_eq(c[2].status, STORE_OVERQUOTA);
	ck_assert_ptr_nonnull(c[2].error);
	for (size_t i = 0; i < 3; i++)
		store_copy_clear(&c[i]);
	struct store_mailbox mb;
	ck_assert_int_eq(store_mailbox_get(st, a, "Shop", &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.messages, 1);
	store_mailbox_clear(&mb);
	ck_assert_int_eq(store_mailbox_get(st, a, "INBOX", &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.messages, 1);
	store_mailbox_clear(&mb);
	ck_assert_int_eq(store_mailbox_get(st, b, "INBOX", &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.messages, 0);
	store_mailbox_clear(&mb);
	/* a bad blob name: nothing delivered */
	struct store_copy bad = { .user_id = a, .blob = "nothex", .size = 1 };
	ck_assert_int_eq(store_deliver_copies(st, &bad, 1, 1, &error), STORE_INVALID);
	store_close(&st);
	free(dir);
}
END_TEST

/* store_tx_fn of test_deliver_copies_with: in the delivery's transaction,
 * with the handed lock still held; answers *arg. */
static pthread_mutex_t with_lock = PTHREAD_MUTEX_INITIALIZER;
static int with_calls;

static int
with_also(struct store *st, void *arg, const char **error_r)
{
	with_calls++;
	ck_assert(st->in_tx);
	ck_assert_int_eq(pthread_mutex_trylock(&with_lock), EBUSY);
	*error_r = "refused by the test";
	return *(int *)arg;
}

/* with_lock is free (trylock takes it, and it is given back). */
static void
assert_with_lock_free(void)
{
	ck_assert_int_eq(pthread_mutex_trylock(&with_lock), 0);
	pthread_mutex_unlock(&with_lock);
}

/* user_id's INBOX has n messages. */
static void
assert_inbox_messages(struct store *st, int64_t user_id, unsigned n)
{
	const char *error = NULL;
	struct store_mailbox mb;
	ck_assert_int_eq(store_mailbox_get(st, user_id, "INBOX", &mb, &error), STORE_OK);
	ck_assert_uint_eq(mb.messages, n);
	store_mailbox_clear(&mb);
}

START_TEST(test_deliver_copies_with)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char h[SHA256_HEX_LEN + 1];
	int64_t a = test_user_id(st, "a@example.org");

	ck_assert_int_eq(blob_put(st, "copy one", 8, h, &error), STORE_OK);
	/* the caller's work commits with the copies, and the handed lock is
	 * free once the transaction is in the WAL */
	int answer = STORE_OK;
	struct store_copy c = { .user_id = a, .blob = h, .size = 8 };
	pthread_mutex_lock(&with_lock);
	store_commit_unlocks(st, &with_lock);
	ck_assert_int_eq(store_deliver_copies_with(st, &c, 1, 1, with_also, &answer, &error),
			 STORE_OK);
	ck_assert_int_eq(with_calls, 1);
	assert_with_lock_free();
	store_commit_unlocks_end(st);	/* released already: nothing to do */
	assert_with_lock_free();
	store_copy_clear(&c);
	assert_inbox_messages(st, a, 1);

	/* its failure rolls the copies back, and the rollback frees the lock */
	answer = STORE_ERROR;
	pthread_mutex_lock(&with_lock);
	store_commit_unlocks(st, &with_lock);
	ck_assert_int_eq(store_deliver_copies_with(st, &c, 1, 1, with_also, &answer, &error),
			 STORE_ERROR);
	ck_assert_str_eq(error, "refused by the test");
	ck_assert_int_eq(with_calls, 2);
	assert_with_lock_free();
	store_commit_unlocks_end(st);
	store_copy_clear(&c);
	assert_inbox_messages(st, a, 1);

	/* no transaction at all (a bad blob name): the caller's end frees it */
	struct store_copy bad = { .user_id = a, .blob = "nothex", .size = 1 };
	pthread_mutex_lock(&with_lock);
	store_commit_unlocks(st, &with_lock);
	ck_assert_int_eq(store_deliver_copies_with(st, &bad, 1, 1, with_also, &answer, &error),
			 STORE_INVALID);
	ck_assert_int_eq(with_calls, 2);
	ck_assert_int_eq(pthread_mutex_trylock(&with_lock), EBUSY);
	store_commit_unlocks_end(st);
	assert_with_lock_free();

	/* a lock the caller does not hold (store_commit_takes()): taken at
	 * the BEGIN (with_also finds it held), free again after the COMMIT */
	answer = STORE_OK;
	store_commit_takes(st, &with_lock);
	assert_with_lock_free();	/* not yet */
	ck_assert_int_eq(store_deliver_copies_with(st, &c, 1, 1, with_also, &answer, &error),
			 STORE_OK);
	ck_assert_int_eq(with_calls, 3);
	assert_with_lock_free();
	store_commit_unlocks_end(st);
	assert_with_lock_free();
	store_copy_clear(&c);
	assert_inbox_messages(st, a, 2);
	/* with no transaction it is never taken, and the end forgets it: the
	 * next transaction takes nothing */
	store_commit_takes(st, &with_lock);
	ck_assert_int_eq(store_deliver_copies_with(st, &bad, 1, 1, with_also, &answer, &error),
			 STORE_INVALID);
	store_commit_unlocks_end(st);
	ck_assert_int_eq(store_begin(st, &error), STORE_OK);
	assert_with_lock_free();
	store_rollback(st);
	store_close(&st);
	free(dir);
}
END_TEST

START_TEST(test_watches)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	const char *error = NULL;
	char hash[SHA256_HEX_LEN + 1];
	struct store_delivery d;
	int64_t inbox_a = test_inbox(st, "a@example.org");
	int64_t inbox_b = test_inbox(st, "b@example.org");

	struct store_watch *wa = store_watch_new(inbox_a);
	struct store_watch *wa2 = store_watch_new(inbox_a);
	struct store_watch *wb = store_watch_new(inbox_b);
	ck_assert_ptr_nonnull(wa);
	ck_assert_ptr_nonnull(wb);
	ck_assert(!readable(store_watch_fd(wa)));
	ck_assert(!readable(store_watch_fd(wb)));

	ck_assert_int_eq(blob_put(st, "msg", 3, hash, &error), STORE_OK);
	ck_assert_int_eq(store_deliver(st, "a@example.org", hash, 3, 1, &d, &error), STORE_OK);
	store_delivery_clear(&d);
	ck_assert(readable(store_watch_fd(wa)));
	ck_assert(readable(store_watch_fd(wa2)));
	ck_assert(!readable(store_watch_fd(wb)));
	store_watch_drain(wa);
	ck_assert(!readable(store_watch_fd(wa)));

	/* a refused delivery changes nothing and wakes nobody */
	store_watch_drain(wa2);
	ck_assert_int_eq(store_user_set_quota(st, "a@example.org", 1, &error), STORE_OK);
	ck_assert_int_eq(store_deliver(st, "a@example.org", hash, 3, 1, &d, &error), STORE_OVERQUOTA);
	store_delivery_clear(&d);
	ck_assert(!readable(store_watch_fd(wa)));

	/* append and expunge wake too */
	uint32_t uid;
	ck_assert_int_eq(store_append(st, inbox_b, hash, 3, 1, 0, NULL, false, &uid, &error), STORE_OK);
	ck_assert(readable(store_watch_fd(wb)));
	ck_assert(!readable(store_watch_fd(wa)));
	store_watch_drain(wb);
	ck_assert_int_eq(store_expunge(st, inbox_b, &uid, 1, NULL, &error), STORE_OK);
	ck_assert(readable(store_watch_fd(wb)));

	store_watch_free(&wa);
	ck_assert_ptr_null(wa);
	store_watch_free(&wa);
	store_watch_free(&wb);
	/* the remaining watch still works after the others left */
	store_watch_drain(wa2);
	store_notify_mailbox(inbox_a);
	ck_assert(readable(store_watch_fd(wa2)));
	store_watch_free(&wa2);
	store_close(&st);
	free(dir);
}
END_TEST

/* Stamps tell a commit from nothing, whichever handle made it. */
START_TEST(test_stamps)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	struct store *other = NULL;
	const char *error = NULL;
	struct store_stamp a, b;

	store_stamp_read(dir, &a);
	ck_assert_int_gt(a.db_size, 0);
	store_stamp_read(dir, &b);
	ck_assert(store_stamp_equal(&a, &b));

	/* a commit made through another handle, as another process would */
	ck_assert_int_eq(store_open(dir, &other, &error), STORE_OK);
	ck_assert_int_eq(store_domain_add(other, "stamp.example", &error), STORE_OK);
	store_stamp_read(dir, &b);
	ck_assert(!store_stamp_equal(&a, &b));
	a = b;
	/* reading changes nothing */
	struct store_domain *list;
	size_t n;
	ck_assert_int_eq(store_domain_list(st, &list, &n, &error), STORE_OK);
	store_domain_list_free(&list, n);
	store_stamp_read(dir, &b);
	ck_assert(store_stamp_equal(&a, &b));

	/* no database at all: a stamp of zeros, not an error */
	char *none = xasprintf("%s/none", dir);
	store_stamp_read(none, &b);
	ck_assert_int_eq(b.db_size, 0);
	ck_assert_int_eq(b.wal_mtime_ns, 0);
	free(none);
	store_close(&other);
	store_close(&st);
	free(dir);
}
END_TEST

/* Group commit (walsync.c): light commits of many threads at once are each
 * synced before store_commit() returns, with flushes shared between them. */
#define GC_THREADS 8
#define GC_COMMITS 40

struct gc_arg {
	const char *dir;
	int failures;
};

static void *
gc_thread(void *p)
{
	struct gc_arg *a = p;
	struct store *st = NULL;
	const char *error = NULL;
	if (store_open(a->dir, &st, &error) != STORE_OK) {
		a->failures++;
		return NULL;
	}
	for (int i = 0; i < GC_COMMITS; i++) {
		if (store_begin_light(st, &error) != STORE_OK) {
			a->failures++;
			continue;
		}
		if (sqlite3_exec(st->db, "INSERT INTO gc_rows VALUES (1)", NULL,
				 NULL, NULL) != SQLITE_OK) {
			store_rollback(st);
			a->failures++;
			continue;
		}
		if (store_commit(st, &error) != STORE_OK)
			a->failures++;
	}
	store_close(&st);
	return NULL;
}

START_TEST(test_group_commit)
{
	char *dir;
	struct store *st = test_store_fixture(&dir);
	ck_assert_int_eq(sqlite3_exec(st->db, "CREATE TABLE gc_rows (x)", NULL,
				      NULL, NULL), SQLITE_OK);
	struct store_wal_stats before, after;
	store_wal_stats(&before);

	pthread_t t[GC_THREADS];
	struct gc_arg args[GC_THREADS];
	for (int i = 0; i < GC_THREADS; i++) {
		args[i] = (struct gc_arg){ .dir = dir };
		ck_assert_int_eq(pthread_create(&t[i], NULL, gc_thread, &args[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(args[i].failures, 0);
	}
	store_wal_stats(&after);
	uint64_t commits = after.commits - before.commits;
	uint64_t syncs = after.syncs - before.syncs;
	ck_assert_uint_eq(commits, GC_THREADS * GC_COMMITS);
	/* every commit waited for a flush; none flushed twice */
	ck_assert_uint_ge(syncs, 1);
	ck_assert_uint_le(syncs, commits);
	fprintf(stderr, "group commit: %llu light commits, %llu fdatasync\n",
		(unsigned long long)commits, (unsigned long long)syncs);
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(st->db, "SELECT count(*) FROM gc_rows",
					    -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), GC_THREADS * GC_COMMITS);
	sqlite3_finalize(q);
	store_close(&st);

	/* the last handle closed: SQLite checkpointed and removed the WAL;
	 * the next light commit makes a new one and syncs that */
	char *wal = xasprintf("%s/mailhub.db-wal", dir);
	ck_assert_int_ne(access(wal, F_OK), 0);
	st = test_store_open(dir);
	const char *error = NULL;
	store_wal_stats(&before);
	ck_assert_int_eq(store_begin_light(st, &error), STORE_OK);
	ck_assert_int_eq(sqlite3_exec(st->db, "INSERT INTO gc_rows VALUES (2)",
				      NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(store_commit(st, &error), STORE_OK);
	store_wal_stats(&after);
	ck_assert_uint_eq(after.syncs - before.syncs, 1);
	ck_assert_int_eq(access(wal, F_OK), 0);
	ck_assert_int_eq(st->wal_fd >= 0, 1);
	free(wal);
	store_close(&st);
	free(dir);
}
END_TEST

/* Waits up to ms for the stats field at off to pass before; 1 if it did. */
static int
wait_stat(size_t off, uint64_t before, int ms)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		struct store_wal_stats now;
		store_wal_stats(&now);
		if (*(uint64_t *)((char *)&now + off) > before)
			return 1;
		poll(NULL, 0, 10);
	}
	return 0;
}

/* A store with the table lz (x) of the lazy commit tests. */
static struct store *
lz_fixture(char **dir_r)
{
	struct store *st = test_store_fixture(dir_r);
	ck_assert_int_eq(sqlite3_exec(st->db, "CREATE TABLE lz (x)", NULL, NULL,
				      NULL), SQLITE_OK);
	return st;
}

/* A lazy commit of one row into lz: true when it committed. */
static bool
lazy_insert(struct store *st, int x)
{
	const char *error;
	char sql[64];
	snprintf(sql, sizeof sql, "INSERT INTO lz VALUES (%d)", x);
	if (store_begin_lazy(st, &error) != STORE_OK)
		return false;
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_rollback(st);
		return false;
	}
	return store_commit(st, &error) == STORE_OK;
}

/* A child of fork() has no keeper thread of its parent's: its first lazy
 * commit starts its own, which syncs it (the parent's is told apart by a
 * fork handler, not by a getpid() at each commit). */
START_TEST(test_lazy_commit_after_fork)
{
	char *dir;
	struct store *st = lz_fixture(&dir);
	const char *error = NULL;
	struct store_wal_stats before;
	store_wal_stats(&before);
	ck_assert(lazy_insert(st, 1));
	ck_assert(wait_stat(offsetof(struct store_wal_stats, keeper_syncs),
			    before.keeper_syncs, 5000));
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *own;
		int ok = store_open(dir, &own, &error) == STORE_OK;
		store_wal_stats(&before);
		ok = ok && lazy_insert(own, 2) &&
		     wait_stat(offsetof(struct store_wal_stats, keeper_syncs),
			       before.keeper_syncs, 5000) &&
		     own->lazy_ticket != 0 &&
		     store_wal_sync_lazy(own, &error) == STORE_OK &&
		     own->lazy_ticket == 0;
		_exit(ok ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	store_close(&st);
	free(dir);
}
END_TEST

/* Lazy commits (store_begin_lazy()): store_commit() returns without a
 * flush; the keeper syncs them within STORE_LAZY_SYNC_MS; a light
 * commit's flush covers them; store_close() syncs one still unsynced; and
 * a WAL past 1000 pages is checkpointed by the keeper, not by the commit. */
START_TEST(test_lazy_commit)
{
	char *dir;
	struct store *st = lz_fixture(&dir);
	const char *error = NULL;
	struct store_wal_stats before, after;

	/* a lazy commit: no flush on the committing thread */
	store_wal_stats(&before);
	int64_t t0 = store_test_mono_ms();
	ck_assert(lazy_insert(st, 1));
	store_wal_stats(&after);
	ck_assert_uint_eq(after.lazy_commits - before.lazy_commits, 1);
	ck_assert_uint_ne(st->lazy_ticket, 0);
	/* ... the keeper syncs it, not before STORE_LAZY_SYNC_MS, and not
	 * much later */
	ck_assert(wait_stat(offsetof(struct store_wal_stats, keeper_syncs),
			    before.keeper_syncs, 5000));
	int64_t took = store_test_mono_ms() - t0;
	ck_assert_int_ge(took, STORE_LAZY_SYNC_MS - 20);
	ck_assert_int_lt(took, 5000);
	/* known synced: closing needs no flush of its own */
	ck_assert_int_eq(store_wal_sync_lazy(st, &error), STORE_OK);
	ck_assert_uint_eq(st->lazy_ticket, 0);

	/* a lazy commit, then a light one: the light one's flush covers both */
	store_wal_stats(&before);
	ck_assert_int_eq(store_begin_lazy(st, &error), STORE_OK);
	ck_assert_int_eq(sqlite3_exec(st->db, "INSERT INTO lz VALUES (2)", NULL,
				      NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(store_commit(st, &error), STORE_OK);
	ck_assert_int_eq(store_begin_light(st, &error), STORE_OK);
	ck_assert_int_eq(sqlite3_exec(st->db, "INSERT INTO lz VALUES (3)", NULL,
				      NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(store_commit(st, &error), STORE_OK);
	store_wal_stats(&after);
	ck_assert_uint_eq(st->lazy_ticket, 0);
	ck_assert_uint_eq(after.syncs - before.syncs, 1);
	poll(NULL, 0, STORE_LAZY_SYNC_MS + 100);
	store_wal_stats(&after);
	ck_assert_uint_eq(after.keeper_syncs, before.keeper_syncs);

	/* a lazy commit closed at once: store_close() syncs it */
	ck_assert_int_eq(store_begin_lazy(st, &error), STORE_OK);
	ck_assert_int_eq(sqlite3_exec(st->db, "INSERT INTO lz VALUES (4)", NULL,
				      NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(store_commit(st, &error), STORE_OK);
	store_wal_stats(&before);
	ck_assert_int_eq(store_wal_sync_lazy(st, &error), STORE_OK);
	store_wal_stats(&after);
	ck_assert_uint_eq(after.syncs - before.syncs, 1);
	ck_assert_uint_eq(st->lazy_ticket, 0);

	/* a rolled back lazy transaction leaves nothing to sync */
	ck_assert_int_eq(store_begin_lazy(st, &error), STORE_OK);
	store_rollback(st);
	ck_assert_uint_eq(st->lazy_ticket, 0);
	ck_assert_int_eq(st->tx_lazy, 0);

	/* background checkpoints: a WAL past 1000 pages asks the keeper */
	store_wal_stats(&before);
	struct store *reader = test_store_open(dir);
	ck_assert_int_eq(store_begin(st, &error), STORE_OK);
	ck_assert_int_eq(sqlite3_exec(st->db, "CREATE TABLE big (b);"
				      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
				      "SELECT i + 1 FROM n WHERE i < 1200) "
				      "INSERT INTO big SELECT randomblob(4000) FROM n",
				      NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(store_commit(st, &error), STORE_OK);
	ck_assert(wait_stat(offsetof(struct store_wal_stats, checkpoints),
			    before.checkpoints, 10000));
	store_close(&reader);

	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(st->db, "SELECT count(*) FROM lz",
					    -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(q, 0), 4);
	sqlite3_finalize(q);
	store_close(&st);
	free(dir);
}
END_TEST

/* A step of SQL that must work. */
static void
wb_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg != NULL ? msg : "?");
}

static int64_t
wb_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* walbuf.c: the default VFS once a store is open gathers the frames of a
 * commit; small, big (past its buffer, and past 128 KiB, which the unix
 * VFS writes in pieces) and rewritten transactions are all seen whole by
 * another connection, survive a checkpoint, and a rolled-back one leaves
 * nothing. */
START_TEST(test_walbuf)
{
	char *dir = test_tmpdir();
	struct store *st = test_store_open(dir);
	ck_assert_str_eq(sqlite3_vfs_find(NULL)->zName, "mailhub-walbuf");
	char *path = xasprintf("%s/walbuf.db", dir);
	sqlite3 *a, *b;
	ck_assert_int_eq(sqlite3_open(path, &a), SQLITE_OK);
	ck_assert_int_eq(sqlite3_open(path, &b), SQLITE_OK);
	wb_exec(a, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		   "CREATE TABLE t (id INTEGER PRIMARY KEY, x BLOB)");
	int64_t want_n = 0, want_len = 0;
	for (int round = 0; round < 3; round++) {
		/* one row; a 300 KB row; 200 rows of 1 KB; rows rewritten */
		wb_exec(a, "INSERT INTO t (x) VALUES (randomblob(10))");
		wb_exec(a, "INSERT INTO t (x) VALUES (randomblob(300000))");
		wb_exec(a, "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL"
			   " SELECT i + 1 FROM c WHERE i < 200)"
			   " INSERT INTO t (x) SELECT randomblob(1000) FROM c; COMMIT");
		wb_exec(a, "BEGIN; UPDATE t SET x = randomblob(1000) WHERE length(x) = 1000;"
			   " UPDATE t SET x = randomblob(1000) WHERE length(x) = 1000; COMMIT");
		want_n += 202;
		want_len += 10 + 300000 + 200 * 1000;
		ck_assert_int_eq(wb_int(b, "SELECT count(*) FROM t"), want_n);
		ck_assert_int_eq(wb_int(b, "SELECT sum(length(x)) FROM t"), want_len);
		/* nothing of a transaction rolled back */
		wb_exec(a, "BEGIN; INSERT INTO t (x) VALUES (randomblob(200000)); ROLLBACK");
		ck_assert_int_eq(wb_int(b, "SELECT count(*) FROM t"), want_n);
	}
	sqlite3_stmt *q;
	ck_assert_int_eq(sqlite3_prepare_v2(b, "PRAGMA integrity_check", -1, &q, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	wb_exec(b, "PRAGMA wal_checkpoint(TRUNCATE)");
	wb_exec(a, "INSERT INTO t (x) VALUES (randomblob(10))");
	sqlite3_close(a);
	sqlite3_close(b);
	/* a new connection reads it all from the files */
	ck_assert_int_eq(sqlite3_open(path, &a), SQLITE_OK);
	ck_assert_int_eq(wb_int(a, "SELECT count(*) FROM t"), want_n + 1);
	ck_assert_int_eq(wb_int(a, "SELECT sum(length(x)) FROM t"), want_len + 10);
	sqlite3_close(a);
	free(path);
	store_close(&st);
	free(dir);
}
END_TEST

Suite *
make_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_validation);
	tcase_add_test(tc, test_domains);
	tcase_add_test(tc, test_users);
	tcase_add_test(tc, test_authenticate);
	tcase_add_test(tc, test_alias_crud);
	tcase_add_test(tc, test_subaddress);
	tcase_add_test(tc, test_deliver_copies);
	tcase_add_test(tc, test_deliver_copies_with);
	tcase_add_test(tc, test_alias_loops);
	tcase_add_test(tc, test_resolve);
	tcase_add_test(tc, test_mailboxes);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_watches);
	tcase_add_test(tc, test_stamps);
	tcase_add_test(tc, test_group_commit);
	tcase_add_test(tc, test_lazy_commit);
	tcase_add_test(tc, test_lazy_commit_after_fork);
	tcase_add_test(tc, test_walbuf);
	suite_add_tcase(s, tc);
	return s;
}
