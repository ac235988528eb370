import { LockEvents } from './lock-events';

describe('lockTelemetry without @opentelemetry/api', () => {
  afterEach(() => {
    jest.dontMock('@opentelemetry/api');
    jest.resetModules();
  });

  it('is the no-op when the optional peer is not installed', () => {
    jest.doMock('@opentelemetry/api', () => {
      throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
    });
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the mock above
      const { lockTelemetry, NO_TELEMETRY } = require('./lock-telemetry') as typeof import('./lock-telemetry');
      expect(lockTelemetry(undefined, 'b', new LockEvents(undefined))).toBe(NO_TELEMETRY);
    });
  });

  it('is the no-op when disabled, even with the API installed', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh module registry
      const { lockTelemetry, NO_TELEMETRY } = require('./lock-telemetry') as typeof import('./lock-telemetry');
      expect(lockTelemetry({ enabled: false }, 'b', new LockEvents(undefined))).toBe(NO_TELEMETRY);
      expect(lockTelemetry({}, 'b', new LockEvents(undefined))).not.toBe(NO_TELEMETRY);
    });
  });

  it('a lockName mapping that throws gives no name attribute and does not fail the acquisition', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh module registry
      const { lockTelemetry } = require('./lock-telemetry') as typeof import('./lock-telemetry');
      const telemetry = lockTelemetry({ lockName: () => { throw new Error('bad mapping'); } }, 'b', new LockEvents(undefined));
      const trace = telemetry.acquire('order:1', undefined);
      expect(() => trace.end('acquired', 1)).not.toThrow();
    });
  });
});
