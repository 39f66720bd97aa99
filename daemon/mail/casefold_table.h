/*
 * casefold_table: the data of casefold.c, generated into casefold_table.c
 * by scripts/gen-casefold.py from Python's str.casefold().
 *
 * A two-level table: the code points are cut into blocks of
 * 1 << CASEFOLD_SHIFT; casefold_stage1[cp >> CASEFOLD_SHIFT] is the number
 * of the block's entries in casefold_stage2 (blocks where nothing folds
 * share block 0, which is all zero; past casefold_stage1_len blocks nothing
 * folds).  The 16-bit entry of a code point says:
 *   0            it folds to itself;
 *   0xD800 + i   it folds to the code points in casefold_multi[i] (fewer
 *                than CASEFOLD_MULTI_MAX end with a 0); a surrogate is
 *                never a folding, so these values mean nothing else;
 *   otherwise    it folds to the code point of its own plane with these
 *                low 16 bits (the generator checks that every folding
 *                stays in its plane).
 */
#ifndef MAILHUB_MAIL_CASEFOLD_TABLE_H
#define MAILHUB_MAIL_CASEFOLD_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define CASEFOLD_SHIFT 6
#define CASEFOLD_MULTI_MAX 3
#define CASEFOLD_MULTI_BASE 0xd800u
#define CASEFOLD_MULTI_END 0xe000u

extern const char casefold_unicode_version[];
extern const uint8_t casefold_stage1[];
extern const size_t casefold_stage1_len;
extern const uint16_t casefold_stage2[][1 << CASEFOLD_SHIFT];
extern const uint32_t casefold_multi[][CASEFOLD_MULTI_MAX];

#endif
