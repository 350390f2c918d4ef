/**
 * Loopback aliases for mapped gateway addresses (docs/protocol/services.md §10): Linux `ip addr add|del
 * <ip>/32 dev lo`, macOS `ifconfig lo0 alias|-alias <ip>`. On Linux all of 127.0.0.0/8 already
 * routes to `lo`, so addresses there need no alias and none is added. An alias that existed
 * before we mapped the address is left in place on unmap.
 */
import type { Logger } from "../log.ts";
import { PilotError } from "../errors.ts";
import { isLoopbackIPv4 } from "./subnet.ts";

/** Adding or removing an alias failed (not root, unsupported OS, missing tool). */
export class AliasError extends PilotError {}

/** Adds and removes local addresses on the loopback interface. */
export interface LoopbackAliases {
  add(ip: string): Promise<void>;
  remove(ip: string): Promise<void>;
}

/** Runs a command; resolves to its exit status and stderr text. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<{ code: number; stderr: string }>;

async function runCommand(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
  } catch (err) {
    return { code: -1, stderr: err instanceof Error ? err.message : String(err) };
  }
}

/** The aliases of this machine's OS (`os` and `run` are injectable for tests). */
export function systemAliases(
  log: Logger,
  os: typeof Deno.build.os = Deno.build.os,
  run: CommandRunner = runCommand,
): LoopbackAliases {
  const added = new Set<string>();
  const needsAlias = (ip: string) => !(os === "linux" && isLoopbackIPv4(ip));
  const commands = (ip: string, add: boolean): [string, string[]] => {
    if (os === "linux") return ["ip", ["addr", add ? "add" : "del", `${ip}/32`, "dev", "lo"]];
    if (os === "darwin") return ["ifconfig", ["lo0", add ? "alias" : "-alias", ip]];
    throw new AliasError(`loopback aliases are not supported on ${os} (Linux and macOS only)`);
  };
  return {
    async add(ip) {
      if (!needsAlias(ip)) return;
      const [cmd, args] = commands(ip, true);
      const r = await run(cmd, args);
      if (r.code === 0) {
        added.add(ip);
        log.info("loopback alias added", { ip });
      } else if (/exists/i.test(r.stderr)) {
        log.info("loopback alias already present", { ip });
      } else {
        throw new AliasError(
          `cannot add loopback alias ${ip} (${cmd} ${args.join(" ")}: ${r.stderr || `exit ${r.code}`}); ` +
            `the gateway needs root for addresses outside 127.0.0.0/8`,
        );
      }
    },
    async remove(ip) {
      if (!added.delete(ip)) return;
      const [cmd, args] = commands(ip, false);
      const r = await run(cmd, args);
      if (r.code !== 0) log.warn("cannot remove loopback alias", { ip, err: r.stderr || `exit ${r.code}` });
    },
  };
}
