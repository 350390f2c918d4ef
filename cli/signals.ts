/** Waiting for the signals that stop a foreground server command (daemon, registry, beacon, up). */

/** The signals that ask a foreground command to stop cleanly on this OS. */
export function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
}

/**
 * Resolves at the first SIGINT/SIGTERM, then stops listening. `cancel` stops listening without a
 * signal (and resolves). Deno arms a listener with a short delay, so call this well before telling
 * anyone (a ready line) that the process may be stopped.
 */
export function waitForStopSignal(cancel?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const signals = stopSignals();
    const handler = () => {
      for (const sig of signals) Deno.removeSignalListener(sig, handler);
      cancel?.removeEventListener("abort", handler);
      resolve();
    };
    for (const sig of signals) Deno.addSignalListener(sig, handler);
    cancel?.addEventListener("abort", handler, { once: true });
  });
}
