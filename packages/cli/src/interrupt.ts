/**
 * Ctrl-C: the first SIGINT (or SIGTERM) aborts the running operation through its
 * AbortSignal, so the manager and driver clean up and nothing partial is left;
 * a second one exits at once.
 */

/** An AbortSignal that fires on SIGINT/SIGTERM, and the function that stops listening. */
export interface Interrupt {
  readonly signal: AbortSignal;
  dispose(): void;
}

/** Starts listening for SIGINT and SIGTERM. */
export function listenForInterrupt(): Interrupt {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // Second interrupt: the user does not want to wait for the clean-up.
      process.exit(130);
    }
    controller.abort(new Error(`Interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
