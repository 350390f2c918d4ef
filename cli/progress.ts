/**
 * A progress bar for long operations (bench, transfers) on stderr. On a terminal it
 * redraws one line; otherwise it prints a line at every 10% so logs still show progress.
 * Silent when disabled (e.g. under --json, whose errors must stay one line).
 */

const enc = new TextEncoder();
const BAR_WIDTH = 30;

/** Reports progress of a task measured in bytes. */
export class Progress {
  #lastTenth = -1;
  #lastDraw = 0;
  readonly #tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {
    this.#tty = enabled && Deno.stderr.isTerminal();
  }

  /** Reports `done` of `total`. */
  update(done: number): void {
    if (!this.enabled || this.total <= 0) return;
    const fraction = Math.min(1, done / this.total);
    if (this.#tty) {
      const now = performance.now();
      if (now - this.#lastDraw < 100 && fraction < 1) return;
      this.#lastDraw = now;
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
      this.#write(
        `\r${this.label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${mib(done)}/${
          mib(this.total)
        }`,
      );
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth > this.#lastTenth) {
      this.#lastTenth = tenth;
      this.#write(`${this.label}: ${tenth * 10}% (${mib(done)} of ${mib(this.total)})\n`);
    }
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.#tty) this.#write("\n");
  }

  #write(text: string): void {
    Deno.stderr.writeSync(enc.encode(text));
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
