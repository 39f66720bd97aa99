/*
 * command: the POP3 command parser (RFC 1939 §3, RFC 2449 §4, RFC 2595 §4,
 * RFC 5034 §4).  Pure: it takes bytes and never touches a socket, so it can
 * be unit tested byte at a time and fuzzed.
 *
 * A command line is a keyword of three or four letters (any case), then
 * arguments separated by spaces, then CRLF (a bare LF is accepted, as
 * Dovecot and most servers do).  This module knows the syntax of every
 * command mailhub serves: how many arguments, which are message numbers.
 * Which command is allowed in which session state is the server's business
 * (server.c's command tables), not the parser's.
 *
 * RFC 2449 §4 caps a command line at 255 octets with its CRLF
 * (POP3_LINE_MAX); a message number is at most 10 digits and fits in
 * 32 bits (the store's UIDs and counts do).
 */
#ifndef MAILHUB_POP3_COMMAND_H
#define MAILHUB_POP3_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The commands this server knows.  APOP is deliberately absent (it needs
 * the password in clear on the server); it parses as POP3_CMD_UNKNOWN. */
enum pop3_verb {
	POP3_CMD_UNKNOWN,
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_AUTH,
	POP3_CMD_STLS,
	POP3_CMD_CAPA,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_COUNT
};

/* A parsed command.  The strings are copies owned by the command (freed by
 * pop3_command_clear()); unused ones are NULL. */
struct pop3_command {
	enum pop3_verb verb;
	/* USER name, PASS password (the rest of the line, spaces included:
	 * RFC 1939 §7 lets a server take them as part of the password),
	 * AUTH mechanism (as sent) */
	char *arg;
	/* AUTH's initial response (RFC 5034 §4), NULL when none was sent */
	char *initial;
	/* LIST/UIDL [msg], RETR/DELE msg, TOP msg n */
	bool has_msg;
	uint32_t msg;
	uint32_t lines;		/* TOP's line count */
};

/* Results of pop3_command_parse(). */
enum pop3_parse_result {
	POP3_PARSE_OK,		/* *cmd_r filled, *consumed_r bytes used */
	POP3_PARSE_NEED_MORE,	/* no complete line yet: read more bytes */
	POP3_PARSE_ERROR,	/* a complete line that is not a valid command:
				 * *consumed_r bytes (the line) used, *error_r
				 * is the reason for the -ERR reply */
	POP3_PARSE_TOOLONG,	/* over POP3_LINE_MAX without a LF: the caller
				 * skips through the next LF and says -ERR */
};

/*
 * Parses the first command line in data[0..len).  On POP3_PARSE_OK the
 * command is in *cmd_r (clear it with pop3_command_clear()); on
 * POP3_PARSE_OK and POP3_PARSE_ERROR *consumed_r says how many bytes the
 * line took, terminator included.  An unknown keyword is POP3_PARSE_OK with
 * verb POP3_CMD_UNKNOWN (so the server can answer it in the right state);
 * a known keyword with bad arguments is POP3_PARSE_ERROR.
 */
enum pop3_parse_result pop3_command_parse(const char *data, size_t len,
					  struct pop3_command *cmd_r,
					  size_t *consumed_r,
					  const char **error_r);

/* Parses one complete line (with or without its CRLF/LF); for a caller that
 * reads lines itself (conn_read_line).  POP3_PARSE_OK or POP3_PARSE_ERROR. */
enum pop3_parse_result pop3_command_parse_line(const char *line, size_t len,
					       struct pop3_command *cmd_r,
					       const char **error_r);

/* Frees the strings of cmd (wiping the password) and zeroes it. */
void pop3_command_clear(struct pop3_command *cmd);

/* The keyword of a verb in upper case ("RETR"); "?" for POP3_CMD_UNKNOWN. */
const char *pop3_verb_name(enum pop3_verb verb);

/*
 * Parses a message number or a line count: 1 to 10 ASCII digits, value at
 * most UINT32_MAX.  Returns 0 and *value_r, or -1.  (Zero is a valid
 * number here; "no such message" is the session's answer to it.)
 */
int pop3_parse_number(const char *s, size_t len, uint32_t *value_r);

#endif
