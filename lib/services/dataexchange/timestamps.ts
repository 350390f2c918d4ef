/**
 * The two clock formats of the mailbox, both in local time as the reference writes them:
 * `YYYYMMDD-HHMMSS.mmm` inside stored file names, and RFC 3339 with the local offset for
 * `received_at` (fractional seconds trimmed like Go's RFC3339Nano) and `modified`.
 * @module
 */

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** `YYYYMMDD-HHMMSS.mmm` in local time: the stamp in stored file names. */
export function fileStamp(when: Date): string {
  return `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}-` +
    `${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}.${
      pad(when.getMilliseconds(), 3)
    }`;
}

/** `+HH:MM`, `-HH:MM` or `Z` for the local offset at `when`. */
function offset(when: Date): string {
  const minutes = -when.getTimezoneOffset();
  if (minutes === 0) return "Z";
  const sign = minutes > 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/**
 * RFC 3339 in local time with offset. With `fraction`, milliseconds are appended with trailing
 * zeros removed (Go's RFC3339Nano style); without, whole seconds (Go's RFC3339).
 */
export function rfc3339Local(when: Date, fraction = false): string {
  const date = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
  const time = `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
  const ms = fraction ? pad(when.getMilliseconds(), 3).replace(/0+$/, "") : "";
  return `${date}T${time}${ms ? `.${ms}` : ""}${offset(when)}`;
}
