import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acquireRunLock, LOCK_FILE } from '../src/run/lock.js';
import { UserError } from '../src/util/errors.js';
import { tempDir } from './helpers/fixtures.js';

const lockOf = (pid: number) => JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z' });

test('the lock holds our pid and is removed on release', () => {
  const dir = tempDir();
  const release = acquireRunLock(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  release(); // twice is harmless
});

test('a live owner keeps the folder; a dead one leaves a stale lock that is taken over', async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(dir, LOCK_FILE), lockOf(child.pid!));
    assert.throws(
      () => acquireRunLock(dir),
      (e: unknown) => e instanceof UserError && e.exitCode === 2 && new RegExp(`in use by another facelosses process \\(pid ${child.pid}`).test(e.message),
    );
    assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, child.pid, 'the live lock is left alone');
  } finally {
    child.kill('SIGKILL');
  }
  // A pid that has exited: the lock is stale.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(dir, LOCK_FILE), lockOf(Number(dead.stdout)));
  const release = acquireRunLock(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  release();
  // A half-written lock file is stale too.
  writeFileSync(join(dir, LOCK_FILE), '{"pi');
  acquireRunLock(dir)();
});

test('a holder killed a moment ago (still exiting, or not yet reaped) does not block --resume', () => {
  const dir = tempDir();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  writeFileSync(join(dir, LOCK_FILE), lockOf(child.pid!));
  child.kill('SIGKILL');
  // Synchronously, at once: the child is dying or a zombie (this event loop has not reaped it).
  const t0 = Date.now();
  const release = acquireRunLock(dir);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  assert.ok(Date.now() - t0 < 5000, 'waits at most briefly');
  release();
});
