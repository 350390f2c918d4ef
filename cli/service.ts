/**
 * `pilot service install|uninstall`: a systemd unit that runs `pilot daemon` (in the foreground,
 * as systemd wants it) for the current user, and the cron line and systemd timer that check it
 * with `pilot health`. Writes the unit file only; enabling it (`systemctl`) is left to the user,
 * who needs root for the system directory anyway.
 */
import { join } from "../lib/paths.ts";
import type { Command } from "./command.ts";
import { parseArgs } from "./args.ts";
import { CliError, printResult } from "./output.ts";
import { selfCommand } from "./lifecycle.ts";
import { DAEMON_ENV } from "./daemon_process.ts";

/** Where system units live. */
export const DEFAULT_UNIT_DIR = "/etc/systemd/system";
/** The unit's default name (`pilot.service`). */
export const DEFAULT_SERVICE_NAME = "pilot";
/** Every five minutes: the health check's schedule in the printed examples. */
const HEALTH_EVERY = "5min";

export const serviceCommand: Command = {
  name: "service",
  summary: "Install or remove a systemd unit that runs the daemon",
  usage: [
    "pilot service install [--unit-dir DIR] [--name NAME] [--user USER] [--config FILE] [-- DAEMON FLAGS…]",
    "pilot service uninstall [--unit-dir DIR] [--name NAME]",
    "",
    `Writes <unit-dir>/<name>.service (default ${DEFAULT_UNIT_DIR}/${DEFAULT_SERVICE_NAME}.service) running`,
    "`pilot daemon` as USER (default: you; HOME is yours, so the daemon reads ~/.pilot/config.json",
    "unless --config names another file), restarting it when it fails.",
    "Flags after `--` are passed to the daemon. Then, as root:",
    "  systemctl daemon-reload && systemctl enable --now pilot",
    "`uninstall` removes the file (run `systemctl disable --now pilot` first).",
    "The output also shows a cron line and a systemd timer that run `pilot health` (exit 0 ok,",
    "1 degraded, 2 down). Output keys: unit_path, exec_start, health_cron, health_timer.",
  ].join("\n"),
  flags: { "unit-dir": "string", name: "string", user: "string", config: "string" },
  async run(argv, out) {
    const dashes = argv.indexOf("--");
    const own = dashes >= 0 ? argv.slice(0, dashes) : argv;
    const daemonFlags = dashes >= 0 ? argv.slice(dashes + 1) : [];
    const args = parseArgs(own, this.flags);
    const [action, extra] = args.positionals;
    if ((action !== "install" && action !== "uninstall") || extra !== undefined) {
      throw new CliError("invalid_argument", "usage: pilot service install|uninstall [--unit-dir DIR]");
    }
    const name = args.strings.get("name") ?? DEFAULT_SERVICE_NAME;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/.test(name)) {
      throw new CliError(
        "invalid_argument",
        `--name must be a unit name (letters, digits, _.@-), got "${name}"`,
      );
    }
    const unitPath = join(args.strings.get("unit-dir") ?? DEFAULT_UNIT_DIR, `${name}.service`);
    if (action === "uninstall") {
      try {
        await Deno.remove(unitPath);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) {
          throw new CliError("not_found", `${unitPath} does not exist`);
        }
        throw new CliError(
          "internal",
          `cannot remove ${unitPath}: ${(err as Error).message}`,
          "run it as root",
        );
      }
      printResult(
        out,
        { unit_path: unitPath, removed: true },
        `removed ${unitPath}\nthen: systemctl daemon-reload`,
      );
      return 0;
    }
    const user = args.strings.get("user") ?? currentUser();
    // Without --config the daemon reads <state>/config.json by itself (state: ~/.pilot of HOME below).
    const config = args.strings.get("config");
    const exec = [
      ...selfCommand({ daemon: true }),
      "daemon",
      ...(config ? ["--config", config] : []),
      ...daemonFlags,
    ];
    const unit = serviceUnit({ name, user, home: homeDir(), exec });
    try {
      await Deno.writeTextFile(unitPath, unit, { mode: 0o644 });
    } catch (err) {
      throw new CliError(
        "internal",
        `cannot write ${unitPath}: ${(err as Error).message}`,
        "run it as root, or pass --unit-dir ~/.config/systemd/user for a user unit",
      );
    }
    const health = healthExamples(name, user, homeDir(), [...selfCommand(), "health"]);
    const data = {
      unit_path: unitPath,
      exec_start: exec.map(systemdQuote).join(" "),
      health_cron: health.cron,
      health_timer: health.timer,
    };
    printResult(
      out,
      data,
      [
        `wrote ${unitPath}`,
        `next (as root): systemctl daemon-reload && systemctl enable --now ${name}`,
        "",
        "Check it every 5 minutes from cron (crontab -e):",
        `  ${health.cron}`,
        "or with a systemd timer (two files next to the unit, then systemctl enable --now " +
        `${name}-health.timer):`,
        health.timer.split("\n").map((l) => `  ${l}`).join("\n"),
      ].join("\n"),
    );
    return 0;
  },
};

/** The unit file text. */
export function serviceUnit(opts: { name: string; user: string; home: string; exec: string[] }): string {
  return [
    "[Unit]",
    "Description=Pilot Protocol node daemon (pilot)",
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `User=${opts.user}`,
    `Environment=HOME=${opts.home}`,
    ...Object.entries(DAEMON_ENV).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStart=${opts.exec.map(systemdQuote).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=5",
    "KillSignal=SIGTERM",
    "TimeoutStopSec=15",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** A crontab line and a systemd service+timer pair that run `pilot health`. */
export function healthExamples(
  name: string,
  user: string,
  home: string,
  health: string[],
): { cron: string; timer: string } {
  const cmd = health.map(shellQuote).join(" ");
  return {
    cron: `*/5 * * * * ${cmd} >/dev/null || logger -t ${name} "pilot health: exit $?"`,
    timer: [
      `# /etc/systemd/system/${name}-health.service`,
      "[Unit]",
      `Description=Check the pilot daemon (exit 1 degraded, 2 down)`,
      "[Service]",
      "Type=oneshot",
      `User=${user}`,
      `Environment=HOME=${home}`,
      `ExecStart=${health.map(systemdQuote).join(" ")}`,
      "",
      `# /etc/systemd/system/${name}-health.timer`,
      "[Unit]",
      `Description=Check the pilot daemon every ${HEALTH_EVERY}`,
      "[Timer]",
      `OnBootSec=${HEALTH_EVERY}`,
      `OnUnitActiveSec=${HEALTH_EVERY}`,
      "[Install]",
      "WantedBy=timers.target",
    ].join("\n"),
  };
}

/** Quotes an ExecStart word when it holds spaces, quotes or backslashes (systemd.service(5) syntax). */
function systemdQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=,@+-]+$/.test(word)) return word;
  return `"${word.replace(/[\\"]/g, "\\$&").replaceAll("%", "%%").replaceAll("$", "$$$$")}"`;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=,@+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The user the unit runs as: the one who ran `sudo pilot service install`, else the current one. */
function currentUser(): string {
  const name = env("SUDO_USER") || env("USER") || env("LOGNAME");
  if (name) return name;
  return Deno.uid() === 0 ? "root" : String(Deno.uid());
}

/** That user's home: from /etc/passwd under sudo (HOME is root's there), else HOME. */
function homeDir(): string {
  const sudoUser = env("SUDO_USER");
  if (sudoUser) {
    try {
      for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
        const fields = line.split(":");
        if (fields[0] === sudoUser && fields[5]) return fields[5];
      }
    } catch {
      // no /etc/passwd: fall back to HOME
    }
  }
  return env("HOME") || "/root";
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}
