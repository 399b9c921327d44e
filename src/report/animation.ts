/**
 * A run's animation: its feature history (src/run/history.ts) drawn frame by frame with the same
 * drawing code, colours, digits and title as the static figures (src/plot/scatter.ts,
 * ./figures.ts), plus the loss's class vectors (weights as arrows, centers as ringed dots), the
 * frame's step and accuracy in the title, axes fixed at the last frame's (so the last frame is the
 * static figure of the last epoch), and a pause on the last frame. Written as a GIF:
 *   <pics>/<Folder>/<DisplayName>-<split>-animation[_unit].gif
 * e.g. pics/Softmax/SoftmaxLoss-valid-animation.gif.
 */
import { join } from 'node:path';
import { type ResolvedConfig, scheduleNote } from '../config/config.js';
import { encodeGif, frameDelays, type GifFrame } from '../plot/animation.js';
import { paddedBounds } from '../plot/limits.js';
import { renderScatterRgba } from '../plot/scatter.js';
import { formatTitleParams } from '../plot/title.js';
import { type History, type HistoryFrame, type HistoryPoints, readHistory } from '../run/history.js';
import { readRunInfo } from '../run/run.js';
import type { SplitName } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { animationPath } from '../run/figure-names.js';
import { figureNaming, type FigureNaming, figureTitle, type View } from './figures.js';

/** The run's features are not 2-D: there is no animation to draw (yet). */
export class NotTwoDimensional extends UserError {}

export interface AnimationOptions {
  split?: SplitName;
  view?: 'raw' | 'unit';
  colorBy?: 'predicted' | 'true';
  width?: number;
  height?: number;
  /** Frames a second (default: about 5 s of motion, 3 to 12 a second). */
  fps?: number;
  /** How long the last frame shows, in seconds (default 2.5). */
  pauseSeconds?: number;
  /** Called after each frame is drawn. */
  onFrame?: (done: number, total: number) => void;
}

export { animationPath };

const pct = (a: number) => `${(100 * a).toFixed(2)}%`;

function accuracyOf(p: HistoryPoints): number | null {
  if (p.labels.length === 0) return null;
  let c = 0;
  for (let i = 0; i < p.labels.length; i++) if (p.labels[i] === p.predicted[i]) c++;
  return c / p.labels.length;
}

/**
 * The title of a frame: the static figure's first line (loss, split, colouring, view, profile),
 * then its parameters with the frame's epoch, step and accuracy: `bias=False, epoch=5, step=2340,
 * accuracy 97.12%` (early frames: `step=20 (epoch 0.04)`).
 */
export function frameTitle(naming: FigureNaming, schedule: string, f: HistoryFrame, split: SplitName, opts: { colorBy?: 'predicted' | 'true'; view?: View; stepsPerEpoch: number }): string {
  const whole = Number.isInteger(f.epoch);
  const head = figureTitle(naming, whole ? f.epoch : 0, schedule, { split, colorBy: opts.colorBy, view: opts.view }).split('\n')[0]!;
  const params = formatTitleParams(naming.titleParams, undefined, { integerKeys: naming.integerKeys });
  const when = whole ? `epoch=${f.epoch}, step=${f.step}` : `step=${f.step} (epoch ${f.epoch.toFixed(2)})`;
  const points = split === 'valid' ? f.valid : f.train;
  const acc = split === 'valid' && f.validAccuracy !== null ? f.validAccuracy : accuracyOf(points);
  return `${head}\n${[params, when, ...(acc !== null ? [`accuracy ${pct(acc)}`] : [])].filter(Boolean).join(', ')}`;
}

export interface RenderedAnimation {
  gif: Uint8Array;
  frames: number;
  width: number;
  height: number;
  source: History['source'];
}

/** The run's animation in memory: nothing is written. */
export async function renderAnimation(runDir: string, opts: AnimationOptions = {}): Promise<RenderedAnimation> {
  const info = readRunInfo(runDir);
  const history = readHistory(runDir);
  return renderHistoryAnimation(history, info.config, opts, runDir);
}

/** Draws the frames of one run's animation: how many there are, and each one's pixels. */
function frameRenderer(history: History, config: ResolvedConfig, opts: AnimationOptions, where: string) {
  const split = opts.split ?? 'valid';
  const view = opts.view ?? 'raw';
  const colorBy = opts.colorBy ?? config.plot.colorBy;
  const width = opts.width ?? config.plot.width;
  const height = opts.height ?? config.plot.height;
  const pointsOf = (f: HistoryFrame) => (split === 'valid' ? f.valid : f.train);
  const frames = history.frames.filter((f) => pointsOf(f).labels.length > 0);
  if (frames.length === 0) {
    throw new UserError(`${where} has no saved ${split} features to animate yet (no history/ frames or snapshots); train it first, or wait for its first snapshot epoch`);
  }
  if (history.dim !== 2) throw new NotTwoDimensional(`${where} has ${history.dim}-D features; animations draw 2-D features only`);
  const naming = figureNaming(config);
  const schedule = scheduleNote(config);
  // Fixed axes: the last frame's own (what its static figure uses); earlier points beyond them are clipped.
  const last = pointsOf(frames[frames.length - 1]!);
  const bounds = paddedBounds(
    (function* () {
      for (let i = 0; i < last.labels.length; i++) {
        const x = last.features[2 * i]!;
        const y = last.features[2 * i + 1]!;
        if (Number.isFinite(x) && Number.isFinite(y)) yield [x, y] as [number, number];
      }
    })(),
  );
  const render = async (i: number) => {
    const f = frames[i]!;
    const p = pointsOf(f);
    const img = await renderScatterRgba({
      points: p.features,
      colorLabels: colorBy === 'true' ? p.labels : p.predicted,
      numClasses: history.numClasses,
      title: frameTitle(naming, schedule, f, split, { colorBy, view, stepsPerEpoch: history.stepsPerEpoch }),
      width,
      height,
      view,
      bounds: view === 'raw' ? bounds : undefined,
      classVectors: f.weights && history.weightsKind ? { kind: history.weightsKind === 'centers' ? 'centers' : 'weights', xy: f.weights } : undefined,
    });
    return img.rgba;
  };
  return { count: frames.length, width, height, render };
}

/** An animation of `history` (of a run with `config`). */
export async function renderHistoryAnimation(history: History, config: ResolvedConfig, opts: AnimationOptions = {}, where = 'the run'): Promise<RenderedAnimation> {
  const r = frameRenderer(history, config, opts, where);
  const delays = frameDelays(r.count, { fps: opts.fps, pauseMs: 1000 * (opts.pauseSeconds ?? 2.5) });
  const out: GifFrame[] = [];
  for (let i = 0; i < r.count; i++) {
    out.push({ rgba: await r.render(i), delayMs: delays[i]! });
    opts.onFrame?.(i + 1, r.count);
  }
  return { gif: encodeGif(out, r.width, r.height), frames: r.count, width: r.width, height: r.height, source: history.source };
}

/**
 * Several runs side by side on one clock (e.g. Softmax, Center, ArcFace and Ring loss forming):
 * tiles of `width` x `height` (default 480x360) in `columns` columns (default: 2 for 4 runs, else
 * up to 3), as many frames as the run with the most; each run's frames are spread evenly over
 * them (first with first, last with last), so runs of different lengths start and end together.
 */
export async function renderGridAnimation(runDirs: string[], opts: AnimationOptions & { columns?: number } = {}): Promise<RenderedAnimation> {
  if (runDirs.length === 0) throw new UserError('no runs to animate');
  const tiles = runDirs.map((dir) => {
    const info = readRunInfo(dir);
    const history = readHistory(dir);
    return { r: frameRenderer(history, info.config, { ...opts, width: opts.width ?? 480, height: opts.height ?? 360 }, dir), source: history.source };
  });
  const cols = opts.columns ?? (tiles.length === 4 ? 2 : Math.min(3, tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const tw = tiles[0]!.r.width;
  const th = tiles[0]!.r.height;
  const W = cols * tw;
  const H = rows * th;
  const n = Math.max(...tiles.map((t) => t.r.count));
  const delays = frameDelays(n, { fps: opts.fps, pauseMs: 1000 * (opts.pauseSeconds ?? 2.5) });
  const out: GifFrame[] = [];
  const cache = tiles.map(() => new Map<number, Uint8ClampedArray>());
  for (let k = 0; k < n; k++) {
    const rgba = new Uint8ClampedArray(W * H * 4).fill(255);
    for (let t = 0; t < tiles.length; t++) {
      const { r } = tiles[t]!;
      const idx = n === 1 ? 0 : Math.round((k * (r.count - 1)) / (n - 1));
      let px = cache[t]!.get(idx);
      if (!px) {
        cache[t]!.clear(); // frames only move forward
        px = await r.render(idx);
        cache[t]!.set(idx, px);
      }
      const x0 = (t % cols) * tw;
      const y0 = Math.floor(t / cols) * th;
      for (let y = 0; y < th; y++) rgba.set(px.subarray(y * tw * 4, (y + 1) * tw * 4), ((y0 + y) * W + x0) * 4);
    }
    out.push({ rgba, delayMs: delays[k]! });
    opts.onFrame?.(k + 1, n);
  }
  return { gif: encodeGif(out, W, H), frames: n, width: W, height: H, source: tiles.every((t) => t.source === 'history') ? 'history' : 'snapshots' };
}

export interface RunAnimationOptions extends Omit<AnimationOptions, 'view'> {
  /** Folder that receives <Folder>/<file>.gif (default: the run's pics folder). */
  picsDir?: string;
  views?: Array<'raw' | 'unit'>;
}

/**
 * Draws and writes a run's animations (one per view) for `train`, `reproduce` and `animate`;
 * returns the files.
 */
export async function drawRunAnimations(runDir: string, opts: RunAnimationOptions = {}): Promise<string[]> {
  const info = readRunInfo(runDir);
  const history = readHistory(runDir);
  const naming = figureNaming(info.config);
  const picsDir = opts.picsDir ?? info.pics ?? join(runDir, 'pics');
  const split = opts.split ?? 'valid';
  const files: string[] = [];
  for (const view of opts.views ?? ['raw']) {
    const a = await renderHistoryAnimation(history, info.config, { ...opts, view }, runDir);
    const file = animationPath(picsDir, naming, split, view);
    writeFileAtomic(file, a.gif);
    files.push(file);
  }
  return files;
}
