/**
 * Progress for long work: a bar with ETA redrawn in place on a terminal, plain lines otherwise
 * (CI logs, pipes), at most one every few seconds plus one per epoch.
 */
import type { TrainEvent } from '../train/trainer.js';
import { formatDuration } from '../util/duration.js';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The terminal's width now (it follows resizes), 80 when unknown. */
function columnsOf(stream: { columns?: number }): number {
  return stream.columns && stream.columns > 0 ? stream.columns : 80;
}

type StepEvent = Extract<TrainEvent, { type: 'step' }>;

/**
 * The redrawn progress line, at most `columns - 1` characters (a line as wide as the terminal
 * wraps on some terminals): the bar, then the details that fit, most important first. The
 * percentage and the step counter both count steps of the whole run.
 */
export function stepLine(e: StepEvent, epochs: number, prefix: string, left: string, columns: number): string {
  const max = Math.max(10, columns - 1);
  const frac = e.doneSteps / e.totalSteps;
  const pctText = `${(frac * 100).toFixed(1)}%`;
  const head = `${prefix}epoch ${e.epoch}/${epochs}`;
  const optional = [`step ${e.doneSteps}/${e.totalSteps}`, `loss ${e.loss.toFixed(4)}`, `${Math.round(e.imagesPerSecond)} img/s`];
  for (let keep = optional.length; keep >= 0; keep--) {
    const tail = [pctText, ...optional.slice(0, keep), `ETA ${left}`].join(' ');
    const room = max - head.length - tail.length - 4; // ' [' + '] '
    if (room >= 10 || (keep === 0 && room >= 0)) {
      const width = Math.min(24, room);
      if (width < 3) return `${head} ${tail}`.slice(0, max);
      const fill = Math.round(frac * width);
      return `${head} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${tail}`;
    }
  }
  // Too narrow for the epoch with its prefix: the numbers that matter most, never a cut number.
  for (const short of [`epoch ${e.epoch}/${epochs} ${pctText} ETA ${left}`, `${pctText} ETA ${left}`, pctText]) if (short.length <= max) return short;
  return '';
}

/** The progress of a run: called with each event; `interrupt()` clears the bar and stops drawing it. */
export interface Progress {
  (e: TrainEvent): void;
  /** Ctrl-C: the bar is cleared (with the ^C the terminal echoed onto it) and not drawn again, so the messages that follow stand on their own lines. */
  interrupt(): void;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The pace behind the ETA: steps per second over the later half of the steps timed so far, so the
 * slow first steps (a warming engine, the first evaluation) weigh less as the run goes on.
 */
export function recentPace(samples: Array<{ time: number; steps: number }>): { seconds: number; steps: number } {
  const last = samples[samples.length - 1]!;
  const first = samples[0]!;
  const mid = first.time + (last.time - first.time) / 2;
  const from = samples.find((x) => x.time >= mid && last.steps - x.steps >= 3) ?? first;
  return { seconds: (last.time - from.time) / 1000, steps: last.steps - from.steps };
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, label = '', now: () => number = () => performance.now()): Progress {
  const tty = Boolean(stream.isTTY);
  let interrupted = false;
  // Step times for the pace (recentPace), thinned to at most about 200 entries.
  const samples: Array<{ time: number; steps: number }> = [];
  let lastPlain = 0;
  let epochs = 1;
  let warmup = 0;
  let lineOpen = false;
  let etaShown = false;
  const prefix = label ? `[${label}] ` : '';
  // The pace is timed from the end of this process's first step: the steps of a resumed run's
  // earlier processes do not count, and start-up, worker start and the first step's compilation
  // would otherwise inflate the early estimate (2x on the first command).
  let origin: { time: number; steps: number } | undefined;
  const clear = () => {
    if (tty && lineOpen) {
      stream.write('\r\x1b[K');
      lineOpen = false;
    }
  };
  const progress = (e: TrainEvent) => {
    if (interrupted && e.type === 'step') return;
    switch (e.type) {
      case 'start':
        epochs = e.epochs;
        warmup = e.warmupEpochs ?? 0;
        clear();
        stream.write(`${prefix}training ${plural(e.epochs, 'epoch')} x ${plural(e.stepsPerEpoch, 'step')} (${e.trainCount} train images/epoch, ${e.validCount} valid)${warmup > 0 ? `, lr warm-up over ${warmup} epoch${warmup === 1 ? '' : 's'}` : ''}${e.startEpoch > 1 ? `, resuming at epoch ${e.startEpoch}` : ''}\n`);
        break;
      case 'step': {
        const t = now();
        origin ??= { time: t, steps: e.doneSteps };
        samples.push({ time: t, steps: e.doneSteps });
        if (samples.length > 400) samples.splice(0, samples.length, ...samples.filter((_, i) => i % 2 === 0 || i === samples.length - 1));
        const frac = e.doneSteps / e.totalSteps;
        const since = { seconds: (t - origin.time) / 1000, steps: e.doneSteps - origin.steps };
        const paced = recentPace(samples);
        const more = e.totalSteps - e.doneSteps;
        const left = formatDuration(paced.steps > 0 ? (more * paced.seconds) / paced.steps : NaN);
        // One line with the estimate for the whole run, once the pace is known (ten seconds in, or
        // at the end of the first epoch), and only when steps are left.
        if (!etaShown && more > 0 && since.steps >= 3 && (since.seconds >= 10 || e.step === e.stepsPerEpoch)) {
          etaShown = true;
          clear();
          stream.write(`${prefix}estimated time left: ${left} for ${plural(more, 'more step')} (${Math.round(e.imagesPerSecond)} img/s)\n`);
        }
        if (tty) {
          stream.write(`\r\x1b[K${stepLine(e, epochs, prefix, left, columnsOf(stream))}`);
          lineOpen = true;
        } else {
          if (t - lastPlain > 30000) {
            lastPlain = t;
            stream.write(`${prefix}epoch ${e.epoch}/${epochs}, step ${e.doneSteps}/${e.totalSteps} (${(frac * 100).toFixed(1)}%), loss ${e.loss.toFixed(4)}, ${Math.round(e.imagesPerSecond)} img/s, ETA ${left}\n`);
          }
        }
        break;
      }
      case 'epoch': {
        const m = e.metrics;
        clear();
        lastPlain = now();
        stream.write(
          `${prefix}epoch ${m.epoch}/${e.epochs}: loss ${m.loss.toFixed(4)}, train acc ${pct(m.trainAccuracy)}, valid acc ${pct(m.validAccuracy)}, ${Math.round(m.imagesPerSecond)} img/s, ${m.seconds.toFixed(1)}s, lr ${m.lr.toExponential(2)}${m.epoch <= Math.ceil(warmup) ? ' (warming up to it)' : ''}\n`,
        );
        break;
      }
      case 'snapshot':
        clear();
        stream.write(`${prefix}snapshot at epoch ${e.epoch}: ${plural(e.files.length, 'file')}\n`);
        break;
    }
  };
  return Object.assign(progress, {
    interrupt: () => {
      interrupted = true;
      clear();
    },
  });
}
