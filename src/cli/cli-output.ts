import Table from 'cli-table3';

/** Where a command writes: stdout for results, stderr for messages (tests replace both). */
export interface CliStreams {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const processStreams: CliStreams = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** A borderless table with a header row, as text ending in a newline. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const t = new Table({
    head: [...head],
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '',
    },
  });
  for (const r of rows) t.push([...r]);
  return t.toString().replace(/[ \t]+$/gm, '') + '\n';
}

/** A JSON document with dates as ISO strings, ending in a newline. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** `1.2 s`, `3 min 4 s`, `2 h 5 min`: a duration for people. */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(ms) < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** An ISO time without milliseconds, or `-`. */
export function time(date: Date | undefined | null): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}
