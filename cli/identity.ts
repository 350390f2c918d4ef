/** `pilot identity`: creates (on first use) or loads the node's Ed25519 identity and shows it. */
import type { Command } from "./command.ts";
import { parseArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { defaultStateDir, IdentityError, loadOrCreateIdentity } from "../lib/crypto/mod.ts";
import { toBase64 } from "../lib/bytes.ts";

export const identityCommand: Command = {
  name: "identity",
  summary: "Create or show this node's Ed25519 identity (kept in the state directory)",
  usage: [
    "pilot identity [--state DIR] [--json]",
    "",
    "Loads DIR/identity.json (default ~/.pilot), creating it with mode 0600 on first use.",
    "A corrupt or unreadable identity file is an error; it is never replaced.",
  ].join("\n"),
  flags: { state: "string" },
  async run(argv, out) {
    const args = parseArgs(argv, this.flags);
    const dir = args.strings.get("state") ?? defaultStateDir();
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
