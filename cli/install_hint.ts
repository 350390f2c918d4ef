/**
 * Whether a `pilot` command is on the PATH, and the one line that installs one when it is not
 * (`deno task install`: a `deno install -g` launcher named `pilot`). `pilot up` prints it, since
 * every other command it suggests starts with `pilot`.
 */
import { join } from "../lib/paths.ts";

/** The install line for this checkout (run in the directory that holds deno.json). */
export function installCommand(): string {
  const root = new URL("../", import.meta.url);
  return root.protocol === "file:"
    ? `cd ${root.pathname.replace(/\/$/, "")} && deno task install`
    : "deno task install";
}

/** True when an executable named `pilot` is in one of PATH's directories. */
export function pilotOnPath(path = envPath()): boolean {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(join(dir, "pilot"));
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Lines telling the user how to get the `pilot` command, or none when it is on the PATH. */
export function installHint(path = envPath()): string[] {
  if (pilotOnPath(path)) return [];
  const bin = denoInstallBin();
  return [
    "The `pilot` command is not on your PATH. Install it (a launcher for this checkout) with:",
    `  ${installCommand()}`,
    ...(path.split(":").includes(bin) ? [] : [`  and add ${bin} to your PATH (export PATH="${bin}:$PATH")`]),
  ];
}

/** Where `deno install -g` puts launchers: $DENO_INSTALL_ROOT/bin, else ~/.deno/bin. */
function denoInstallBin(): string {
  const root = envGet("DENO_INSTALL_ROOT");
  return root ? join(root, "bin") : join(envGet("HOME") ?? "~", ".deno", "bin");
}

function envPath(): string {
  return envGet("PATH") ?? "";
}

function envGet(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}
