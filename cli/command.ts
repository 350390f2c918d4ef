/** The shape every `pilot <command>` implements. */
import type { Output } from "./output.ts";
import type { FlagSpec } from "./args.ts";

export interface Command {
  /** The word after `pilot`. */
  name: string;
  /** One line for `pilot --help`. */
  summary: string;
  /** Usage text for `pilot <command> --help` (first line: synopsis). */
  usage: string;
  /** Flags the command accepts (`json` and `help` are added by the dispatcher). */
  flags: FlagSpec;
  /** Runs the command; resolves to the process exit status. */
  run(argv: string[], out: Output): Promise<number>;
}
