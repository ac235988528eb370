import { execFileSync } from 'node:child_process';
import { cliBin, runBin } from './support/cli-process';
import { freshBucket, memoryStore, startHolder, type CliStore } from './support/cli-stores';

/** `watch` in a real terminal: tmux runs it; the screen is read with `tmux capture-pane`. */
describe('nestjs-s3-lock watch in a terminal (tmux)', () => {
  const session = `s3lock-watch-${process.pid}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
  /** The visible screen; with `history`, the scrollback too. */
  const screen = (history = false): string => tmux('capture-pane', '-p', ...(history ? ['-S', '-'] : []), '-t', session);
  const until = async (pattern: RegExp, what: string, timeoutMs = 20_000, history = false): Promise<string> => {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      last = screen(history);
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    const pane = tmux('display-message', '-p', '-t', session, 'dead #{pane_dead} status #{pane_dead_status} signal #{pane_dead_signal} alternate #{alternate_on} pid #{pane_pid}');
    throw new Error(`the watch screen never showed ${what} (${pattern}) within ${timeoutMs} ms; pane: ${pane.trim()}; last screen:\n${last}`);
  };
  let store: CliStore;

  beforeAll(async () => {
    store = await memoryStore();
  });
  afterAll(async () => {
    try {
      tmux('kill-session', '-t', session);
    } catch {
      // already gone
    }
    await store?.close();
  });

  it('shows held locks, a hand-off, a lost lease, a takeover and a release as they happen, and quits on Ctrl-C', async () => {
    const bucket = await freshBucket(store, false);
    const a = await startHolder(store, { bucket, protocol: 'create-only', names: ['jobs/a'], waiters: ['jobs/a'] });
    const env = Object.entries({ ...store.env, TERM: 'xterm' }).map(([k, v]) => `${k}=${v}`);
    tmux('new-session', '-d', '-s', session, '-x', '180', '-y', '45', 'env', ...env, cliBin(), 'watch', '--bucket', bucket, ...store.flags, '--interval', '500');
    tmux('set-option', '-t', session, 'remain-on-exit', 'on');
    let s = await until(new RegExp(`jobs/a\\s+held\\s+\\S+:${a.child.pid}\\s`), 'jobs/a held by the first holder');
    expect(s).toMatch(/nestjs-s3-lock watch s3:\/\/\S+\/locks\//);
    expect(s).toMatch(/HELD: 1 of 1 locks/);

    // in-process hand-off: the holder's second instance gets the lock as the first releases it
    const first = a.tokens.get('jobs/a')!;
    a.send('release jobs/a');
    await a.line(/^RELEASED jobs\/a$/);
    await until(/1 hand-offs/, 'the hand-off');
    s = screen();
    expect(s).toMatch(new RegExp(`hand-off\\s+jobs/a: handed from token ${first} to \\S+:${a.child.pid}`));

    // the holder stops (SIGSTOP): its lease is not renewed, expires, and another process takes over
    process.kill(a.child.pid!, 'SIGSTOP');
    try {
      const b = await startHolder(store, { bucket, protocol: 'create-only', names: ['jobs/a'] });
      try {
        await until(/1 takeovers/, 'the takeover');
        s = screen();
        expect(s).toMatch(/1 lost leases/);
        expect(s).toMatch(new RegExp(`takeover\\s+jobs/a: taken over by \\S+:${b.child.pid}`));
        expect(s).toMatch(new RegExp(`jobs/a\\s+held\\s+\\S+:${b.child.pid}\\s`));

        // an operator's force release shows as a release, and the lock as no longer held
        const r = await runBin(['release', '--force', '--yes', 'jobs/a', '--bucket', bucket, ...store.flags], store.env);
        expect(r.code).toBe(0);
        s = await until(/1 released/, 'the force release');
        expect(s).toMatch(/no held locks/);
      } finally {
        await b.stop();
      }
    } finally {
      a.child.kill('SIGKILL');
    }

    tmux('send-keys', '-t', session, 'C-c');
    // the summary is printed on the normal screen (tmux may scroll it into the history when the pane dies)
    await until(/watched s3:\/\/\S+ for .*: 0 acquired, 1 hand-offs, 1 takeovers, 1 lost leases/, 'the summary after Ctrl-C', 20_000, true);
    s = screen();
    // the process exited by itself with status 0 (tmux prints 0 or nothing for it), not killed by the signal
    const end = tmux('display-message', '-p', '-t', session, '#{pane_dead}:#{?pane_dead_status,#{pane_dead_status},0}:#{?pane_dead_signal,#{pane_dead_signal},none}:#{alternate_on}');
    expect(end.trim()).toBe('1:0:none:0');
    // the terminal is back on the normal screen: the view's table is gone from it
    expect(s).not.toMatch(/HELD: /);
  });
});
