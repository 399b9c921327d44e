/**
 * The output locations of a command (run folder, --pics, --work-dir, the gallery, the batch
 * report), checked before any training starts, so that a bad one is a one-line error (exit 2) at
 * once rather than a failure at the end of a run.
 */
import { resolve } from 'node:path';
import { shellPath } from '../util/command-line.js';
import { UserError } from '../util/errors.js';
import { folderProblem, makeFolder, errnoText } from '../util/folders.js';

/**
 * Checks, before anything is trained, that `dir` is a folder that exists and can be written, or
 * can be created (src/util/folders.ts): `what` names the flag in the message.
 */
export function checkWritableFolder(dir: string, what: string): void {
  const p = folderProblem(dir);
  if (!p) return;
  const shown = shellPath(dir);
  if (p.notFolder) {
    throw new UserError(p.at === resolve(dir) ? `${what} ${shown} is a file, not a folder; give a folder (a new one is created)` : `cannot write to ${what} ${shown}: ${shellPath(p.at)} is a file, not a folder; choose another ${what}`);
  }
  throw new UserError(`cannot write to ${what} ${shown}: ${shellPath(p.at)}: ${p.problem}; choose another ${what}${/^E(ACCES|PERM)/.test(p.problem) ? ' or make it writable' : ''}`);
}

/** Checks `dir` (see checkWritableFolder) and creates it; `what` names the flag. */
export function makeOutputFolder(dir: string, what: string): void {
  checkWritableFolder(dir, what);
  try {
    makeFolder(dir);
  } catch (e) {
    throw new UserError(`cannot create ${what} ${shellPath(dir)}: ${errnoText(e)}; choose another ${what}`);
  }
}
