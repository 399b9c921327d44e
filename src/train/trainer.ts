/**
 * The one trainer: any loss of the registry, the reference network, Adam with L2 weight decay and
 * step decay. Knows nothing of any particular loss. The steps of an epoch run in EpochTrainer
 * (./epoch.ts); the run folder (run.json, metrics.jsonl, snapshots/, checkpoint/last.json after
 * every epoch) is written by RunRecorder (src/run/recorder.ts), which the loop calls at each event.
 *
 * Survival: a run continues exactly from a checkpoint (`resume`); an aborted `signal` (Ctrl-C)
 * stops at the end of the current step with a checkpoint of that position; a non-finite loss or
 * gradient stops the run (nanPolicy 'stop', the last good checkpoint stays) or discards that
 * batch's update ('skip-batch', counted in the epoch's metrics as skippedBatches).
 */
import { DEFAULTS, type ResolvedConfig } from '../config/config.js';
import { type Dataset, loadDataset } from '../data/mnist.js';
import { type Checkpoint, checkpointPath, dataFingerprint, restoreState } from '../run/checkpoint.js';
import { hasHistory, planHistory } from '../run/history.js';
import { RunRecorder } from '../run/recorder.js';
import type { EpochMetrics, RunInfo } from '../run/run.js';
import type { Snapshot } from '../run/snapshot.js';
import { EpochTrainer, type StepProgress, TrainingInterrupted, type WrapStep } from './epoch.js';
import { EVAL_BATCH, evaluate } from './evaluate.js';
import { buildExperiment } from './experiment.js';
import { classVectorKind, HistoryFrames } from './history-frames.js';
import { LossGuard, type NanPolicy } from './nan-guard.js';
import { DataParallel } from './parallel.js';

export type TrainEvent =
  | { type: 'start'; epochs: number; startEpoch: number; stepsPerEpoch: number; trainCount: number; validCount: number; warmupEpochs?: number }
  | ({ type: 'step' } & StepProgress)
  | { type: 'epoch'; metrics: EpochMetrics; epochs: number }
  | { type: 'snapshot'; epoch: number; files: string[] };

export interface TrainOptions {
  config: ResolvedConfig;
  outDir: string;
  backend: string;
  /** Threads of the engine, recorded in checkpoints (results may differ with another count). */
  backendThreads?: number;
  /** Data-parallel worker threads for the network's forward and backward (wasm; default 1 = none). */
  workers?: number;
  onEvent?: (e: TrainEvent) => void;
  /** Called after each snapshot is saved; draws figures (kept out of the trainer so it stays plot-free). */
  onSnapshot?: (runDir: string, epoch: number, snaps: Snapshot[]) => Promise<string[]> | string[];
  /** Data already loaded (tests, batch runs); else loaded from config.data. */
  dataset?: Dataset;
  /** Continue from this checkpoint of the run in outDir (its config must be `config`). */
  resume?: Checkpoint;
  /** Fields kept in run.json (a resumed run's startedAt, the overrides it was started with). */
  runInfo?: Partial<RunInfo>;
  /** What a non-finite loss or gradient does: stop the run (default) or skip that batch's update. */
  nanPolicy?: NanPolicy;
  /** Aborting it stops training at the end of the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Runs in place of each step's forward and backward pass (tests make a step's loss NaN). */
  wrapStep?: WrapStep;
}

export interface TrainResult {
  metrics: EpochMetrics[];
  validAccuracy: number;
  runDir: string;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config, outDir } = opts;
  const emit = opts.onEvent ?? (() => {});
  const data = opts.dataset ?? loadDataset(config.data);
  const { batchSize, epochs } = config.train;
  const stepsPerEpoch = Math.floor(data.train.count / batchSize);
  if (stepsPerEpoch < 1) throw new Error(`the training set has ${data.train.count} images, fewer than one batch of ${batchSize}`);
  const exp = buildExperiment(config, data.numClasses);
  const fingerprint = dataFingerprint(data);
  const ck = opts.resume;
  let dp: DataParallel | undefined;
  try {
    if (ck?.data && ck.data !== fingerprint) throw new Error('the data differ from the data the checkpoint was trained on');
    if (ck) restoreState(exp, ck, checkpointPath(outDir));
    const imageShape: [number, number, number] = [data.train.height, data.train.width, 1];
    // Room for the evaluation batches too: the workers run the evaluation's forward pass.
    if ((opts.workers ?? 1) > 1) dp = await DataParallel.create(exp.net, { workers: opts.workers, maxBatch: Math.max(batchSize, EVAL_BATCH), imageShape });
  } catch (e) {
    exp.dispose();
    throw e;
  }
  // The feature history (src/run/history.ts); a run resumed from a folder without one (written
  // before the history existed) goes on without it.
  const epochFrames = config.history?.epochFrames ?? DEFAULTS.history.epochFrames;
  const history =
    epochFrames > 0 && (!ck || hasHistory(outDir))
      ? planHistory({
          dim: exp.net.embeddingDim,
          numClasses: data.numClasses,
          stepsPerEpoch,
          epochs,
          epochFrames,
          snapshots: config.snapshots,
          trainCount: data.train.count,
          validCount: data.valid.count,
          weightsKind: classVectorKind(exp.loss),
        })
      : undefined;
  const record = new RunRecorder({ runDir: outDir, config, backend: opts.backend, threads: opts.backendThreads, state: exp, data: fingerprint, resume: ck, runInfo: opts.runInfo, history, onSnapshot: opts.onSnapshot });
  const frames = history ? new HistoryFrames(exp, data, history, dp) : undefined;
  /** Takes and saves the history's frame after `step` steps when one is due (`valid`: the epoch's evaluation). */
  const frameAt = async (step: number, valid?: Awaited<ReturnType<typeof evaluate>>) => {
    if (!frames || !record.frameDue(step)) return;
    const f = await frames.take(step, valid);
    record.frame(f.frame, f.seconds);
  };
  record.start();
  const startEpoch = ck ? (ck.position ? ck.position.epoch : ck.epoch + 1) : 1;
  emit({ type: 'start', epochs, startEpoch, stepsPerEpoch, trainCount: stepsPerEpoch * batchSize, validCount: data.valid.count, warmupEpochs: config.train.warmupEpochs });
  const steps = new EpochTrainer({
    exp,
    dp,
    split: data.train,
    train: config.train,
    nanPolicy: opts.nanPolicy ?? 'stop',
    guard: new LossGuard(ck?.metrics[0]?.loss),
    lastGood: () => record.lastGood,
    runDir: outDir,
    checkpoint: (epoch, position) => record.checkpoint(epoch, position),
    onStep: (p) => emit({ type: 'step', ...p }),
    // Early frames only: an epoch's last step gets its frame below, with the whole test set.
    afterStep: frames ? (done) => (done % stepsPerEpoch ? frameAt(done) : undefined) : undefined,
    wrapStep: opts.wrapStep,
    signal: opts.signal,
  });
  const snapshots = new Set(config.snapshots);
  try {
    if (!ck) {
      await frameAt(0);
      await record.checkpoint(0); // the initial state: a run killed in its first epoch can be resumed too
    }
    for (let epoch = startEpoch; epoch <= epochs; epoch++) {
      const snap = snapshots.has(epoch);
      const r = await steps.run(epoch, snap, ck?.position?.epoch === epoch ? ck.position : undefined);
      const ev = await evaluate(exp, data.valid, data.numClasses, { dp });
      const m: EpochMetrics = {
        epoch,
        lr: r.lr,
        loss: r.loss,
        trainAccuracy: r.trainAccuracy,
        validLoss: ev.loss,
        validAccuracy: ev.accuracy,
        skippedBatches: r.skippedBatches,
        imagesPerSecond: r.imagesPerSecond,
        seconds: r.priorSeconds + (performance.now() - r.startedAt) / 1000,
        elapsedSeconds: record.elapsedSeconds(),
      };
      record.epochEnd(m);
      emit({ type: 'epoch', metrics: m, epochs });
      if (snap && r.snapshot) {
        const w = exp.loss.classWeightRows?.();
        const classWeights = w ? new Float32Array((await w.data()) as Float32Array) : undefined;
        w?.dispose();
        const cw = classWeights ? { classWeights } : {};
        const s: Snapshot[] = [
          { epoch, split: 'train', numClasses: data.numClasses, embeddingDim: exp.net.embeddingDim, count: r.snapshot.labels.length, ...r.snapshot, ...cw },
          { epoch, split: 'valid', ...ev.snapshot, ...cw },
        ];
        emit({ type: 'snapshot', epoch, files: await record.snapshot(epoch, s) });
      }
      await frameAt(epoch * stepsPerEpoch, ev);
      // Last: a kill before this line redoes the epoch (metrics, snapshots, figures and history frame included).
      const file = await record.checkpoint(epoch);
      if (opts.signal?.aborted && epoch < epochs) throw new TrainingInterrupted(String(opts.signal.reason ?? 'SIGINT'), epoch + 1, 0, stepsPerEpoch, file);
    }
  } catch (e) {
    const err = record.fail(e, e instanceof TrainingInterrupted);
    steps.dispose();
    await dp?.dispose();
    exp.dispose();
    throw err;
  }
  record.finish();
  await dp?.dispose();
  exp.dispose();
  const validAccuracy = record.metrics[record.metrics.length - 1]!.validAccuracy;
  return { metrics: record.metrics, validAccuracy, runDir: outDir };
}
