import type { S3LockModuleLogger } from '../../../src';

/** A module logger that keeps every line with its level (for the log assertions of the e2e specs). */
export class CapturingLogger implements S3LockModuleLogger {
  readonly lines: Array<{ level: string; message: string }> = [];
  log(message: string): void {
    this.lines.push({ level: 'log', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string): void {
    this.lines.push({ level: 'error', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  verbose(message: string): void {
    this.lines.push({ level: 'verbose', message });
  }
  /** The messages logged at any of `levels`. */
  at(...levels: string[]): string[] {
    return this.lines.filter((l) => levels.includes(l.level)).map((l) => l.message);
  }
}
