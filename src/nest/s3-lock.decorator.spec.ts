import { Get, SetMetadata, UseGuards, UseInterceptors, type CanActivate } from '@nestjs/common';
import { INTERCEPTORS_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { S3LockInvalidOptionsError } from '../core/errors';
import { S3_LOCK_METADATA } from './s3-lock.constants';
import { getS3LockMetadata, WithS3Lock } from './s3-lock.decorator';
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
      handler(): string {
        return 'a';
      }
    }
    const method = Target.prototype.handler;
    expect(method.name).toBe('handler');
    expect(Reflect.getMetadata(PATH_METADATA, method)).toBe('a');
    expect(Reflect.getMetadata('custom', method)).toBe(42);
    expect(Reflect.getMetadata('__guards__', method)).toEqual([AllowAll]);
    expect(getS3LockMetadata(method)).toEqual({ name: 'below', options: {}, where: 'Target.handler' });
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, method)).toEqual([S3LockInterceptor.instance]);
  });

  it('copies the metadata set by decorators below it (placed above them)', () => {
    class Target {
      @WithS3Lock('above', { ttlMs: 5_000 })
      @SetMetadata('custom', 'kept')
      @UseGuards(AllowAll)
      @Get('b')
      handler(): string {
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
      handler(): void {}
    }
    expect(Reflect.getMetadata(INTERCEPTORS_METADATA, Target.prototype.handler)).toEqual([other, S3LockInterceptor.instance]);
  });

  it('validates its options when the class is defined', () => {
    const decorate = (name: unknown, options: object): unknown => WithS3Lock(name as string, options);
    expect(() => decorate('', {})).toThrow(S3LockInvalidOptionsError);
    expect(() => decorate(42, {})).toThrow(/non-empty string or a function/);
    expect(() => decorate('x', { ttlMs: 100 })).toThrow(/Invalid ttlMs for lock "x"/);
    expect(() => decorate('x', { waitMs: -5 })).toThrow(/waitMs/);
    expect(() => decorate('x', { onLocked: 'later' })).toThrow(/onLocked/);
    expect(() => decorate('x', { minHoldMs: -1 })).toThrow(/minHoldMs/);
    expect(() => decorate('x', { enabled: 'no' })).toThrow(/enabled/);
    expect(() =>
      WithS3Lock('x')({}, 'notAMethod', { value: 42 } as unknown as TypedPropertyDescriptor<() => void>),
    ).toThrow(/can only decorate methods/);
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

  it('enabled: false calls the method as is, without any lock or module', () => {
    class Flagged {
      value = 7;
      @WithS3Lock('flagged', { enabled: false })
      read(add: number): number {
        return this.value + add;
      }
    }
    expect(new Flagged().read(1)).toBe(8);
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
