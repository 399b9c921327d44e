/**
 * An error the user caused (bad config, missing file, bad flag). The CLI prints its message on
 * one line and exits with `exitCode` (2 by default); no stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Work stopped on request (Ctrl-C: exit code 130, SIGTERM: 143) after saving what it needs to
 *  continue; the CLI prints the message (how to continue) without calling it an error. */
export class Interrupted extends UserError {}
