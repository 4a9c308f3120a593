import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createExperiment,
  expectError,
  type Harness,
  mintUserToken,
  publish,
  route,
  startHarness,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/** Runs `fn` with the backend's clock moved forward. */
async function later<T>(seconds: number, fn: () => Promise<T>): Promise<T> {
  const deps = h.server.backend.deps;
  const real = deps.now;
  deps.now = () => new Date(real().getTime() + seconds * 1000);
  try {
    return await fn();
  } finally {
    deps.now = real;
  }
}

async function newCode(token?: string): Promise<string> {
  const r = await h.call<{ code: string }>('POST', '/v1/ui/signin-codes', { body: {}, ...(token ? { token } : {}) });
  expect(r.status, r.text).toBe(201);
  return r.body.code;
}

async function exchange(code: string): Promise<Response> {
  return fetch(`${h.url}/v1/ui/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
}

function cookieOf(res: Response): string {
  const c = res.headers.get('set-cookie') ?? '';
  return c.split(';')[0] as string;
}

describe('web sign-in codes and the session cookie', () => {
  it('a code gives one HttpOnly SameSite=Strict session; a second use and an expired code fail', async () => {
    const code = await newCode();
    const first = await exchange(code);
    expect(first.status).toBe(200);
    const setCookie = first.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^studio_session=slt_/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(await first.text()).not.toContain('slt_');
    const again = await exchange(code);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHENTICATED');

    const stale = await newCode();
    const late = await later(301, () => exchange(stale));
    expect(late.status).toBe(401);
  });

  it('racing uses of one code: exactly one session', async () => {
    const code = await newCode();
    const all = await Promise.all(Array.from({ length: 8 }, () => exchange(code)));
    expect(all.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
  });

  it('the cookie acts only with the UI header, with the role of the user who asked for the code', async () => {
    const viewer = await mintUserToken(h, `viewer-${uniqueKey()}`, { [TEAM]: 'viewer' });
    const cookie = cookieOf(await exchange(await newCode(viewer)));
    const withHeader = await fetch(`${h.url}/v1/whoami`, { headers: { cookie, 'x-studio-ui': '1' } });
    expect(withHeader.status).toBe(200);
    expect(((await withHeader.json()) as { principal: { teams: Record<string, string> } }).principal.teams).toEqual({
      [TEAM]: 'viewer',
    });
    const noHeader = await fetch(`${h.url}/v1/whoami`, { headers: { cookie } });
    expect(noHeader.status).toBe(403);
    const key = uniqueKey('owned');
    await createExperiment(h, key);
    const del = await fetch(`${h.url}${route.experiment(key)}`, {
      method: 'DELETE',
      headers: { cookie, 'x-studio-ui': '1' },
    });
    expect(del.status).toBe(403);
    expect((await h.experiments.getExperiment(TEAM, key))?.key).toBe(key);
    // Signing out revokes the session's token.
    const out = await fetch(`${h.url}/v1/ui/logout`, { method: 'POST', headers: { cookie, 'x-studio-ui': '1' } });
    expect(out.status).toBe(200);
    const after = await fetch(`${h.url}/v1/whoami`, { headers: { cookie, 'x-studio-ui': '1' } });
    expect(after.status).toBe(401);
  });

  it('an anonymous caller cannot mint a code', async () => {
    const r = await h.call('POST', '/v1/ui/signin-codes', { body: {}, token: null });
    expectError(r, 401, 'E_UNAUTHENTICATED');
  });
});

async function untar(res: Response): Promise<Map<string, { data: Buffer; mode: number; mtime: number; type: string }>> {
  const out = new Map<string, { data: Buffer; mode: number; mtime: number; type: string }>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      parts.push(c as Buffer);
    });
    stream.on('end', () => {
      out.set(header.name, {
        data: Buffer.concat(parts),
        mode: header.mode ?? 0,
        mtime: header.mtime?.getTime() ?? 0,
        type: header.type ?? 'file',
      });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  Readable.fromWeb(res.body as import('node:stream/web').ReadableStream)
    .pipe(createGunzip())
    .pipe(ex);
  await done;
  return out;
}

describe('tar.gz archive links', () => {
  it('streams every file with its mode and mtime; the link works without credentials until it expires', async () => {
    const key = uniqueKey('arch');
    await createExperiment(h, key);
    const big = Buffer.alloc(3 << 20, 7);
    await publish(h, key, 'data', [
      { path: 'a.txt', data: text('hello\n'), mode: 0o644, mtime: 1_700_000_000_000 },
      { path: 'bin/run.sh', data: text('#!/bin/sh\n'), mode: 0o755, mtime: 1_700_000_100_000 },
      { path: 'big/blob.bin', data: new Uint8Array(big), mode: 0o600, mtime: 1_700_000_200_000 },
    ]);
    const link = await h.call<{ url: string; expiresAt: string }>(
      'POST',
      `/v1/experiments/${key}/artifacts/data/versions/1/archive`,
    );
    expect(link.status, link.text).toBe(200);
    expect(link.body.url.startsWith(`${h.url}/v1/archives/`)).toBe(true);
    const res = await fetch(link.body.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toContain(`${key}-data-v1.tar.gz`);
    const files = await untar(res);
    expect([...files.keys()].sort()).toEqual(['a.txt', 'big/blob.bin', 'bin/run.sh']);
    expect(files.get('a.txt')?.data.toString()).toBe('hello\n');
    expect(files.get('bin/run.sh')?.mode).toBe(0o755);
    expect(files.get('big/blob.bin')?.data.equals(big)).toBe(true);
    // tar keeps whole seconds.
    expect(files.get('a.txt')?.mtime).toBe(1_700_000_000_000);

    const expired = await later(h.server.backend.deps.urlTtlSeconds + 1, () => fetch(link.body.url));
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { error: { code: string } }).error.code).toBe('E_URL_EXPIRED');
    const forged = await fetch(link.body.url.replace(/\/v1\/archives\/([^.]+)\./, '/v1/archives/$1x.'));
    expect(forged.status).toBe(403);
  });

  it('a caller outside the team gets no link', async () => {
    const key = uniqueKey('arch');
    await createExperiment(h, key);
    await publish(h, key, 'data', [{ path: 'a', data: text('a') }]);
    const outsider = await mintUserToken(h, `out-${uniqueKey()}`, { other: 'admin' });
    const r = await h.call('POST', `/v1/experiments/${key}/artifacts/data/versions/1/archive`, {
      token: outsider,
      team: TEAM,
    });
    expectError(r, 403, 'E_FORBIDDEN');
  });
});

describe('experiment pages', () => {
  it('cursor pages walk the list once; text, status and owner filter; a bad cursor is E_BAD_REQUEST', async () => {
    const tag = uniqueKey('pg').replace(/-/g, '');
    for (let i = 0; i < 7; i++)
      await createExperiment(h, `${tag}-${i}`, { command: ['python', i % 2 ? 'odd.py' : 'even.py'] });
    const seen: string[] = [];
    let cursor: string | null = null as string | null;
    do {
      const qs = new URLSearchParams({ limit: '3', q: tag, ...(cursor ? { cursor } : {}) });
      const r = await h.call<{ experiments: { key: string }[]; nextCursor: string | null }>(
        'GET',
        `/v1/experiments?${qs}`,
      );
      expect(r.status, r.text).toBe(200);
      seen.push(...r.body.experiments.map((e) => e.key));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `${tag}-${i}`));
    const odd = await h.call<{ experiments: { key: string }[] }>('GET', `/v1/experiments?q=${tag}&limit=50`);
    expect(odd.body.experiments).toHaveLength(7);
    const text2 = await h.call<{ experiments: { key: string }[] }>('GET', `/v1/experiments?q=ODD.PY&limit=500`);
    expect(text2.body.experiments.map((e) => e.key).filter((k) => k.startsWith(tag))).toEqual(
      [5, 3, 1].map((i) => `${tag}-${i}`),
    );
    const running = await h.call<{ experiments: { status: string }[] }>('GET', '/v1/experiments?status=running');
    expect(running.body.experiments.every((e) => e.status === 'running')).toBe(true);
    const nobody = await h.call<{ experiments: unknown[] }>('GET', '/v1/experiments?owner=nobody');
    expect(nobody.body.experiments).toEqual([]);
    expectError(await h.call('GET', '/v1/experiments?cursor=zzz'), 400, 'E_BAD_REQUEST');
    expectError(await h.call('GET', '/v1/experiments?status=done'), 400, 'E_BAD_REQUEST');
  });

  it('reused-by lists the experiments whose lineage points at this one', async () => {
    const src = uniqueKey('src');
    await createExperiment(h, src);
    await publish(h, src, 'model', [{ path: 'w', data: text('w') }]);
    const user = uniqueKey('use');
    await createExperiment(h, user, { reuse: [{ experiment: src, tag: 'model', as: 'm' }] });
    const r = await h.call<{ consumers: { experiment: string }[]; complete: boolean }>(
      'GET',
      `/v1/experiments/${src}/reused-by`,
    );
    expect(r.status, r.text).toBe(200);
    expect(r.body.consumers.map((c) => c.experiment)).toEqual([user]);
    expect(r.body.complete).toBe(true);
  });
});

describe('the web app is served by the host', () => {
  it('GET / is the page with a CSP, its assets are served, and API routes are untouched', async () => {
    const page = await fetch(`${h.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('/ui/app.js');
    const js = await fetch(`${h.url}/ui/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toContain('javascript');
    const etag = js.headers.get('etag') ?? '';
    expect((await fetch(`${h.url}/ui/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${h.url}/ui/nope.js`)).status).toBe(404);
    expect((await fetch(`${h.url}/v1/whoami`)).status).toBe(401);
  });
});
