import type { S3Client } from '@aws-sdk/client-s3';

/** Records the S3 commands a client sends (a client middleware, as AWS's own e2e tests do). */
export class CommandLog {
  readonly commands: string[] = [];

  constructor(client: S3Client) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        this.commands.push(String((context as { commandName?: string }).commandName ?? 'unknown').replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: `commandLog${Math.random()}` },
    );
  }

  /** Commands recorded while `fn` ran. */
  async during(fn: () => Promise<unknown>): Promise<string[]> {
    const from = this.commands.length;
    await fn();
    return this.commands.slice(from);
  }
}
