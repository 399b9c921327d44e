/** What `reproduce` needs from a queue engine (src/queue/reproduce.ts implements it on BullMQ). */
import type { PlannedTask } from '../batch/plan.js';
import type { RunOutcome } from '../batch/plan.js';

export interface QueueRunContext {
  profile: string;
  /** Where the figures go (the runs are drawn locally after download). */
  pics: string;
  force: boolean;
  log: (line: string) => void;
}

export interface QueueRunner {
  /** Enqueues the tasks, follows them to the end, downloads each finished run into its runDir. */
  run(tasks: PlannedTask[], ctx: QueueRunContext): Promise<RunOutcome[]>;
}
