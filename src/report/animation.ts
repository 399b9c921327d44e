/**
 * A run's animation: its feature history (src/run/history.ts) drawn frame by frame with the same
 * drawing code, colours, digits and title as the static figures (./figures.ts), the frame's step
 * and accuracy in the title, and a pause on the last frame, so the last frame is the static figure
 * of the last epoch.
 *
 * 2-D features (src/plot/scatter.ts): raw or on the unit circle, with the loss's class vectors
 * (weights as arrows, centers as ringed dots), on axes that enclose the frame and every later one
 * (src/plot/limits.ts settlingBounds): the last frame's through a run whose features grow, closing
 * in through one whose features shrink.
 * 3-D features (src/plot/sphere.ts): the unit sphere from the static figures' fixed viewpoint;
 * two opposite views side by side by default (`pair`), or `unit` or `map`; the class weight
 * directions as diamonds when the run's class vectors are its class weights.
 *
 * Written as a GIF, named like the figures of its view (src/run/figure-names.ts):
 *   <pics>/<Folder>/<DisplayName>-<split>[_<params>]-animation[_unit].gif          2-D
 *   <pics>/<Folder>/<DisplayName>-<split>[_<params>]-animation_3d[_pair|_unit|_map].gif   3-D
 * e.g. pics/Softmax/SoftmaxLoss-valid-animation.gif, pics/ArcFace/ArcFaceLoss-valid_s=32.0, m=0.5-animation_3d_pair.gif.
 */
import { join } from 'node:path';
import { type ResolvedConfig, scheduleNote } from '../config/config.js';
import { encodeGif, frameDelays, type GifFrame } from '../plot/animation.js';
import { settlingBounds } from '../plot/limits.js';
import { renderScatterRgba } from '../plot/scatter.js';
import { renderSphereRgba } from '../plot/sphere.js';
import { formatTitleParams } from '../plot/title.js';
import { type History, type HistoryFrame, type HistoryPoints, readHistory } from '../run/history.js';
import { readRunInfo } from '../run/run.js';
import type { SplitName } from '../run/snapshot.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { animationPath } from '../run/figure-names.js';
import { figureNaming, type FigureNaming, figureTitle, type View } from './figures.js';

/** The run's features have more than 3 dimensions: there is no animation to draw. */
export class UnsupportedDimension extends UserError {}

/** The views an animation of `dim`-D features can show, its default first (none beyond 3-D). */
export function animationViews(dim: number): View[] {
  if (dim === 2) return ['raw', 'unit'];
  if (dim === 3) return ['pair', 'unit', 'map'];
  return [];
}

/**
 * The view of an animation of `dim`-D features (of the run at `where`): `view`, or the default of
 * the dimension (raw in 2-D, pair in 3-D). Refuses features beyond 3-D and a view the dimension
 * has no animation of (raw 3-D features, pair or map of 2-D ones).
 */
export function animationView(dim: number, view: View | undefined, where: string): View {
  const views = animationViews(dim);
  if (views.length === 0) throw new UnsupportedDimension(`${where} has ${dim}-D features; animations draw 2-D and 3-D features only`);
  if (view === undefined) return views[0]!;
  if (!views.includes(view)) {
    const why = dim === 2 ? 'pair and map are views of 3-D features' : 'the animation of 3-D features shows the unit sphere';
    throw new UserError(`${where} has ${dim}-D features: no ${view} animation (${why}); choose the view ${views.join(', ')}`);
  }
  return view;
}

export interface AnimationOptions {
  split?: SplitName;
  /** Default: raw for 2-D features, pair for 3-D (see animationViews). */
  view?: View;
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

/** What every frame of one run's animation shares. */
interface FramePlan {
  history: History;
  /** The frames with points of the split, ascending. */
  frames: HistoryFrame[];
  pointsOf: (f: HistoryFrame) => HistoryPoints;
  view: View;
  colorBy: 'predicted' | 'true';
  width: number;
  height: number;
  title: (f: HistoryFrame) => string;
}

/** One run's animation: how many frames there are, and each one's pixels. */
interface FrameRenderer {
  count: number;
  width: number;
  height: number;
  render: (i: number) => Promise<Uint8ClampedArray>;
}

/** Draws the frames of one run's animation: how many there are, and each one's pixels. */
function frameRenderer(history: History, config: ResolvedConfig, opts: AnimationOptions, where: string): FrameRenderer {
  const view = animationView(history.dim, opts.view, where);
  const split = opts.split ?? 'valid';
  const colorBy = opts.colorBy ?? config.plot.colorBy;
  const pointsOf = (f: HistoryFrame) => (split === 'valid' ? f.valid : f.train);
  const frames = history.frames.filter((f) => pointsOf(f).labels.length > 0);
  if (frames.length === 0) {
    throw new UserError(`${where} has no saved ${split} features to animate yet (no history/ frames or snapshots); train it first, or wait for its first snapshot epoch`);
  }
  const naming = { ...figureNaming(config), dim: history.dim };
  const schedule = scheduleNote(config);
  const plan: FramePlan = {
    history,
    frames,
    pointsOf,
    view,
    colorBy,
    width: opts.width ?? config.plot.width,
    height: opts.height ?? config.plot.height,
    title: (f) => frameTitle(naming, schedule, f, split, { colorBy, view, stepsPerEpoch: history.stepsPerEpoch }),
  };
  const render = history.dim === 3 ? sphereFrames(plan) : scatterFrames(plan);
  return { count: frames.length, width: plan.width, height: plan.height, render };
}

/**
 * 2-D frames: the scatter plot, with the class vectors drawn over the points, on axes that enclose
 * the frame's points and every later frame's (the last frame's are its static figure's).
 */
function scatterFrames(plan: FramePlan): FrameRenderer['render'] {
  const { history, frames, pointsOf, view } = plan;
  const xy = (f: HistoryFrame) =>
    (function* () {
      const p = pointsOf(f);
      for (let i = 0; i < p.labels.length; i++) yield [p.features[2 * i]!, p.features[2 * i + 1]!] as [number, number];
    })();
  const axes = settlingBounds(frames.map(xy));
  return async (i) => {
    const f = frames[i]!;
    const p = pointsOf(f);
    const img = await renderScatterRgba({
      points: p.features,
      colorLabels: plan.colorBy === 'true' ? p.labels : p.predicted,
      numClasses: history.numClasses,
      title: plan.title(f),
      width: plan.width,
      height: plan.height,
      view: view === 'unit' ? 'unit' : 'raw',
      bounds: view === 'raw' ? axes[i] : undefined,
      classVectors: f.weights && history.weightsKind ? { kind: history.weightsKind === 'centers' ? 'centers' : 'weights', xy: f.weights } : undefined,
    });
    return img.rgba;
  };
}

/**
 * 3-D frames: the static figure of the view (src/plot/sphere.ts, its fixed viewpoint), with the
 * class weight directions as diamonds when the run's class vectors are its class weights (what
 * the static figures mark); class centers are not drawn on the sphere.
 */
function sphereFrames(plan: FramePlan): FrameRenderer['render'] {
  const { history, frames, pointsOf } = plan;
  const view = plan.view === 'unit' || plan.view === 'map' ? plan.view : 'pair';
  const directions = history.weightsKind === 'class weights';
  return async (i) => {
    const f = frames[i]!;
    const p = pointsOf(f);
    const img = await renderSphereRgba(
      {
        points: p.features,
        colorLabels: plan.colorBy === 'true' ? p.labels : p.predicted,
        labelLabels: p.labels,
        numClasses: history.numClasses,
        title: plan.title(f),
        width: plan.width,
        height: plan.height,
        classDirections: directions && f.weights ? f.weights : undefined,
      },
      view,
    );
    return img.rgba;
  };
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
  /** Default: the dimension's default view (raw in 2-D, pair in 3-D). */
  views?: View[];
}

/**
 * Draws and writes a run's animations (one per view) for `train`, `reproduce` and `animate`;
 * returns the files.
 */
export async function drawRunAnimations(runDir: string, opts: RunAnimationOptions = {}): Promise<string[]> {
  const info = readRunInfo(runDir);
  const history = readHistory(runDir);
  const naming = { ...figureNaming(info.config), dim: history.dim };
  const picsDir = opts.picsDir ?? info.pics ?? join(runDir, 'pics');
  const split = opts.split ?? 'valid';
  const files: string[] = [];
  for (const view of opts.views ?? [animationView(history.dim, undefined, runDir)]) {
    const a = await renderHistoryAnimation(history, info.config, { ...opts, view }, runDir);
    const file = animationPath(picsDir, naming, split, view);
    writeFileAtomic(file, a.gif);
    files.push(file);
  }
  return files;
}
