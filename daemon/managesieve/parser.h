/*
 * managesieve/parser: the ManageSieve command parser (RFC 5804 §4).  Pure:
 * it takes bytes and never touches a socket, so it can be unit tested byte
 * at a time and fuzzed.
 *
 * A command is an atom (any case), then arguments separated by spaces,
 * then CRLF (a bare LF is accepted).  An argument is a number (0 to
 * 4294967295), a quoted string (at most MSIEVE_QUOTED_MAX octets, with \"
 * and \\ escapes, no CR, LF or NUL), or a literal: "{N+}" CRLF and N
 * octets (RFC 5804 §4 literal-c2s); "{N}" is taken the same way, since a
 * ManageSieve server sends no continuation (Dovecot does the same).  A
 * literal longer than the caller's limit is refused before it is read.
 *
 * This module knows how many arguments of which kind each command takes;
 * which command is allowed in which state is the session's business
 * (session.c's command tables).  The SASL responses of AUTHENTICATE are a
 * lone string on a line (RFC 5804 §2.1): msieve_parse() with
 * MSIEVE_PARSE_RESPONSE reads those.
 */
#ifndef MAILHUB_MANAGESIEVE_PARSER_H
#define MAILHUB_MANAGESIEVE_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5804 §4: a quoted string is at most 1024 octets */
#define MSIEVE_QUOTED_MAX 1024
/* the most arguments a command takes (AUTHENTICATE, PUTSCRIPT,
 * RENAMESCRIPT, HAVESPACE take two) */
#define MSIEVE_ARGS_MAX 2

enum msieve_verb {
	MSIEVE_CMD_UNKNOWN,
	MSIEVE_CMD_AUTHENTICATE,
	MSIEVE_CMD_STARTTLS,
	MSIEVE_CMD_LOGOUT,
	MSIEVE_CMD_CAPABILITY,
	MSIEVE_CMD_HAVESPACE,
	MSIEVE_CMD_PUTSCRIPT,
	MSIEVE_CMD_LISTSCRIPTS,
	MSIEVE_CMD_SETACTIVE,
	MSIEVE_CMD_GETSCRIPT,
	MSIEVE_CMD_DELETESCRIPT,
	MSIEVE_CMD_RENAMESCRIPT,
	MSIEVE_CMD_CHECKSCRIPT,
	MSIEVE_CMD_NOOP,
	MSIEVE_CMD_UNAUTHENTICATE,
	MSIEVE_CMD_COUNT
};

struct msieve_arg {
	bool is_number;
	uint32_t number;	/* is_number */
	char *str;		/* otherwise: owned, NUL-terminated (it may
				 * hold NULs when it came as a literal) */
	size_t len;
};

/* A parsed command; its strings are freed by msieve_command_clear(). */
struct msieve_command {
	enum msieve_verb verb;
	size_t n_args;
	struct msieve_arg args[MSIEVE_ARGS_MAX];
};

enum msieve_parse_result {
	MSIEVE_PARSE_OK,	/* *cmd_r filled, *used_r bytes used */
	MSIEVE_PARSE_NEED_MORE,	/* incomplete: *need_r more octets of a
				 * literal are due (0: read up to a LF) */
	MSIEVE_PARSE_ERROR,	/* a complete line that is not a valid
				 * command: *used_r bytes (through its LF)
				 * used, *error_r says why */
	MSIEVE_PARSE_TOOBIG,	/* a literal over the limit: *used_r bytes
				 * (through the literal's "{N+}" line) used;
				 * the caller skips *need_r octets and the rest
				 * of that line, then refuses the command */
};

enum msieve_parse_mode {
	MSIEVE_PARSE_COMMAND,	/* atom *(SP argument) CRLF */
	MSIEVE_PARSE_RESPONSE,	/* string CRLF: a SASL response (verb
				 * MSIEVE_CMD_UNKNOWN, one argument) */
};

/*
 * Parses the first command in data[0..len), literals up to literal_max
 * octets.  An unknown atom is MSIEVE_PARSE_OK with MSIEVE_CMD_UNKNOWN (its
 * arguments read and dropped), so the session answers it in its state; a
 * known atom with the wrong arguments is MSIEVE_PARSE_ERROR.  On OK clear
 * *cmd_r with msieve_command_clear(); on other results it holds nothing.
 */
enum msieve_parse_result msieve_parse(const char *data, size_t len,
				      enum msieve_parse_mode mode,
				      size_t literal_max,
				      struct msieve_command *cmd_r,
				      size_t *used_r, size_t *need_r,
				      const char **error_r);

/* Frees the strings of cmd (wiping them: AUTHENTICATE carries secrets). */
void msieve_command_clear(struct msieve_command *cmd);

/* The atom of a verb ("PUTSCRIPT"); "?" for MSIEVE_CMD_UNKNOWN. */
const char *msieve_verb_name(enum msieve_verb verb);

#endif
