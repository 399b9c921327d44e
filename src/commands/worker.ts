/** `facelosses worker --queue redis://host:port[/db]`: trains the runs of a queue until stopped (src/queue/worker.ts). */
import { startWorker, type WorkerOptions } from '../queue/worker.js';
import { Interrupted } from '../util/errors.js';
import { makeOutputFolder } from './outputs.js';

export async function workerCommand(o: WorkerOptions): Promise<void> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`));
  // The work folder is checked (and made) before Redis is asked for anything.
  if (o.workDir !== undefined) makeOutputFolder(o.workDir, '--work-dir');
  const w = await startWorker({ ...o, log });
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      log(`${sig} again: stopping now; the jobs in progress are taken again from their last stored checkpoint`);
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    }
    signalled = sig;
    log(`${sig}: stopping; runs in progress save a checkpoint, which is stored, and go back to the queue (send it again to stop at once)`);
    void w.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await w.closed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (signalled) throw new Interrupted(`worker ${w.name} stopped`, signalled === 'SIGTERM' ? 143 : 130);
}
