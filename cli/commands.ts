/** Every `pilot` command, in the order `pilot --help` lists them. */
import type { Command } from "./command.ts";
import { daemonCommand } from "./daemon.ts";
import { upCommand } from "./up.ts";
import { healthCommand, infoCommand } from "./status.ts";
import { pingCommand } from "./ping.ts";
import { benchCommand } from "./bench.ts";
import { connectCommand, listenCommand } from "./connect.ts";
import { recvCommand, sendCommand } from "./stdio.ts";
import { sendFileCommand, sendMessageCommand } from "./dataexchange.ts";
import { publishCommand, subscribeCommand } from "./eventstream.ts";
import { inboxCommand, receivedCommand } from "./mailbox.ts";
import { TRUST_COMMANDS } from "./trust.ts";
import { registryCommand } from "./registry.ts";
import { beaconCommand } from "./beacon.ts";
import { identityCommand } from "./identity.ts";
import { versionCommand } from "./version.ts";
import { disableTasksCommand, enableTasksCommand, taskCommand } from "./task.ts";
import { clearWebhookCommand, setWebhookCommand } from "./webhook.ts";
import { exposeCommand, exposedCommand, gatewayCommand, unexposeCommand } from "./gateway.ts";

export const COMMANDS: readonly Command[] = [
  upCommand,
  daemonCommand,
  infoCommand,
  healthCommand,
  pingCommand,
  benchCommand,
  connectCommand,
  listenCommand,
  sendCommand,
  recvCommand,
  sendMessageCommand,
  sendFileCommand,
  inboxCommand,
  receivedCommand,
  subscribeCommand,
  publishCommand,
  ...TRUST_COMMANDS,
  registryCommand,
  beaconCommand,
  identityCommand,
  taskCommand,
  enableTasksCommand,
  disableTasksCommand,
  setWebhookCommand,
  clearWebhookCommand,
  gatewayCommand,
  exposeCommand,
  unexposeCommand,
  exposedCommand,
  versionCommand,
];
