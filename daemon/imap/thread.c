/*
 * thread: RFC 5256 §3, see thread.h.
 *
 * REFERENCES follows the RFC's steps in the order Dovecot takes them, so
 * that both servers give one answer for one mailbox: a root that is a
 * dummy with a single child is replaced by that child before subjects are
 * gathered (step 4.B), the subject of a dummy is that of its oldest child,
 * and siblings and roots are ordered by sent date, then by mailbox order
 * (step 6), where a sent date that is missing, unparsable or zero is the
 * internal date.
 */
#include "imap/thread.h"

#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/xmalloc.h"

#define NONE ((size_t)-1)

/* ---- shared -------------------------------------------------------------- */

/* A forest: parents know their children; siblings are sorted when
 * written. */
struct tree {
	const struct thread_msg *msgs;
	size_t n_msgs;
	/* nodes: msg index or NONE (dummy) */
	size_t *msg;
	size_t *first_child, *next_sibling;
	int64_t *date;		/* sort date of a node (dummies: oldest child) */
	size_t *key;		/* then this: mailbox order (dummies: oldest
				 * child's) */
	size_t n, cap;
};

static size_t
tree_add(struct tree *t, size_t msg)
{
	if (t->n == t->cap) {
		t->cap = t->cap == 0 ? 64 : t->cap * 2;
		t->msg = xreallocarray(t->msg, t->cap, sizeof *t->msg);
		t->first_child = xreallocarray(t->first_child, t->cap,
					       sizeof *t->first_child);
		t->next_sibling = xreallocarray(t->next_sibling, t->cap,
						sizeof *t->next_sibling);
		t->date = xreallocarray(t->date, t->cap, sizeof *t->date);
		t->key = xreallocarray(t->key, t->cap, sizeof *t->key);
	}
	t->key[t->n] = msg;
	t->msg[t->n] = msg;
	t->first_child[t->n] = NONE;
	t->next_sibling[t->n] = NONE;
	t->date[t->n] = msg != NONE ? t->msgs[msg].date : 0;
	return t->n++;
}

static void
tree_free(struct tree *t)
{
	free(t->msg);
	free(t->first_child);
	free(t->next_sibling);
	free(t->date);
	free(t->key);
}

/* Adds child at the head of parent's children (the order is sorted when
 * written). */
static void
tree_link(struct tree *t, size_t parent, size_t child)
{
	t->next_sibling[child] = t->first_child[parent];
	t->first_child[parent] = child;
}

/* qsort() has no context argument: per thread, as sessions sort at once */
static _Thread_local const struct tree *sort_tree;

/* sent date, then mailbox order; a dummy sorts as its oldest child */
static int
node_cmp(const void *a, const void *b)
{
	const struct tree *t = sort_tree;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (t->date[x] != t->date[y])
		return t->date[x] < t->date[y] ? -1 : 1;
	size_t kx = t->key[x], ky = t->key[y];
	return kx < ky ? -1 : kx > ky ? 1 : 0;
}

static void
sort_nodes(const struct tree *t, size_t *list, size_t n)
{
	sort_tree = t;
	qsort(list, n, sizeof *list, node_cmp);
	sort_tree = NULL;
}

/* The children of node, sorted (malloc'd). */
static size_t *
sorted_children(struct tree *t, size_t node, size_t *n_r)
{
	size_t n = 0;
	for (size_t c = t->first_child[node]; c != NONE; c = t->next_sibling[c])
		n++;
	size_t *list = xreallocarray(NULL, n > 0 ? n : 1, sizeof *list);
	n = 0;
	for (size_t c = t->first_child[node]; c != NONE; c = t->next_sibling[c])
		list[n++] = c;
	sort_nodes(t, list, n);
	*n_r = n;
	return list;
}

/* Appends "a b (c)(d)" for node and what hangs below it: a single child
 * continues the line, several are each written in parentheses.  Threads
 * may be as deep as a mailbox is long, so the walk keeps its own stack
 * instead of recursing. */
struct wframe {
	size_t *kids;
	size_t n, next;
	bool parens;	/* the children are written in parentheses */
};

static void
write_node(struct tree *t, size_t node, struct buf *out)
{
	struct wframe *st = NULL;
	size_t depth = 0, cap = 0;

	for (;;) {
		/* write node, then descend into its children */
		size_t n;
		size_t *kids = sorted_children(t, node, &n);
		if (t->msg[node] != NONE)
			buf_printf(out, n > 0 ? "%u " : "%u", t->msgs[t->msg[node]].id);
		if (depth == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			st = xreallocarray(st, cap, sizeof *st);
		}
		st[depth++] = (struct wframe){ kids, n, 0, n > 1 };
		/* the next node to write: the deepest frame with one left */
		node = NONE;
		while (depth > 0) {
			struct wframe *f = &st[depth - 1];
			if (f->next > 0 && f->parens)
				buf_putc(out, ')');
			if (f->next < f->n) {
				if (f->parens)
					buf_putc(out, '(');
				node = f->kids[f->next++];
				break;
			}
			free(f->kids);
			depth--;
		}
		if (node == NONE)
			break;
	}
	free(st);
}

/* ---- ORDEREDSUBJECT ------------------------------------------------------- */

static _Thread_local const struct thread_msg *os_msgs;

static int
os_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(os_msgs[x].subject, os_msgs[y].subject);
	if (c != 0)
		return c;
	if (os_msgs[x].date != os_msgs[y].date)
		return os_msgs[x].date < os_msgs[y].date ? -1 : 1;
	return x < y ? -1 : x > y ? 1 : 0;
}

void
imap_thread_orderedsubject(const struct thread_msg *msgs, size_t n,
			   struct buf *out)
{
	if (n == 0)
		return;
	size_t *order = xreallocarray(NULL, n, sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	os_msgs = msgs;
	qsort(order, n, sizeof *order, os_cmp);
	os_msgs = NULL;

	/* RFC 5256 §3: one thread per base subject, its first message the
	 * parent of the others; threads in the order of their first
	 * message's sent date */
	struct tree t = { .msgs = msgs, .n_msgs = n };
	size_t *roots = xreallocarray(NULL, n, sizeof *roots);
	size_t n_roots = 0;
	for (size_t i = 0; i < n;) {
		size_t root = tree_add(&t, order[i]);
		roots[n_roots++] = root;
		size_t j = i + 1;
		size_t last = NONE;
		while (j < n && strcmp(msgs[order[j]].subject,
				       msgs[order[i]].subject) == 0) {
			size_t kid = tree_add(&t, order[j]);
			/* keep them in order: append */
			if (last == NONE)
				t.first_child[root] = kid;
			else
				t.next_sibling[last] = kid;
			last = kid;
			j++;
		}
		i = j;
	}
	sort_nodes(&t, roots, n_roots);
	for (size_t i = 0; i < n_roots; i++) {
		buf_putc(out, '(');
		write_node(&t, roots[i], out);
		buf_putc(out, ')');
	}
	free(roots);
	free(order);
	tree_free(&t);
}

/* ---- REFERENCES: step 1, the id table ------------------------------------ */

struct idnode {
	size_t parent;		/* NONE: a root */
	size_t msg;		/* NONE: a dummy (only referred to) */
	bool had_child;		/* was ever a parent: may be an ancestor */
};

struct idtable {
	struct idnode *nodes;
	size_t n, cap;
	/* open addressing: id string -> node */
	const char **keys;
	size_t *key_lens;
	size_t *vals;
	size_t slots;	/* a power of two */
	size_t used;
};

static size_t
idt_new_node(struct idtable *it, size_t msg)
{
	if (it->n == it->cap) {
		it->cap = it->cap == 0 ? 64 : it->cap * 2;
		it->nodes = xreallocarray(it->nodes, it->cap, sizeof *it->nodes);
	}
	it->nodes[it->n].parent = NONE;
	it->nodes[it->n].msg = msg;
	it->nodes[it->n].had_child = false;
	return it->n++;
}

static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void idt_grow(struct idtable *it);

/* The node of an id (created as a dummy when new). */
static size_t
idt_get(struct idtable *it, const char *id, size_t len)
{
	if ((it->used + 1) * 2 > it->slots)
		idt_grow(it);
	size_t mask = it->slots - 1;
	for (size_t i = (size_t)fnv1a(id, len) & mask;; i = (i + 1) & mask) {
		if (it->keys[i] == NULL) {
			it->keys[i] = id;
			it->key_lens[i] = len;
			it->vals[i] = idt_new_node(it, NONE);
			it->used++;
			return it->vals[i];
		}
		if (it->key_lens[i] == len && memcmp(it->keys[i], id, len) == 0)
			return it->vals[i];
	}
}

static void
idt_grow(struct idtable *it)
{
	const char **keys = it->keys;
	size_t *lens = it->key_lens, *vals = it->vals, old = it->slots;
	it->slots = old == 0 ? 256 : old * 2;
	it->keys = xcalloc(it->slots, sizeof *it->keys);
	it->key_lens = xcalloc(it->slots, sizeof *it->key_lens);
	it->vals = xcalloc(it->slots, sizeof *it->vals);
	size_t mask = it->slots - 1;
	for (size_t j = 0; j < old; j++) {
		if (keys[j] == NULL)
			continue;
		size_t i = (size_t)fnv1a(keys[j], lens[j]) & mask;
		while (it->keys[i] != NULL)
			i = (i + 1) & mask;
		it->keys[i] = keys[j];
		it->key_lens[i] = lens[j];
		it->vals[i] = vals[j];
	}
	free(keys);
	free(lens);
	free(vals);
}

/* True when anc is node or one of its ancestors. */
static bool
idt_has_ancestor(const struct idtable *it, size_t node, size_t anc)
{
	for (size_t i = 0; node != anc; i++) {
		if (it->nodes[node].parent == NONE || i > it->n)
			return false;
		node = it->nodes[node].parent;
	}
	return true;
}

/* Step 1.A: parent -> child, unless it would make a loop or the child has
 * a parent already. */
static void
idt_link(struct idtable *it, size_t parent, size_t child)
{
	/* a node that never had a child is nobody's ancestor: no walk (a
	 * thread as long as the mailbox would make the walks quadratic) */
	if (parent == child || (it->nodes[child].had_child &&
				idt_has_ancestor(it, parent, child)))
		return;
	if (it->nodes[child].parent == NONE) {
		it->nodes[child].parent = parent;
		it->nodes[parent].had_child = true;
	}
}

/* ---- REFERENCES: steps 2 to 6 --------------------------------------------- */

struct root {
	size_t node;		/* in the tree */
	size_t parent_root;	/* step 5: index in roots + 1, or 0 */
	bool dummy, ignore, reply;
};

struct refs_ctx {
	struct tree t;
	struct root *roots;
	size_t n_roots, cap_roots;
};

static size_t
add_root(struct refs_ctx *c, size_t node, bool dummy)
{
	if (c->n_roots == c->cap_roots) {
		c->cap_roots = c->cap_roots == 0 ? 64 : c->cap_roots * 2;
		c->roots = xreallocarray(c->roots, c->cap_roots, sizeof *c->roots);
	}
	struct root *r = &c->roots[c->n_roots];
	memset(r, 0, sizeof *r);
	r->node = node;
	r->dummy = dummy;
	return c->n_roots++;
}

static int
root_cmp(const void *a, const void *b)
{
	const struct root *x = a, *y = b;
	return node_cmp(&x->node, &y->node);
}

/* Orders the roots; a dummy root takes the date and place of its oldest
 * child, and one with a single child is replaced by it (step 4.B, which
 * Dovecot defers to here). */
static void
sort_roots(struct refs_ctx *c)
{
	struct tree *t = &c->t;
	for (size_t i = 0; i < c->n_roots; i++) {
		struct root *r = &c->roots[i];
		if (r->ignore || !r->dummy)
			continue;
		size_t n;
		size_t *kids = sorted_children(t, r->node, &n);
		if (n == 0) {
			r->ignore = true;
		} else if (n == 1) {
			r->node = kids[0];
			r->dummy = false;
		} else {
			t->date[r->node] = t->date[kids[0]];
			t->key[r->node] = t->key[kids[0]];
		}
		free(kids);
	}
	sort_tree = t;
	qsort(c->roots, c->n_roots, sizeof *c->roots, root_cmp);
	sort_tree = NULL;
}

/* The message whose subject stands for a root: itself, or a dummy's
 * oldest child. */
static size_t
root_msg(struct refs_ctx *c, const struct root *r)
{
	if (!r->dummy)
		return c->t.msg[r->node];
	size_t n;
	size_t *kids = sorted_children(&c->t, r->node, &n);
	size_t m = n > 0 ? c->t.msg[kids[0]] : NONE;
	free(kids);
	return m;
}

/* Step 5.B: the subject table, as parent_root links between roots. */
static void
gather_subjects(struct refs_ctx *c)
{
	size_t slots = 16;
	while (slots < c->n_roots * 2)
		slots *= 2;
	size_t *table = xcalloc(slots, sizeof *table);	/* root index + 1 */
	size_t *subj = xreallocarray(NULL, c->n_roots > 0 ? c->n_roots : 1,
				     sizeof *subj);
	size_t mask = slots - 1;
	for (size_t i = 0; i < c->n_roots; i++)
		subj[i] = c->roots[i].ignore ? NONE : root_msg(c, &c->roots[i]);
	for (size_t i = 0; i < c->n_roots; i++) {
		struct root *r = &c->roots[i];
		size_t m = subj[i];
		if (m == NONE)
			continue;
		const struct thread_msg *msg = &c->t.msgs[m];
		if (msg->subject[0] == '\0')
			continue;
		size_t len = strlen(msg->subject);
		size_t h = (size_t)fnv1a(msg->subject, len) & mask;
		while (table[h] != 0 &&
		       strcmp(c->t.msgs[subj[table[h] - 1]].subject,
			      msg->subject) != 0)
			h = (h + 1) & mask;
		if (table[h] == 0) {
			table[h] = i + 1;
		} else {
			struct root *old = &c->roots[table[h] - 1];
			if (!old->dummy && (r->dummy || (old->reply && !msg->reply))) {
				old->parent_root = i + 1;
				table[h] = i + 1;
			} else {
				r->parent_root = table[h];
			}
		}
		r->reply = msg->reply;
	}
	free(subj);
	free(table);
}

/* Step 5.C for one root whose subject is another's. */
static void
merge_root(struct refs_ctx *c, size_t cur_i)
{
	size_t top_i = cur_i;
	for (size_t guard = 0; c->roots[top_i].parent_root != 0 &&
	     guard <= c->n_roots; guard++)
		top_i = c->roots[top_i].parent_root - 1;
	struct root *cur = &c->roots[cur_i], *top = &c->roots[top_i];
	struct tree *t = &c->t;

	if (cur->dummy) {
		/* both dummies: the children of both become siblings */
		size_t kid = t->first_child[cur->node];
		while (kid != NONE) {
			size_t next = t->next_sibling[kid];
			tree_link(t, top->node, kid);
			kid = next;
		}
		t->first_child[cur->node] = NONE;
		cur->ignore = true;
	} else if (top->dummy || (cur->reply && !top->reply)) {
		tree_link(t, top->node, cur->node);
		cur->ignore = true;
	} else {
		/* a new dummy holds both */
		size_t d = tree_add(t, NONE);
		size_t cur_node = cur->node, top_node = top->node;
		tree_link(t, d, top_node);
		tree_link(t, d, cur_node);
		top->ignore = cur->ignore = true;
		size_t ni = add_root(c, d, true);	/* may move roots */
		c->roots[top_i].parent_root = ni + 1;
	}
}

void
imap_thread_references(const struct thread_msg *msgs, size_t n,
		       struct buf *out)
{
	struct idtable it;
	memset(&it, 0, sizeof it);
	size_t *msg_node = xreallocarray(NULL, n > 0 ? n : 1, sizeof *msg_node);

	/* step 1 */
	for (size_t i = 0; i < n; i++) {
		const struct thread_msg *m = &msgs[i];
		size_t node = NONE;
		if (m->msgid != NULL && m->msgid[0] != '\0') {
			node = idt_get(&it, m->msgid, strlen(m->msgid));
			/* a Message-ID seen before on a message: only the
			 * first keeps it */
			if (it.nodes[node].msg != NONE)
				node = NONE;
		}
		if (node == NONE)
			node = idt_new_node(&it, i);
		it.nodes[node].msg = i;
		msg_node[i] = node;

		size_t last = NONE, n_refs = 0, k = 0;
		for (const char *p = m->refs; p != NULL && *p != '\0'; p++)
			n_refs += p == m->refs || *p == ' ';
		for (const char *p = m->refs; p != NULL && *p != '\0'; k++) {
			const char *e = strchr(p, ' ');
			size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
			/* the nearest IMAP_THREAD_REFS_MAX ancestors (each
			 * link walks up the thread to refuse loops) */
			if (l > 0 && k + IMAP_THREAD_REFS_MAX >= n_refs) {
				size_t ref = idt_get(&it, p, l);
				if (last != NONE)
					idt_link(&it, last, ref);
				last = ref;
			}
			p = e != NULL ? e + 1 : NULL;
		}
		/* 1.B: the last reference is the parent, whatever an
		 * earlier message's References said */
		if (it.nodes[node].parent != last)
			it.nodes[node].parent = NONE;
		if (last != NONE)
			idt_link(&it, last, node);
	}

	/* steps 2 to 4: roots, and every message a child of its nearest
	 * real ancestor (or of the topmost dummy) */
	struct refs_ctx c;
	memset(&c, 0, sizeof c);
	c.t.msgs = msgs;
	c.t.n_msgs = n;
	size_t *tnode = xreallocarray(NULL, it.n > 0 ? it.n : 1, sizeof *tnode);
	for (size_t i = 0; i < it.n; i++)
		tnode[i] = tree_add(&c.t, it.nodes[i].msg);
	for (size_t i = 0; i < it.n; i++) {
		const struct idnode *nd = &it.nodes[i];
		if (nd->parent == NONE) {
			add_root(&c, tnode[i], nd->msg == NONE);
			continue;
		}
		if (nd->msg == NONE)
			continue;
		size_t p = nd->parent;
		while (it.nodes[p].msg == NONE && it.nodes[p].parent != NONE)
			p = it.nodes[p].parent;
		tree_link(&c.t, tnode[p], tnode[i]);
	}
	free(tnode);

	/* step 5 */
	sort_roots(&c);
	gather_subjects(&c);
	size_t count = c.n_roots;
	bool merged = false;
	for (size_t i = 0; i < count; i++) {
		if (c.roots[i].parent_root != 0 && !c.roots[i].ignore) {
			merge_root(&c, i);
			merged = true;
		}
	}
	if (merged)
		sort_roots(&c);

	/* step 6 and the answer */
	for (size_t i = 0; i < c.n_roots; i++) {
		const struct root *r = &c.roots[i];
		if (r->ignore)
			continue;
		if (r->dummy && c.t.first_child[r->node] == NONE)
			continue;
		buf_putc(out, '(');
		write_node(&c.t, r->node, out);
		buf_putc(out, ')');
	}

	free(c.roots);
	tree_free(&c.t);
	free(msg_node);
	free(it.nodes);
	free(it.keys);
	free(it.key_lens);
	free(it.vals);
}
