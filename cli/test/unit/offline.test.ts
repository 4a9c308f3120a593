// run --offline / `offline: auto` (commands/run/offline.ts) and the pending markers push --pending reads.
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackend } from '../../src/commands/run/offline.ts';
import type { CliConfig } from '../../src/config.ts';
import { clearPending, listPending, markPending } from '../../src/home/pending-push.ts';
import { createLogger } from '../../src/logger.ts';

const home = () => mkdtempSync(join(tmpdir(), 'sl-offline-'));
const cfg = (h: string, over: Partial<CliConfig> = {}): CliConfig => ({
  home: h,
  apiUrl: 'http://127.0.0.1:9',
  team: 'ml',
  captureInterval: 60,
  materialize: 'copy',
  offline: 'never',
  ...over,
});
const log = createLogger({ quiet: true });

describe('runBackend', () => {
  it('keeps the deployment without --offline, even when it does not answer (the run then fails clearly)', async () => {
    const c = cfg(home());
    const b = await runBackend(c, { offline: false, queued: false }, log);
    expect(b.cfg.apiUrl).toBe(c.apiUrl);
    expect(b.markPending).toBeNull();
  });

  it('--offline runs on the embedded backend and marks the run for the deployment and team', async () => {
    const h = home();
    const b = await runBackend(cfg(h), { offline: true, queued: false }, log);
    expect(b.cfg.apiUrl).toBeNull();
    b.markPending?.('exp1');
    const [m] = listPending(h);
    expect(m).toMatchObject({ key: 'exp1', to: 'http://127.0.0.1:9', team: 'ml' });
    expect(statSync(join(h, 'pending', 'exp1.json')).mode & 0o777).toBe(0o600);
  });

  it('offline: auto falls back only when the deployment does not answer', async () => {
    const down = await runBackend(cfg(home(), { offline: 'auto' }), { offline: false, queued: false }, log);
    expect(down.cfg.apiUrl).toBeNull();
    const srv = createServer((_req, res) => res.writeHead(401).end('{}'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
      const up = await runBackend(
        cfg(home(), { apiUrl: url, offline: 'auto' }),
        { offline: false, queued: false },
        log,
      );
      expect(up.cfg.apiUrl).toBe(url);
      expect(up.markPending).toBeNull();
    } finally {
      srv.close();
    }
  });

  it('refuses --offline with --queue (exit 2) and changes nothing without a deployment', async () => {
    const h = home();
    await expect(runBackend(cfg(h), { offline: true, queued: true }, log)).rejects.toMatchObject({ exitCode: 2 });
    const none = await runBackend(cfg(h, { apiUrl: null }), { offline: true, queued: false }, log);
    expect(none.markPending).toBeNull();
    expect(listPending(h)).toEqual([]);
  });
});

describe('pending markers', () => {
  it('lists oldest first, skips garbage, clears one; a hostile key is refused', () => {
    const h = home();
    markPending(h, { key: 'b', to: 'u', team: null, at: '2026-01-02T00:00:00Z' });
    markPending(h, { key: 'a', to: 'u', team: null, at: '2026-01-01T00:00:00Z' });
    writeFileSync(join(h, 'pending', 'junk.json'), '{not json');
    expect(listPending(h).map((p) => p.key)).toEqual(['a', 'b']);
    clearPending(h, 'a');
    expect(listPending(h).map((p) => p.key)).toEqual(['b']);
    expect(() => markPending(h, { key: '../../etc/x', to: 'u', team: null, at: 'now' })).toThrow();
    expect(readdirSync(join(h, 'pending')).sort()).toEqual(['b.json', 'junk.json']);
  });
});
