/**
 * Which folder a new run may be written into: a new or empty one, or a run (replaced only with
 * --force, and then only the files a run wrote); never a folder of other files. Checked before
 * anything is written or trained.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { command, shellPath } from '../util/command-line.js';
import { UserError } from '../util/errors.js';
import { errnoText, folderProblem, makeFolder } from '../util/folders.js';
import { hasCheckpoint } from './checkpoint.js';
import { acquireRunLock } from './lock.js';
import { folderState, removeRunFiles } from './replace.js';

export { errnoText } from '../util/folders.js';

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

/**
 * Why `dir` cannot take a new run without --force (or at all), or undefined when it can. Changes
 * nothing.
 */
export function runDirRefusal(dir: string, force: boolean): string | undefined {
  if (existsSync(dir) && !statSync(dir).isDirectory()) return `output path ${shellPath(dir)} exists and is not a folder; choose another --out`;
  const st = folderState(dir);
  const p = shellPath(dir);
  switch (st.kind) {
    case 'missing':
    case 'empty':
      return undefined;
    case 'other':
      return `${p} is not a facelosses run folder and holds other files (e.g. ${st.example}); a run is written only into a new or empty folder, or over a run: choose another --out, e.g. runs/NAME`;
    case 'damaged':
      return force ? undefined : `${join(p, 'run.json')}: unreadable run file (${st.problem}); start the run over with --force (it removes only the files a run wrote)`;
    case 'run': {
      if (force) return undefined;
      const info = st.info;
      if (info.status === 'finished') {
        const acc = info.validAccuracy !== undefined ? `, valid accuracy ${(100 * info.validAccuracy).toFixed(2)}%` : '';
        return `${p} holds a finished run (${info.config.name}, ${info.profile} profile${acc}); train into another folder with --out, or replace it with --force`;
      }
      if (!hasCheckpoint(dir)) return `${p} holds a run that stopped before its first checkpoint (status: ${info.status}); start it over with --force`;
      return `${p} holds an unfinished run (status: ${info.status}); continue it with --resume (${command('train', '--resume', p)}), or start over with --force`;
    }
  }
}

/**
 * Makes sure `dir` can hold a new run: refuses to replace a run without --force and never uses a
 * folder that holds anything but a run; with --force removes only what the old run wrote. Takes
 * the folder's lock (before anything in it is removed) and returns its release.
 */
export function prepareRunDir(dir: string, force: boolean): () => void {
  let unlock: (() => void) | undefined;
  try {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UserError(`output path ${shellPath(dir)} exists and is not a folder; choose another --out`);
      unlock = acquireRunLock(dir);
      const refusal = runDirRefusal(dir, force);
      if (refusal) throw new UserError(refusal);
      const st = folderState(dir);
      if (st.kind === 'run') removeRunFiles(dir, st.info);
      else if (st.kind === 'damaged') removeRunFiles(dir);
    }
    try {
      makeFolder(dir);
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new UserError(`cannot write to output folder ${dir}: ${errnoText(e)}; choose another --out`);
    }
    return unlock ?? acquireRunLock(dir);
  } catch (e) {
    unlock?.();
    throw e;
  }
}
