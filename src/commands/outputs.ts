/**
 * The output locations of a command (run folder, --pics, --work-dir, the gallery, the batch
 * report), checked before any training starts, so that a bad one is a one-line error (exit 2) at
 * once rather than a failure at the end of a run.
 */
import { shellPath } from '../util/command-line.js';
import { UserError } from '../util/errors.js';
import { checkWritableFolder } from '../run/folder.js';
import { makeFolder, errnoText } from '../util/folders.js';

export { checkWritableFolder };

/** Checks `dir` (see checkWritableFolder) and creates it; `what` names the flag. */
export function makeOutputFolder(dir: string, what: string): void {
  checkWritableFolder(dir, what);
  try {
    makeFolder(dir);
  } catch (e) {
    throw new UserError(`cannot create ${what} ${shellPath(dir)}: ${errnoText(e)}; choose another ${what}`);
  }
}
