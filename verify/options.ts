/** Command-line options of `npm run verify` (see docs/verification.md). */
import { join } from 'node:path';
import type { ProtocolName, VerifyOptions } from './runner';
import { SCHEDULE_NAMES, parseSchedules } from './schedules';

export const USAGE = `Usage: npm run verify -- [options]
  --seconds N        length of each protocol's run (default $VERIFY_SECONDS or 60)
  --workers N        worker processes (default 4)
  --loops N          concurrent loops per worker, sharing its lock manager (default 2)
  --names K          lock names contended for (default 3)
  --store S          memory | rgw | moto | <endpoint URL> (default memory)
  --protocol P       create-only | versioned | both (default both)
  --ttl MS           lease TTL (default 3000)
  --faults on|off    fault proxy, SIGSTOP pauses, skewed clocks and the schedules below (default on)
  --schedules LIST   fault schedules besides those, comma-separated, or all | none (default all):
                     ${SCHEDULE_NAMES.join(', ')}
  --foreign-names N  foreign names under the first lock's key prefix (default $VERIFY_FOREIGN_NAMES or 1100)
  --svg PATH         also write the timeline SVG here (a protocol suffix is added for 'both')
  --out DIR          where logs and summaries go (default verify-out/<time>-<store>)
  --seed N           seed of the fault and pause schedule (default random)
  --acquire-slack MS how far acquire()/using() may overrun their waitMs before it is a violation
                     (default: the engine's request timeout + 1000, i.e. 3000 for a 3 s TTL)
  --keep-bucket      do not delete the bucket afterwards`;

function int(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min) throw new Error(`${name} needs an integer >= ${min}, got ${String(value)}`);
  return n;
}

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now: Date = new Date()): VerifyOptions {
  const o = {
    seconds: env.VERIFY_SECONDS ? int('VERIFY_SECONDS', env.VERIFY_SECONDS, 1) : 60,
    workers: 4,
    loops: 2,
    names: 3,
    store: 'memory',
    protocols: ['create-only', 'versioned'] as ProtocolName[],
    ttlMs: 3_000,
    svg: undefined as string | undefined,
    faults: true,
    out: undefined as string | undefined,
    seed: Math.floor(Math.random() * 2 ** 31),
    keepBucket: false,
    acquireSlackMs: undefined as number | undefined,
    schedules: env.VERIFY_SCHEDULES ? parseSchedules(env.VERIFY_SCHEDULES) : [...SCHEDULE_NAMES],
    foreignNames: env.VERIFY_FOREIGN_NAMES ? int('VERIFY_FOREIGN_NAMES', env.VERIFY_FOREIGN_NAMES, 0) : 1_100,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--seconds':
        o.seconds = int(flag, value(), 1);
        break;
      case '--workers':
        o.workers = int(flag, value(), 1);
        break;
      case '--loops':
        o.loops = int(flag, value(), 1);
        break;
      case '--names':
        o.names = int(flag, value(), 1);
        break;
      case '--store':
        o.store = value();
        break;
      case '--protocol': {
        const p = value();
        if (p === 'both') o.protocols = ['create-only', 'versioned'];
        else if (p === 'create-only' || p === 'versioned') o.protocols = [p];
        else throw new Error(`--protocol must be create-only, versioned or both, got ${p}`);
        break;
      }
      case '--ttl':
        o.ttlMs = int(flag, value(), 2_000);
        break;
      case '--faults': {
        const f = value();
        if (f !== 'on' && f !== 'off') throw new Error(`--faults must be on or off, got ${f}`);
        o.faults = f === 'on';
        break;
      }
      case '--svg':
        o.svg = value();
        break;
      case '--out':
        o.out = value();
        break;
      case '--seed':
        o.seed = int(flag, value(), 0);
        break;
      case '--acquire-slack':
        o.acquireSlackMs = int(flag, value(), 0);
        break;
      case '--schedules':
        o.schedules = parseSchedules(value());
        break;
      case '--foreign-names':
        o.foreignNames = int(flag, value(), 0);
        break;
      case '--keep-bucket':
        o.keepBucket = true;
        break;
      case '--help':
      case '-h':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const storeLabel = /^https?:/.test(o.store) ? 'url' : o.store;
  return { ...o, out: o.out ?? join('verify-out', `${stamp}-${storeLabel}`) };
}
