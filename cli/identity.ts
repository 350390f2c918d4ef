/** `pilot identity`: creates (on first use) or loads the node's Ed25519 identity and shows it. */
import type { Command } from "./command.ts";
import { noExtraArguments, parseArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { IdentityError, loadOrCreateIdentity } from "../lib/crypto/mod.ts";
import { nodeStateDir, STATE_FLAG_USAGE } from "./client.ts";
import { toBase64 } from "../lib/bytes.ts";

export const identityCommand: Command = {
  name: "identity",
  summary: "Create or show this node's Ed25519 identity (kept in the state directory)",
  usage: [
    "pilot identity [--socket PATH] [--state DIR] [--json]",
    "",
    "Loads <state>/identity.json, creating it with mode 0600 on first use.",
    STATE_FLAG_USAGE,
    "A corrupt or unreadable identity file is an error; it is never replaced.",
  ].join("\n"),
  flags: { socket: "string", state: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    noExtraArguments(args);
    const dir = await nodeStateDir(args);
    try {
      const id = await loadOrCreateIdentity(dir);
      const data = { path: id.path, public_key: toBase64(id.publicKey), created: id.created };
      printResult(
        out,
        data,
        `${id.created ? "created" : "loaded"} ${id.path}\npublic key ${data.public_key}`,
      );
      return 0;
    } catch (err) {
      if (err instanceof IdentityError) throw new CliError("invalid_state", err.message);
      throw err;
    }
  },
};
