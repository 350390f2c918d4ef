/** Waiting for the signals that stop a foreground server command (daemon, registry, beacon, up). */

/** The signals that ask a foreground command to stop cleanly on this OS. */
export function stopSignals(): Deno.Signal[] {
  return Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
}

/** Resolves at the first SIGINT/SIGTERM, then stops listening. */
export function waitForStopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const signals = stopSignals();
    const handler = () => {
      for (const sig of signals) Deno.removeSignalListener(sig, handler);
      resolve();
    };
    for (const sig of signals) Deno.addSignalListener(sig, handler);
  });
}
