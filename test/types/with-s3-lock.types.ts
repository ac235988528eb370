/**
 * Type tests of `@WithS3Lock()`: compiled by tsc (test/types/tsconfig.json), never executed.
 * src/type-tests.spec.ts runs the compiler over this folder in the unit project, so a
 * `// @ts-expect-error` below that no longer meets an error fails the test run.
 *
 * The rules under test (legacy `experimentalDecorators`, as Nest uses them):
 * - a decorated method must be `async` or return an Observable: a synchronous one is an error,
 *   because the lock makes every call asynchronous;
 * - a name function's parameters must match the method's leading parameters;
 * - the decorated method keeps its type.
 */
import { Controller, Get, Param, StreamableFile } from '@nestjs/common';
import { expectTypeOf } from 'expect-type';
import { of, type Observable } from 'rxjs';
import { WhileLeader, WithS3Lock, type S3LockContext, type S3LockMethodDecorator, type S3LockMethodResult } from '../../src';

// ------------------------------------------------------------------ accepted methods

@Controller('orders')
export class Accepted {
  prefix = 'tenant';

  @WithS3Lock('async')
  async run(): Promise<number> {
    return 1;
  }

  @Get('ticks')
  @WithS3Lock('observable')
  ticks(): Observable<number> {
    return of(1, 2, 3);
  }

  @WithS3Lock('promise-of-observable')
  async later(): Promise<Observable<string>> {
    return of('a');
  }

  @WithS3Lock('promise-like')
  thenable(): PromiseLike<string> {
    return Promise.resolve('a');
  }

  @WithS3Lock('void')
  async fire(): Promise<void> {}

  @Get('file')
  @WithS3Lock('file')
  async file(): Promise<StreamableFile> {
    return new StreamableFile(Buffer.from('file'));
  }

  /** A static name: any parameters. */
  @WithS3Lock('static', { onLocked: 'wait', waitMs: 1_000 })
  async anyParameters(id: string, amount: number): Promise<string> {
    return `${id}:${amount}`;
  }

  /** The same parameters as the method. */
  @Get(':id')
  @WithS3Lock((id: string) => `order:${id}`)
  async get(@Param('id') id: string): Promise<string> {
    return id;
  }

  /** Fewer parameters than the method: the method's first ones. */
  @WithS3Lock((id: string) => `order:${id}`)
  async pay(id: string, amount: number): Promise<number> {
    return id.length + amount;
  }

  /** No parameter at all. */
  @WithS3Lock(() => 'fixed')
  async fixed(id: string): Promise<string> {
    return id;
  }

  /** Two parameters, both matching. */
  @WithS3Lock((tenant: string, id: number) => `${tenant}:${id}`)
  async both(tenant: string, id: number, note?: string): Promise<string> {
    return `${tenant}:${id}:${note ?? ''}`;
  }

  /** `this` is the instance. */
  @WithS3Lock(function (this: Accepted, id: string) {
    return `${this.prefix}:${id}`;
  })
  async withThis(id: string): Promise<string> {
    return id;
  }

  @WithS3Lock((id: string) => `static:${id}`)
  static async onTheClass(id: string): Promise<string> {
    return id;
  }
}

/** Several names and semaphores. */
export class SeveralNames {
  @WithS3Lock(['order:1', 'wallet:2'])
  async staticArray(): Promise<void> {}

  @WithS3Lock((from: string, to: string) => [`account:${from}`, `account:${to}`])
  async fromArguments(from: string, to: string, amount: number): Promise<string> {
    return `${from}->${to}:${amount}`;
  }

  @WithS3Lock('exports', { permits: 3 })
  async semaphore(): Promise<void> {}

  // @ts-expect-error the name function takes a number, the method a string
  @WithS3Lock((id: number) => [`a:${id}`, `b:${id}`])
  async wrongArrayType(id: string): Promise<string> {
    return id;
  }
}

/** `@WhileLeader()`: the method takes the term's context, or nothing. */
export class Leaders {
  @WhileLeader('with-context')
  async lead(context: S3LockContext): Promise<number> {
    return context.fencingToken;
  }

  @WhileLeader(() => 'from-config', { ttlMs: 10_000 })
  noContext(): void {}

  // @ts-expect-error the method takes a number where the term's context comes
  @WhileLeader('wrong-parameter')
  async wrong(count: number): Promise<number> {
    return count;
  }
}

// ------------------------------------------------------------------ refused methods

export class Refused {
  // @ts-expect-error a synchronous method returning a number
  @WithS3Lock('sync-number')
  count(): number {
    return 1;
  }

  // @ts-expect-error a synchronous method returning void
  @WithS3Lock('sync-void')
  fire(): void {}

  // @ts-expect-error a synchronous route returning a StreamableFile
  @WithS3Lock('sync-file')
  @Get('file')
  file(): StreamableFile {
    return new StreamableFile(Buffer.from('file'));
  }

  // @ts-expect-error a synchronous method whose result is sometimes a Promise
  @WithS3Lock('sometimes')
  sometimes(wait: boolean): Promise<number> | number {
    return wait ? Promise.resolve(1) : 1;
  }

  // @ts-expect-error the name function takes a string, the method a number
  @WithS3Lock((id: string) => `order:${id}`)
  async wrongType(id: number): Promise<number> {
    return id;
  }

  // @ts-expect-error the name function takes two parameters, the method one (the second would be undefined)
  @WithS3Lock((id: string, tenant: string) => `${tenant}:${id}`)
  async moreParameters(id: string): Promise<string> {
    return id;
  }

  // @ts-expect-error the method takes no parameter at all
  @WithS3Lock((id: string) => `order:${id}`)
  async noParameter(): Promise<string> {
    return 'none';
  }

  // @ts-expect-error the method may pass a number where the name function takes a string
  @WithS3Lock((id: string) => `order:${id}`)
  async wider(id: string | number): Promise<string> {
    return String(id);
  }

  // @ts-expect-error the second parameter does not match
  @WithS3Lock((tenant: string, id: number) => `${tenant}:${id}`)
  async secondWrong(tenant: string, id: string): Promise<string> {
    return `${tenant}:${id}`;
  }
}

// ------------------------------------------------------------------ the decorated methods keep their types

const accepted = new Accepted();
expectTypeOf(accepted.run).returns.toEqualTypeOf<Promise<number>>();
expectTypeOf(accepted.ticks).returns.toEqualTypeOf<Observable<number>>();
expectTypeOf(accepted.later).returns.toEqualTypeOf<Promise<Observable<string>>>();
expectTypeOf(accepted.file).returns.toEqualTypeOf<Promise<StreamableFile>>();
expectTypeOf(accepted.pay).returns.toEqualTypeOf<Promise<number>>();
expectTypeOf(accepted.pay).parameters.toEqualTypeOf<[id: string, amount: number]>();
expectTypeOf(accepted.both).parameters.toEqualTypeOf<[tenant: string, id: number, note?: string]>();
expectTypeOf(Accepted.onTheClass).returns.toEqualTypeOf<Promise<string>>();
expectTypeOf(new Refused().count).returns.toEqualTypeOf<number>();

// ------------------------------------------------------------------ the decorator's own types

expectTypeOf(WithS3Lock('name')).toEqualTypeOf<S3LockMethodDecorator<never[]>>();
expectTypeOf(WithS3Lock((id: string, n: number) => `${id}:${n}`)).toEqualTypeOf<S3LockMethodDecorator<[id: string, n: number]>>();
expectTypeOf<Promise<number>>().toExtend<S3LockMethodResult>();
expectTypeOf<Observable<number>>().toExtend<S3LockMethodResult>();
expectTypeOf<number>().not.toExtend<S3LockMethodResult>();
expectTypeOf<void>().not.toExtend<S3LockMethodResult>();
// @ts-expect-error the name function must return a string
WithS3Lock((id: string) => id.length);
