/**
 * The daemon's nameserver flags, shared by `pilot daemon` and `pilot nameserver`: `--nameserver`
 * (resolve unknown hostnames through one) and `--serve-nameserver`, `--nameserver-file`,
 * `--nameserver-ttl` (run one on port 53).
 */
import type { FlagSpec, ParsedArgs } from "./args.ts";
import { parseDuration } from "./args.ts";
import { CliError } from "./output.ts";
import type { DaemonConfig } from "../lib/daemon/config.ts";

export const NAMESERVER_FLAGS: FlagSpec = {
  nameserver: "string",
  "serve-nameserver": "boolean",
  "nameserver-file": "string",
  "nameserver-ttl": "string",
};

/** The nameserver part of the daemon configuration. */
export function nameserverConfig(args: ParsedArgs): Pick<DaemonConfig, "nameserver" | "nameserverService"> {
  const s = args.strings;
  const serve = args.booleans.has("serve-nameserver");
  if (!serve && (s.has("nameserver-file") || s.has("nameserver-ttl"))) {
    throw new CliError("invalid_argument", "--nameserver-file and --nameserver-ttl need --serve-nameserver");
  }
  return {
    nameserver: s.get("nameserver"),
    nameserverService: serve
      ? {
        file: s.get("nameserver-file") || undefined,
        ttlMs: s.has("nameserver-ttl") ? parseDuration(s.get("nameserver-ttl")!) : undefined,
      }
      : undefined,
  };
}
