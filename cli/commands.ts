/** Every `pilot` command, in the order `pilot --help` lists them. */
import type { Command } from "./command.ts";
import { versionCommand } from "./version.ts";

export const COMMANDS: readonly Command[] = [
  versionCommand,
];
