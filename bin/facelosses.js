#!/usr/bin/env node
// Entry point. In a checkout (src/ present) the TypeScript sources run through tsx, so the CLI
// never runs a stale build; an installed package (no src/) runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const src = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(src).href);
} else {
  await import(new URL('../dist/cli.js', import.meta.url).href);
}
