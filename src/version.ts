import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

let cached: string | undefined;
/**
 * A short hash of the code that produces results (every source file of this package), so that a
 * batch can tell whether a saved run is still up to date.
 */
export function codeVersion(): string {
  if (cached) return cached;
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js)$/.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.map')) {
        h.update(p.slice(here.length));
        h.update(readFileSync(p));
      }
    }
  };
  walk(here);
  cached = `${packageVersion()}+${h.digest('hex').slice(0, 12)}`;
  return cached;
}
