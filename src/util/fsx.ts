import { closeSync, fsyncSync, openSync, renameSync, rmdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, basename, join, relative } from 'node:path';
import { makeFolder } from './folders.js';

/** A path as messages and summaries show it: relative to the current folder when inside it, else absolute. */
export function displayPath(p: string): string {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
}

export interface AtomicWriteOptions {
  /** Flush the file, and the folder after the rename, to the disk (checkpoints): the new content
   *  survives a power cut once this returns, not only a killed process. */
  durable?: boolean;
}

/** Writes a file atomically: a temporary name in the same folder, then rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  makeFolder(dirname(file));
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      if (opts.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (opts.durable) {
    try {
      const dfd = openSync(dirname(file), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      // Some filesystems cannot fsync a folder; the rename itself is still atomic.
    }
  }
}

/**
 * Writes several files so that either all of them are replaced or none is: every file goes to a
 * temporary name next to its target first; only when all are written are they renamed into
 * place. On a failure the temporary files, and the folders this call created, are removed.
 */
export function writeFilesAllOrNone(files: Array<{ file: string; data: string | Uint8Array }>): void {
  const created: string[] = [];
  const tmps: Array<{ tmp: string; file: string }> = [];
  const mkdirs = (d: string) => makeFolder(d, created);
  try {
    for (const { file, data } of files) {
      mkdirs(dirname(file));
      const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
      tmps.push({ tmp, file });
      writeFileSync(tmp, data);
    }
  } catch (e) {
    for (const t of tmps) {
      try {
        rmSync(t.tmp, { force: true });
      } catch {
        /* never written (its folder is not a folder) */
      }
    }
    for (const d of created.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty: something else was put there */
      }
    }
    throw e;
  }
  for (const t of tmps) renameSync(t.tmp, t.file);
}
