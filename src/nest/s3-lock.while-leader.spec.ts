import { S3LockInvalidOptionsError } from '../core/errors';
import type { S3LockContext } from '../core/lock-types';
import { S3_WHILE_LEADER_METADATA } from './s3-lock.constants';
import { getWhileLeaderMetadata, leaderName, WhileLeader, type WhileLeaderOptions } from './s3-lock.while-leader';

describe('@WhileLeader', () => {
  it('stores its metadata on the method and leaves the method as it is', async () => {
    class Consumer {
      @WhileLeader('consumer', { ttlMs: 5_000 })
      async consume(context: S3LockContext): Promise<string> {
        return context.name;
      }
    }
    const method = Consumer.prototype.consume;
    expect(method.name).toBe('consume');
    expect(getWhileLeaderMetadata(method)).toEqual({ name: 'consumer', options: { ttlMs: 5_000 }, where: 'Consumer.consume' });
    expect(Reflect.getMetadata(S3_WHILE_LEADER_METADATA, method)).toBe(getWhileLeaderMetadata(method));
    expect(Object.isFrozen(getWhileLeaderMetadata(method)!.options)).toBe(true);
    // called directly, it runs as written
    await expect(new Consumer().consume({ name: 'direct' } as S3LockContext)).resolves.toBe('direct');
    expect(getWhileLeaderMetadata(Consumer.prototype.constructor)).toBeUndefined();
  });

  function decorate(name: unknown, options?: unknown): void {
    class Target {
      async lead(): Promise<void> {}
    }
    const descriptor = Object.getOwnPropertyDescriptor(Target.prototype, 'lead')!;
    WhileLeader(name as string, options as WhileLeaderOptions)(Target.prototype, 'lead', descriptor as TypedPropertyDescriptor<() => Promise<void>>);
  }

  it('validates the name and options when the class is defined, naming Class.method', () => {
    expect(() => decorate('')).toThrow(/^Invalid option name: @WhileLeader\(\) on Target\.lead: a lock name must not be empty$/);
    expect(() => decorate(42)).toThrow(/@WhileLeader\(\) on Target\.lead: the election's name must be a non-empty string or a function/);
    expect(() => decorate('x#permit-1')).toThrow(/kept for the permits of semaphores/);
    expect(() => decorate('x', { ttlMs: 10 })).toThrow(/^Invalid ttlMs for lock "x": @WhileLeader\(\) on Target\.lead: must be an integer between 2000/);
    expect(() => decorate('x', { enabled: 'yes' })).toThrow(/@WhileLeader\(\) on Target\.lead: must be a boolean/);
    expect(() => decorate('x', { telemetryName: 5 })).toThrow(/@WhileLeader\(\) on Target\.lead: must be a string/);
    expect(() => decorate('x', null)).toThrow(S3LockInvalidOptionsError);
    expect(() => decorate(() => 'from-config')).not.toThrow();
    expect(() => WhileLeader('x')({}, 'notAMethod', { value: 1 } as unknown as TypedPropertyDescriptor<() => void>)).toThrow(/only decorate instance methods of providers; Object\.notAMethod/);
    expect(() => {
      class OnTheClass {
        @WhileLeader('static')
        static async lead(): Promise<void> {}
      }
      return OnTheClass;
    }).toThrow(/OnTheClass\.lead is not one/);
  });

  it('a name function is called with this = the instance, and its result checked', () => {
    class Configured {
      constructor(readonly env: string) {}
      @WhileLeader(function (this: Configured) {
        return `leader:${this.env}`;
      })
      async lead(): Promise<void> {}
    }
    const metadata = getWhileLeaderMetadata(Configured.prototype.lead)!;
    expect(leaderName(metadata, new Configured('prod'))).toBe('leader:prod');
    expect(() => leaderName(metadata, new Configured('bad\u0000'))).toThrow(/@WhileLeader\(\) on Configured\.lead: a lock name must not contain control characters/);
  });
});
