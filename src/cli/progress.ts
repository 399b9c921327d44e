/**
 * Progress for long work: a bar with ETA redrawn in place on a terminal, plain lines otherwise
 * (CI logs, pipes), at most one every few seconds plus one per epoch.
 */
import type { TrainEvent } from '../train/trainer.js';

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function createProgress(stream: NodeJS.WriteStream = process.stderr, label = ''): (e: TrainEvent) => void {
  const tty = Boolean(stream.isTTY);
  const t0 = performance.now();
  let lastPlain = 0;
  let epochs = 1;
  let warmup = 0;
  let lineOpen = false;
  const prefix = label ? `[${label}] ` : '';
  // Steps done before this process (a resumed run): the ETA counts only this process's pace.
  let base: number | undefined;
  const eta = (done: number, total: number) => {
    const el = (performance.now() - t0) / 1000;
    const mine = done - (base ?? 0);
    return mine > 0 ? ((total - done) * el) / mine : NaN;
  };
  const clear = () => {
    if (tty && lineOpen) {
      stream.write('\r\x1b[K');
      lineOpen = false;
    }
  };
  return (e) => {
    switch (e.type) {
      case 'start':
        epochs = e.epochs;
        warmup = e.warmupEpochs ?? 0;
        clear();
        stream.write(`${prefix}training ${e.epochs} epochs x ${e.stepsPerEpoch} steps (${e.trainCount} train images/epoch, ${e.validCount} valid)${warmup > 0 ? `, lr warm-up over ${warmup} epoch${warmup === 1 ? '' : 's'}` : ''}${e.startEpoch > 1 ? `, resuming at epoch ${e.startEpoch}` : ''}\n`);
        break;
      case 'step': {
        base ??= e.doneSteps - 1;
        const frac = e.doneSteps / e.totalSteps;
        const left = formatDuration(eta(e.doneSteps, e.totalSteps));
        if (tty) {
          const width = 24;
          const fill = Math.round(frac * width);
          const bar = '#'.repeat(fill) + '-'.repeat(width - fill);
          stream.write(`\r\x1b[K${prefix}epoch ${e.epoch}/${epochs} [${bar}] ${(frac * 100).toFixed(1)}% step ${e.step}/${e.stepsPerEpoch} loss ${e.loss.toFixed(4)} ${Math.round(e.imagesPerSecond)} img/s ETA ${left}`);
          lineOpen = true;
        } else {
          const now = performance.now();
          if (now - lastPlain > 30000) {
            lastPlain = now;
            stream.write(`${prefix}epoch ${e.epoch}/${epochs} step ${e.step}/${e.stepsPerEpoch} loss ${e.loss.toFixed(4)} ${Math.round(e.imagesPerSecond)} img/s, ${(frac * 100).toFixed(1)}% done, ETA ${left}\n`);
          }
        }
        break;
      }
      case 'epoch': {
        const m = e.metrics;
        clear();
        lastPlain = performance.now();
        stream.write(
          `${prefix}epoch ${m.epoch}/${e.epochs}: loss ${m.loss.toFixed(4)}, train acc ${pct(m.trainAccuracy)}, valid acc ${pct(m.validAccuracy)}, ${Math.round(m.imagesPerSecond)} img/s, ${m.seconds.toFixed(1)}s, lr ${m.lr.toExponential(2)}${m.epoch <= Math.ceil(warmup) ? ' (warming up to it)' : ''}\n`,
        );
        break;
      }
      case 'snapshot':
        clear();
        stream.write(`${prefix}snapshot at epoch ${e.epoch}: ${e.files.length} files\n`);
        break;
    }
  };
}
