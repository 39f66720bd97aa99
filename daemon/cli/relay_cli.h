/*
 * relay_cli: the relay's subcommands (`mailhub queue`, `mailhub relay`),
 * in cli/queue.c and cli/relay.c; main.c lists them in its command table.
 */
#ifndef MAILHUB_CLI_RELAY_CLI_H
#define MAILHUB_CLI_RELAY_CLI_H

#include "cli/cli.h"

/* `mailhub queue list|retry ID|delete ID|flush` */
cli_command_fn cmd_queue;
/* `mailhub relay show | smarthost HOST:PORT --tls implicit|starttls
 * [--username U --password-stdin] | direct` */
cli_command_fn cmd_relay;

#endif
