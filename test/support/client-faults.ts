/**
 * Scripted faults on one S3 client, so a schedule can be produced against any store (the in-memory
 * one, RGW, moto): a middleware inside the SDK's retry loop that can delay a request before it is
 * sent, delay its answer after the store applied it (for a time, or while an action runs), or lose the answer after the store applied it
 * (a connection reset: the SDK retries, which duplicates an unconditional PUT).
 *
 *   const faults = new ClientFaults(client);
 *   faults.next('PutObject', { kind: 'lose-response' });
 *   faults.next('ListObjectVersions', { kind: 'delay-before', ms: 1_000 });
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { SimulatedConnectionReset } from '../../src/testing';

export type ClientFault =
  | { readonly kind: 'lose-response' }
  | { readonly kind: 'delay-before'; readonly ms: number }
  | { readonly kind: 'delay-after'; readonly ms: number }
  /** Runs `action` before the request is sent, and sends it when the action settles. */
  | { readonly kind: 'hold'; readonly action: () => Promise<unknown> }
  /** Sends the request, then (the store has applied it) runs `action` before the answer is returned. */
  | { readonly kind: 'hold-after'; readonly action: () => Promise<unknown> };

interface Armed {
  readonly command: string;
  readonly fault: ClientFault;
  remaining: number;
  readonly onFire: (() => void) | undefined;
}

let counter = 0;

export class ClientFaults {
  /** Commands sent (each SDK attempt counts), in order. */
  readonly sent: string[] = [];
  private armed: Armed[] = [];

  constructor(client: S3Client) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String((context as { commandName?: string }).commandName ?? '').replace(/Command$/, '');
        this.sent.push(command);
        const armed = this.armed.find((a) => a.command === command && a.remaining > 0);
        if (armed) armed.remaining -= 1;
        this.armed = this.armed.filter((a) => a.remaining > 0);
        armed?.onFire?.();
        const fault = armed?.fault;
        if (fault?.kind === 'delay-before') await sleep(fault.ms);
        if (fault?.kind === 'hold') await fault.action().catch(() => undefined);
        const result = await next(args);
        if (fault?.kind === 'delay-after') await sleep(fault.ms);
        if (fault?.kind === 'hold-after') await fault.action().catch(() => undefined);
        if (fault?.kind === 'lose-response') throw new SimulatedConnectionReset('socket hang up (response lost on purpose by the test)');
        return result;
      },
      // Inside the SDK's retry middleware (finalizeRequest, high): every attempt passes here.
      { step: 'finalizeRequest', priority: 'low', name: `clientFaults${++counter}` },
    );
  }

  /**
   * Arms `fault` for the next `times` requests of `command` (e.g. 'PutObject'). `onFire` runs
   * each time it hits a request, before the request is sent (e.g. to arm the next step of a schedule).
   */
  next(command: string, fault: ClientFault, times = 1, onFire?: () => void): void {
    this.armed.push({ command, fault, remaining: times, onFire });
  }

  /** Disarms every fault not fired yet. */
  clear(): void {
    this.armed = [];
  }

  /** Faults still armed. */
  get pending(): number {
    return this.armed.reduce((n, a) => n + a.remaining, 0);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
