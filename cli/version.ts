/** `pilot version`: the program, protocol and runtime versions. */
import type { Command } from "./command.ts";
import { parseArgs } from "./args.ts";
import { printResult } from "./output.ts";
import { PROGRAM_VERSION } from "../lib/version.ts";

export const versionCommand: Command = {
  name: "version",
  summary: "Print the program, protocol and runtime versions",
  usage: "pilot version [--json]",
  flags: {},
  run(argv, out) {
    parseArgs(argv, this.flags);
    const data = { version: PROGRAM_VERSION, protocol_version: 1, deno: Deno.version.deno };
    printResult(out, data, `pilot ${data.version} (protocol v1, deno ${data.deno})`);
    return Promise.resolve(0);
  },
};
