#!/usr/bin/env node
// Entry point. In a checkout (src/ present) the TypeScript sources run through tsx, so the CLI
// never runs a stale build; an installed package (no src/) runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// A run started by `facelosses worker` ends with it, even when the worker is killed (SIGKILL):
// its checkpoints are uploaded by the worker, and another worker continues the job.
const parent = Number(process.env.FACELOSSES_EXIT_WITH_PARENT);
if (parent > 0) {
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
  }, 500).unref();
}

const src = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
let cli;
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(pathToFileURL(src).href);
} else {
  cli = await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
const exitCode = await cli.main(process.argv);
// Exit explicitly: engine worker threads (threaded wasm) or a lingering handle must not keep a
// finished command alive. Writes to stdout/stderr are synchronous for files and pipes on Linux.
process.exit(exitCode);
