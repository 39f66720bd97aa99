/*
 * htmlent_table: the data of htmltext.c's character references, generated
 * into htmlent_table.c by scripts/gen-htmlent.py from Python's
 * html.entities.html5 (the WHATWG list).
 *
 * html_entities: every name with what it stands for (UTF-8), sorted by
 * strcmp() of the name; a name ends in ";" except the 106 legacy ones
 * that HTML also takes without it ("amp", "eacute", ...).
 * html_c1_refs: the code point that &#128; to &#159; stand for
 * (windows-1252, as HTML reads them).
 */
#ifndef MAILHUB_MAIL_HTMLENT_TABLE_H
#define MAILHUB_MAIL_HTMLENT_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct html_entity {
	const char *name;
	const char *value;
};

/* The longest name, its ";" included. */
#define HTML_ENTITY_NAME_MAX 32

extern const struct html_entity html_entities[];
extern const size_t html_entities_count;
extern const uint16_t html_c1_refs[32];

#endif
