/** Dispatches `pilot <command> …` and renders help, usage errors and exit codes. */
import { COMMAND_TABLE, type CommandEntry, findCommand } from "./commands.ts";
import { CliError, EXIT_USAGE, type Output, printError, processOutput } from "./output.ts";
import { checkLogEnv } from "../lib/log.ts";

export { EXIT_USAGE };

export function helpText(
  commands: readonly Pick<CommandEntry, "name" | "summary">[] = COMMAND_TABLE,
): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    "pilot: an agent's node on the Pilot Protocol overlay network",
    "",
    "Usage: pilot <command> [arguments] [--json]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `pilot <command> --help` for a command's flags. Logs: PILOT_LOG=debug|info|warn|error.",
    "Exit status: 0 ok, 1 failure (health: degraded), 2 health: down, 64 usage error.",
  ].join("\n");
}

/** Runs the CLI with `args` (without the program name); resolves to the exit status. */
export async function runCli(args: string[], out?: Output): Promise<number> {
  const json = args.includes("--json");
  const rest = args.filter((a) => a !== "--json");
  const output = out ?? processOutput(json);
  const [name, ...argv] = rest;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? findCommand(argv[0]) : undefined;
    output.stdout(target ? (await target.load()).usage : helpText());
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === "--version") return runCli(["version", ...(json ? ["--json"] : [])], output);
  const entry = findCommand(name);
  if (!entry) {
    if (json) {
      return printError(
        output,
        new CliError("invalid_argument", `unknown command "${name}"`, "pilot --help"),
      );
    }
    output.stderr(`unknown command "${name}"\n`);
    output.stderr(helpText());
    return EXIT_USAGE;
  }
  // Only this command's module is loaded (cli/commands.ts).
  const command = await entry.load();
  if (argv.includes("--help") || argv.includes("-h")) {
    output.stdout(command.usage);
    return 0;
  }
  try {
    try {
      checkLogEnv();
    } catch (err) {
      throw new CliError("invalid_argument", (err as Error).message);
    }
    return await command.run(argv, output);
  } catch (err) {
    return printError(output, err);
  }
}
