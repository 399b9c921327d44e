/**
 * The feature history the report pages are drawn from: the run folder's `history/` (or, for a run
 * trained before runs recorded one, its snapshots), read by `src/run/history.ts`. This module is
 * the one place the pages import it from.
 */
export { type History, type HistoryFrame, type HistoryPoints, readHistory } from '../run/history.js';
