/**
 * Ctrl-C and SIGTERM during long work: the first asks the work to stop at a safe point (its
 * AbortSignal), the second exits at once (130 for SIGINT, 143 for SIGTERM).
 */

export interface SignalStop {
  /** Aborted, with the signal's name as reason, at the first SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** Removes the handlers. */
  dispose(): void;
}

/**
 * `saving` says what happens at the safe point, `kept` what is kept when stopping at once.
 * `interrupt`, when given, clears a progress bar (with the ^C the terminal echoed onto it) and
 * stops it drawing, so the messages stand on lines of their own.
 */
export function stopOnSignals(saving: string, kept: string, interrupt?: () => void): SignalStop {
  const stop = new AbortController();
  const lead = () => (interrupt ? (interrupt(), '') : process.stderr.isTTY ? '\n' : '');
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      process.stderr.write(`${lead()}facelosses: ${sig} again: stopping now; ${kept}\n`);
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    }
    stop.abort(sig);
    process.stderr.write(`${lead()}facelosses: ${sig}: ${saving} (send it again to stop at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: stop.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
