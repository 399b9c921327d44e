/**
 * Commands printed in hints ("continue with: ...") as the user can paste them: `npx facelosses`
 * in a clone or a project that has the package in node_modules, `facelosses` for a global
 * install; paths relative to the current folder, quoted when the shell needs it.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function inside(child: string, parent: string): boolean {
  const r = relative(parent, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** The command that runs this CLI from the current folder. */
export function cliName(cwd = process.cwd()): string {
  const root = resolve(PACKAGE_ROOT);
  if (inside(cwd, root) || root.includes(`${sep}_npx${sep}`)) return 'npx facelosses';
  // A project with the package installed locally: <project>/node_modules/facelosses.
  for (let d = resolve(cwd); ; d = dirname(d)) {
    if (resolve(join(d, 'node_modules', 'facelosses')) === root) return 'npx facelosses';
    if (dirname(d) === d) break;
  }
  if (existsSync(join(root, 'src', 'cli', 'main.ts'))) return `node ${shellArg(join(root, 'bin', 'facelosses.js'))}`;
  return 'facelosses';
}

/** A path as a shell argument: relative to the current folder when inside it, quoted if needed. */
export function shellPath(p: string, cwd = process.cwd()): string {
  const abs = resolve(p);
  const rel = relative(cwd, abs);
  return shellArg(rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? abs : rel);
}

export function shellArg(s: string): string {
  return /^[A-Za-z0-9_./:=,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `npx facelosses <args>` with paths made pasteable by the caller. */
export function command(...args: string[]): string {
  return [cliName(), ...args].join(' ');
}
