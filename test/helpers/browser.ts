/**
 * A real browser for the report tests: Debian's chromium driven by playwright-core (no browser
 * download). Missing chromium fails the test with what to install: never a silent skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export function chromiumPath(): string {
  const env = process.env.FACELOSSES_CHROMIUM;
  if (env) {
    if (!existsSync(env)) throw new Error(`FACELOSSES_CHROMIUM=${env} does not exist`);
    return env;
  }
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error(
    'chromium is not installed: the report tests open the page in a real browser. Install it with `apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), or point FACELOSSES_CHROMIUM at a Chromium binary',
  );
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu'] });
}
