/** Every `pilot` command, in the order `pilot --help` lists them. */
import type { Command } from "./command.ts";
import { daemonCommand } from "./daemon.ts";
import { healthCommand, infoCommand } from "./status.ts";
import { pingCommand } from "./ping.ts";
import { benchCommand } from "./bench.ts";
import { connectCommand, listenCommand } from "./connect.ts";
import { registryCommand } from "./registry.ts";
import { beaconCommand } from "./beacon.ts";
import { identityCommand } from "./identity.ts";
import { versionCommand } from "./version.ts";
import { disableTasksCommand, enableTasksCommand, taskCommand } from "./task.ts";
import { clearWebhookCommand, setWebhookCommand } from "./webhook.ts";

export const COMMANDS: readonly Command[] = [
  daemonCommand,
  infoCommand,
  healthCommand,
  pingCommand,
  benchCommand,
  connectCommand,
  listenCommand,
  registryCommand,
  beaconCommand,
  identityCommand,
  taskCommand,
  enableTasksCommand,
  disableTasksCommand,
  setWebhookCommand,
  clearWebhookCommand,
  versionCommand,
];
