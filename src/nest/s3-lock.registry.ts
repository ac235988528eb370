import type { S3Election } from '../core/leader-election';

/**
 * Which S3LockService a decorated method runs with. The explorer registers every provider and
 * controller instance that has `@WithS3Lock()` methods at `onModuleInit`; instances it did not see
 * (request-scoped providers, objects built by hand) use the most recently started service. Several
 * applications in one process (tests) each keep their own.
 */
const byInstance = new WeakMap<object, object>();
const live: object[] = [];

export function registerInstance(instance: object, service: object): void {
  byInstance.set(instance, service);
}

export function registerService(service: object): void {
  unregisterService(service);
  live.push(service);
}

export function unregisterService(service: object): void {
  const i = live.indexOf(service);
  if (i >= 0) live.splice(i, 1);
}

/** The service registered for `instance`, else the most recently started live one. */
export function serviceFor<S extends object>(instance: unknown): S | undefined {
  const own = instance !== null && (typeof instance === 'object' || typeof instance === 'function') ? byInstance.get(instance) : undefined;
  return (own ?? live[live.length - 1]) as S | undefined;
}

/**
 * The leader elections each manager's application campaigns in (`S3LockService.elect()`,
 * `@WhileLeader()`), for the health indicator, which is built from the manager alone.
 */
const electionsByManager = new WeakMap<object, Set<S3Election>>();

export function trackElection(manager: object, election: S3Election): void {
  let set = electionsByManager.get(manager);
  if (!set) electionsByManager.set(manager, (set = new Set()));
  set.add(election);
}

export function untrackElection(manager: object, election: S3Election): void {
  electionsByManager.get(manager)?.delete(election);
}

/** The elections campaigning through `manager`'s application, in the order they started. */
export function electionsOf(manager: object): readonly S3Election[] {
  return [...(electionsByManager.get(manager) ?? [])];
}
