/**
 * Every folder the project creates is created here, one level at a time. Node's recursive
 * `mkdirSync` loops forever at 100 % CPU where a parent exists but refuses new entries with ENOENT
 * (under /proc); creating each missing level on its own fails at once there instead.
 */
import { accessSync, constants, existsSync, mkdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ERRNO_WORDS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file',
  ENOSPC: 'the disk is full',
  ENOENT: 'this place does not take new folders',
  EEXIST: 'a file is in the way',
};

/** An errno error in words, e.g. "EACCES (permission denied)"; other errors by their message. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code ? `${code}${ERRNO_WORDS[code] ? ` (${ERRNO_WORDS[code]})` : ''}` : (e as Error).message;
}

/** The missing folders of `dir`, outermost first, and the nearest path above them that exists. */
function missingLevels(dir: string): { missing: string[]; existing: string } {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d) && dirname(d) !== d) {
    missing.unshift(d);
    d = dirname(d);
  }
  return { missing, existing: d };
}

/**
 * Creates `dir` and its missing parents (like `mkdir -p`) and returns the folders it created,
 * outermost first (also pushed into `created` as they are made, so a caller can remove them after
 * a failure). Throws the file system's error (with its `code`) when a level cannot be made.
 */
export function makeFolder(dir: string, created: string[] = []): string[] {
  const { missing, existing } = missingLevels(dir);
  if (!statSync(existing).isDirectory()) throw Object.assign(new Error(`${existing} is not a folder`), { code: 'ENOTDIR' });
  for (const d of missing) {
    try {
      mkdirSync(d);
      created.push(d);
    } catch (e) {
      // Made meanwhile by another process: fine when it is a folder.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory()) throw e;
    }
  }
  return created;
}

/**
 * What keeps `dir` from being used as an output folder, or undefined when files can be written
 * into it (it exists and takes a file, or it can be created). Leaves nothing behind: the first
 * missing level is created and removed again, a probe file is written and removed.
 */
export function folderProblem(dir: string): { at: string; problem: string; notFolder?: boolean } | undefined {
  const { missing, existing } = missingLevels(dir);
  if (!statSync(existing).isDirectory()) return { at: existing, problem: 'a file, not a folder', notFolder: true };
  try {
    accessSync(existing, constants.W_OK);
    if (missing.length) {
      mkdirSync(missing[0]!);
      rmdirSync(missing[0]!);
    } else {
      const probe = join(existing, `.facelosses-probe-${process.pid}`);
      writeFileSync(probe, '');
      rmSync(probe, { force: true });
    }
  } catch (e) {
    return { at: missing[0] ?? existing, problem: errnoText(e) };
  }
  return undefined;
}
