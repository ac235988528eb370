import { Get, SetMetadata, UseGuards, UseInterceptors, type CanActivate } from '@nestjs/common';
import { INTERCEPTORS_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { S3LockInvalidOptionsError } from '../core/errors';
import { S3_LOCK_METADATA } from './s3-lock.constants';
import { getS3LockMetadata, WithS3Lock, type WithS3LockOptions } from './s3-lock.decorator';
import { S3LockInterceptor } from './s3-lock.interceptor';

class AllowAll implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

describe('@WithS3Lock', () => {
  it('replaces the method with a wrapper that keeps every metadata key and the function name (below other decorators)', () => {
    class Target {
      @Get('a')
      @UseGuards(AllowAll)
      @SetMetadata('custom', 42)
      @WithS3Lock('below')
      async handler(): Promise<string> {
        return 'a';
      }
    }
    const method = Target.prototype.handler;
    expect(method.name).toBe('handler');
    expect(Reflect.getMetadata(PATH_METADATA, method)).toBe('a');
    expect(Reflect.getMetadata('custom', method)).toBe(42);
    expect(Reflect.getMetadata('__guards__', method)).toEqual([AllowAll]);
    expect(getS3LockMetadata(method)).toEqual({ name: 'below', options: {}, where: 'Target.handler', telemetryName: 'below' });
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, method)).toEqual([S3LockInterceptor.instance]);
  });

  it('copies the metadata set by decorators below it (placed above them)', () => {
    class Target {
      @WithS3Lock('above', { ttlMs: 5_000 })
      @SetMetadata('custom', 'kept')
      @UseGuards(AllowAll)
      @Get('b')
      async handler(): Promise<string> {
        return 'b';
      }
    }
    const method = Target.prototype.handler;
    expect(Reflect.getMetadata(PATH_METADATA, method)).toBe('b');
    expect(Reflect.getMetadata('custom', method)).toBe('kept');
    expect(Reflect.getMetadata('__guards__', method)).toEqual([AllowAll]);
    expect(Reflect.getMetadata(S3_LOCK_METADATA, method)).toMatchObject({ name: 'above', options: { ttlMs: 5_000 } });
    expect(Object.isFrozen(getS3LockMetadata(method)!.options)).toBe(true);
  });

  it('appends its interceptor to interceptors already declared', () => {
    const other = { intercept: jest.fn() };
    class Target {
      @WithS3Lock('x')
      @UseInterceptors(other)
      async handler(): Promise<void> {}
    }
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, Target.prototype.handler)).toEqual([other, S3LockInterceptor.instance]);
  });

  /** Applies `@WithS3Lock(name, options)` to `Target.method`, as a class definition does. */
  function decorate(name: unknown, options?: unknown): void {
    class Target {
      async method(): Promise<void> {}
    }
    const descriptor = Object.getOwnPropertyDescriptor(Target.prototype, 'method')!;
    WithS3Lock(name as string, options as WithS3LockOptions)(Target.prototype, 'method', descriptor as TypedPropertyDescriptor<() => Promise<void>>);
  }

  it('validates its name and options when the class is defined, naming Class.method', () => {
    const invalid = (name: unknown, options?: unknown): S3LockInvalidOptionsError => {
      try {
        decorate(name, options);
      } catch (error) {
        expect(error).toBeInstanceOf(S3LockInvalidOptionsError);
        return error as S3LockInvalidOptionsError;
      }
      throw new Error('expected @WithS3Lock() to throw');
    };
    expect(() => WithS3Lock('', {})).not.toThrow(); // only when applied, where Class.method is known
    expect(invalid('').message).toBe('Invalid option name: @WithS3Lock() on Target.method: a lock name must not be empty');
    expect(invalid(42).message).toMatch(/@WithS3Lock\(\) on Target\.method: the lock name must be a non-empty string or a function/);
    expect(invalid('x', { ttlMs: 100 }).message).toMatch(/^Invalid ttlMs for lock "x": @WithS3Lock\(\) on Target\.method: must be an integer between 2000/);
    expect(invalid('x', { waitMs: -5 })).toMatchObject({ option: 'waitMs', message: expect.stringContaining('@WithS3Lock() on Target.method: must be a number >= 0') });
    expect(invalid('x', { onLocked: 'later' })).toMatchObject({ option: 'onLocked', message: expect.stringContaining('Target.method') });
    expect(invalid('x', { minHoldMs: -1 })).toMatchObject({ option: 'minHoldMs', message: expect.stringContaining('Target.method') });
    expect(invalid('x', { enabled: 'no' })).toMatchObject({ option: 'enabled', message: expect.stringContaining('@WithS3Lock() on Target.method: must be a boolean') });
    expect(invalid('x', null)).toMatchObject({ option: 'options', message: expect.stringContaining('@WithS3Lock() on Target.method: the options must be an object') });
    expect(() =>
      WithS3Lock('x')({}, 'notAMethod', { value: 42 } as unknown as TypedPropertyDescriptor<() => Promise<void>>),
    ).toThrow(/can only decorate methods; Object\.notAMethod/);
  });

  it('validates a static name with the engine rules at decoration time, naming Class.method', () => {
    const long = 'n'.repeat(2_000);
    expect(() => decorate(long)).toThrow(S3LockInvalidOptionsError);
    expect(() => decorate(long)).toThrow(/@WithS3Lock\(\) on Target\.method: a lock name must be at most 256 characters, got 2000/);
    expect(() => decorate('n'.repeat(256))).not.toThrow();
    expect(() => decorate('bad\u0000name')).toThrow(/@WithS3Lock\(\) on Target\.method: a lock name must not contain control characters/);
    expect(() => decorate('not xml \uffff')).toThrow(/@WithS3Lock\(\) on Target\.method: a lock name must not contain U\+FFFF/);
    expect(() => decorate('order:42/\u00fcn\u00ef \u{1F512}')).not.toThrow();
    // a class definition with such a name fails where it is defined, not on every call
    expect(() => {
      class Report {
        @WithS3Lock('')
        async nightly(): Promise<void> {}
      }
      return Report;
    }).toThrow(/@WithS3Lock\(\) on Report\.nightly: a lock name must not be empty/);
  });

  it('fails clearly when no S3LockModule was started', async () => {
    class Orphan {
      @WithS3Lock('orphan')
      async run(): Promise<string> {
        return 'ran';
      }
    }
    await expect(new Orphan().run()).rejects.toThrow(/@WithS3Lock\(\) on Orphan\.run has no S3LockService.*S3LockModule\.forRoot/);
  });

  it('enabled: false calls the method as is, without any lock or module', async () => {
    class Flagged {
      value = 7;
      @WithS3Lock('flagged', { enabled: false })
      async read(add: number): Promise<number> {
        return this.value + add;
      }
    }
    await expect(new Flagged().read(1)).resolves.toBe(8);
  });

  it('types the name function on the method arguments', () => {
    class Typed {
      @WithS3Lock((orderId: string) => `order:${orderId}`)
      async pay(orderId: string, amount: number): Promise<number> {
        return orderId.length + amount;
      }

      // @ts-expect-error the name function takes a string, the method a number
      @WithS3Lock((orderId: string) => `order:${orderId}`)
      async refund(orderId: number): Promise<number> {
        return orderId;
      }

      @WithS3Lock(function (this: Typed, id: string) {
        return `${this.prefix}:${id}`;
      })
      async withThis(id: string): Promise<string> {
        return id;
      }

      prefix = 'typed';
    }
    expect(typeof Typed.prototype.pay).toBe('function');
  });
});

describe('@WithS3Lock with several names or permits', () => {
  function decorate(name: unknown, options?: unknown): void {
    class Target {
      async method(): Promise<void> {}
    }
    const descriptor = Object.getOwnPropertyDescriptor(Target.prototype, 'method')!;
    WithS3Lock(name as string, options as WithS3LockOptions)(Target.prototype, 'method', descriptor as TypedPropertyDescriptor<() => Promise<void>>);
  }

  it('a static array: telemetry name defaults to the canonical names joined by ","', () => {
    class Target {
      @WithS3Lock(['wallet:7', 'order:42', 'wallet:7'])
      async both(): Promise<void> {}

      @WithS3Lock(['b', 'a'], { telemetryName: 'transfer' })
      async named(): Promise<void> {}

      @WithS3Lock((from: string, to: string) => [from, to])
      async fromArgs(_from: string, _to: string): Promise<void> {}

      @WithS3Lock('exports', { permits: 2 })
      async limited(): Promise<void> {}
    }
    expect(getS3LockMetadata(Target.prototype.both)).toMatchObject({ name: ['wallet:7', 'order:42', 'wallet:7'], telemetryName: 'order:42,wallet:7' });
    expect(getS3LockMetadata(Target.prototype.named)!.telemetryName).toBe('transfer');
    expect(getS3LockMetadata(Target.prototype.fromArgs)!.telemetryName).toBe('Target.fromArgs');
    expect(getS3LockMetadata(Target.prototype.limited)).toMatchObject({ name: 'exports', options: { permits: 2 }, telemetryName: 'exports' });
  });

  it('validates each name of a static array and the permits when the class is defined', () => {
    expect(() => decorate([])).toThrow(/@WithS3Lock\(\) on Target\.method: an array of lock names must not be empty/);
    expect(() => decorate(['ok', ''])).toThrow(/@WithS3Lock\(\) on Target\.method: a lock name must not be empty/);
    expect(() => decorate(['ok', 7])).toThrow(/@WithS3Lock\(\) on Target\.method: the lock name must be a non-empty string/);
    expect(() => decorate(['ok', 'x#permit-3'])).toThrow(/kept for the permits of semaphores/);
    expect(() => decorate('x#permit-0')).toThrow(S3LockInvalidOptionsError);
    for (const permits of [0, 1.5, 1001, '2']) {
      expect(() => decorate('sem', { permits })).toThrow(/Invalid permits for lock "sem": @WithS3Lock\(\) on Target\.method: must be an integer from 1 to 1000/);
    }
    expect(() => decorate(['a', 'b'], { permits: 2 })).toThrow(/@WithS3Lock\(\) on Target\.method: a semaphore \(permits\) takes one name, not an array/);
    expect(() => decorate(['a', 'b'], { permits: 2 })).toThrow(S3LockInvalidOptionsError);
    expect(() => decorate(['a', 'b'])).not.toThrow();
    expect(() => decorate('sem', { permits: 1000 })).not.toThrow();
  });
});
