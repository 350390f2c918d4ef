/**
 * `pilot set-webhook <url>` and `pilot clear-webhook` (docs/protocol/cli.md §4.3): store the URL as
 * `webhook` in `<state>/config.json` — where `pilot daemon` picks it up at its next
 * start — and apply it to the running daemon at once (IPC SetWebhook, best effort).
 */
import { join } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs, type ParsedArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { connectDaemon, nodeStateDir, STATE_FLAG_USAGE } from "./client.ts";
import { closeQuietly, errorMessage } from "../lib/errors.ts";

export { configuredWebhook } from "./config_file.ts";

/** The CLI configuration file inside the state directory. */
export const CONFIG_FILE = "config.json";

/** `pilot set-webhook <url>`: persist and apply a webhook URL. */
export const setWebhookCommand: Command = webhookCommand(true);
/** `pilot clear-webhook`: remove the stored URL and disable webhooks on the running daemon. */
export const clearWebhookCommand: Command = webhookCommand(false);

function webhookCommand(set: boolean): Command {
  const name = set ? "set-webhook" : "clear-webhook";
  return {
    name,
    summary: set ? "POST the daemon's events to a URL" : "Stop POSTing the daemon's events",
    usage: [
      `pilot ${name}${set ? " <url>" : ""} [--state DIR] [--socket PATH] [--json]`,
      "",
      set
        ? "Saves the URL (http:// or https://) in <state>/config.json and applies it to the running daemon."
        : "Removes the URL from <state>/config.json and disables webhooks on the running daemon.",
      STATE_FLAG_USAGE,
      "Output keys: webhook, applied (false when the daemon was not reachable).",
    ].join("\n"),
    flags: { socket: "string", state: "string" },
    async run(argv, out) {
      const args = parseArgs(argv, this.flags);
      const url = set ? args.positionals[0] : "";
      noExtraArguments(args, set ? 1 : 0);
      if (set && (url === undefined || !/^https?:\/\/./.test(url))) {
        throw new CliError(
          "invalid_argument",
          "usage: pilot set-webhook <url> (the URL must start with http:// or https://)",
        );
      }
      await saveWebhook(await nodeStateDir(args), url);
      const applied = await apply(args, url);
      printResult(
        out,
        { webhook: url, applied },
        `${set ? `webhook set to ${url}` : "webhook cleared"}${
          applied ? "" : " (daemon not reachable; applies at its next start)"
        }`,
      );
      return 0;
    },
  };
}

async function saveWebhook(dir: string, url: string): Promise<void> {
  const path = join(dir, CONFIG_FILE);
  let cfg: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(await Deno.readTextFile(path));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) cfg = parsed;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new CliError("internal", `cannot read ${path}: ${errorMessage(err)}`);
    }
  }
  if (url) cfg.webhook = url;
  else delete cfg.webhook;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(path, JSON.stringify(cfg, null, 2) + "\n", { mode: 0o600 });
  } catch (err) {
    throw new CliError("internal", `cannot write ${path}: ${errorMessage(err)}`);
  }
}

async function apply(args: ParsedArgs, url: string): Promise<boolean> {
  let client;
  try {
    client = await connectDaemon(args);
  } catch {
    return false;
  }
  try {
    await client.setWebhook(url, { timeoutMs: 5_000 });
    return true;
  } catch {
    return false;
  } finally {
    await closeQuietly(client);
  }
}
