/** Every `pilot` command, in the order `pilot --help` lists them. */
import type { Command } from "./command.ts";
import { daemonCommand } from "./daemon.ts";
import { healthCommand, infoCommand } from "./status.ts";
import { pingCommand } from "./ping.ts";
import { benchCommand } from "./bench.ts";
import { connectCommand, listenCommand } from "./connect.ts";
import { registryCommand } from "./registry.ts";
import { identityCommand } from "./identity.ts";
import { versionCommand } from "./version.ts";

export const COMMANDS: readonly Command[] = [
  daemonCommand,
  infoCommand,
  healthCommand,
  pingCommand,
  benchCommand,
  connectCommand,
  listenCommand,
  registryCommand,
  identityCommand,
  versionCommand,
];
