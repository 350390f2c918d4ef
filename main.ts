/** The `pilot` binary's entry point. */
import { runCli } from "./cli/main.ts";
import { FFI_ENV } from "./lib/ffi.ts";

if (import.meta.main) {
  // A registry process verifies with node:crypto anyway, so FFI would only add its pages
  // (lib/ffi.ts); set before the command's modules load and choose their crypto and CRC.
  const command = Deno.args.find((a) => a !== "--json");
  if (command === "registry" && Deno.env.get(FFI_ENV) === undefined) Deno.env.set(FFI_ENV, "off");
  Deno.exit(await runCli(Deno.args));
}
