/**
 * Starts an in-memory S3 server from the command line, for processes that need an endpoint:
 *
 *   npx ts-node src/testing/in-memory-s3-cli.ts [--port 4599] [--host 127.0.0.1]
 *   node dist/testing/in-memory-s3-cli.js --port 0
 *
 * Prints `S3_ENDPOINT=http://127.0.0.1:PORT` once listening; closes on SIGTERM / SIGINT.
 */
import { startInMemoryS3Server } from './in-memory-s3-server';

/** The CLI's default port. */
export const DEFAULT_CLI_PORT = 4599;

export interface InMemoryS3CliOptions {
  port: number;
  host: string;
}

/** Parses `--port N`, `--port=N`, `--host H`, `--host=H`. Throws on anything else. */
export function parseCliArgs(argv: readonly string[]): InMemoryS3CliOptions {
  const options: InMemoryS3CliOptions = { port: DEFAULT_CLI_PORT, host: '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`missing value for ${name}`);
    if (name === '--port') {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${value}`);
      options.port = port;
    } else if (name === '--host') {
      options.host = value;
    } else {
      throw new Error(`unknown argument: ${arg} (usage: [--port N] [--host H])`);
    }
  }
  return options;
}

async function main(argv: readonly string[]): Promise<void> {
  const server = await startInMemoryS3Server(parseCliArgs(argv));
  process.stdout.write(`S3_ENDPOINT=${server.endpoint}\n`);
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`in-memory S3: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
