/**
 * Version aliases over HTTP (issue 13): set, move, list, delete; names validated with a stable code and nothing
 * stored; every change audited once with from/to; aliases resolve wherever a version is named (version lookups,
 * reuse); `show` lists them; a deleted experiment's aliases go with it.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import type {
  AliasChangeResponse,
  CreateExperimentResponse,
  ListAliasesResponse,
  ShowExperimentResponse,
  VersionWithManifest,
} from '../../src/contract/index.ts';
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
import { auditOf, teamRoute } from './team-helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const enc = encodeURIComponent;
const aliases = (key: string, tag: string) => `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/aliases`;
const alias = (key: string, tag: string, name: string) => `${aliases(key, tag)}/${enc(name)}`;

/** An experiment with `n` versions of artifact `w`. */
async function withVersions(n: number): Promise<string> {
  const key = uniqueKey('al');
  await createExperiment(h, key);
  for (let i = 1; i <= n; i++) await publish(h, key, 'w', [{ path: 'f.txt', data: text(`v${i}`) }]);
  return key;
}

function aliasRows(): unknown[] {
  const db = new Database(homePaths(h.home).db, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM aliases ORDER BY team, experiment, tag, name').all();
  } finally {
    db.close();
  }
}

const aliasAudit = async (key: string) =>
  (await auditOf(h, TEAM)).filter((e) => e.action.startsWith('alias.') && e.target.startsWith(`${key}/`)).reverse();

describe('set, move, list, delete', () => {
  it('a set is 201 from null, a move 200 from the old version; lookups by alias follow it; delete removes it', async () => {
    const key = await withVersions(2);
    const set = await h.call<AliasChangeResponse>('PUT', alias(key, 'w', 'best'), { body: { version: 1 } });
    expect(set.status, set.text).toBe(201);
    expect(set.body).toEqual({ alias: { experiment: key, tag: 'w', name: 'best', from: null, to: 1 } });
    const v1 = await h.call<{ version: VersionWithManifest }>('GET', `${route.versions(key, 'w')}/best`);
    expect(v1.status, v1.text).toBe(200);
    expect(v1.body.version.version).toBe(1);

    const move = await h.call<AliasChangeResponse>('PUT', alias(key, 'w', 'best'), { body: { version: 2 } });
    expect(move.status, move.text).toBe(200);
    expect(move.body.alias).toEqual({ experiment: key, tag: 'w', name: 'best', from: 1, to: 2 });
    expect(
      (await h.call<{ version: VersionWithManifest }>('GET', `${route.versions(key, 'w')}/best`)).body.version.version,
    ).toBe(2);

    await h.call('PUT', alias(key, 'w', 'first'), { body: { version: 1 } });
    const list = await h.call<ListAliasesResponse>('GET', aliases(key, 'w'));
    expect(list.status).toBe(200);
    expect(list.body.experiment).toBe(key);
    expect(list.body.aliases.map((a) => [a.name, a.version, a.updatedBy])).toEqual([
      ['best', 2, 'local'],
      ['first', 1, 'local'],
    ]);

    const del = await h.call<AliasChangeResponse>('DELETE', alias(key, 'w', 'best'));
    expect(del.status, del.text).toBe(200);
    expect(del.body.alias).toEqual({ experiment: key, tag: 'w', name: 'best', from: 2, to: null });
    expectError(await h.call('GET', `${route.versions(key, 'w')}/best`), 404, 'E_NOT_FOUND');
    expectError(await h.call('DELETE', alias(key, 'w', 'best')), 404, 'E_NOT_FOUND');

    expect((await aliasAudit(key)).map((e) => [e.action, e.target, e.details, e.actor.userId])).toEqual([
      ['alias.set', `${key}/w@best`, { from: null, to: 1 }, 'local'],
      ['alias.move', `${key}/w@best`, { from: 1, to: 2 }, 'local'],
      ['alias.set', `${key}/w@first`, { from: null, to: 1 }, 'local'],
      ['alias.delete', `${key}/w@best`, { from: 2, to: null }, 'local'],
    ]);
  });

  it('@latest and numbers still work next to aliases', async () => {
    const key = await withVersions(3);
    expect(
      (await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'w', 'latest'))).body.version.version,
    ).toBe(3);
    expect(
      (await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'w', 2))).body.version.version,
    ).toBe(2);
  });

  it('show lists each artifact with its aliases', async () => {
    const key = await withVersions(2);
    await h.call('PUT', alias(key, 'w', 'best'), { body: { version: 2 } });
    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(key));
    expect(show.body.artifacts[0]?.aliases?.map((a) => [a.name, a.version])).toEqual([['best', 2]]);
  });
});

describe('bad input: a stable code, nothing stored, nothing audited', () => {
  it.each([
    ['Best', 'E_BAD_ALIAS'],
    ['latest', 'E_BAD_ALIAS'],
    ['12', 'E_BAD_ALIAS'],
    ['1best', 'E_BAD_ALIAS'],
    ['-x', 'E_BAD_ALIAS'],
    ['a b', 'E_BAD_ALIAS'],
    ['a/b', 'E_BAD_ALIAS'],
    ['a'.repeat(65), 'E_BAD_ALIAS'],
  ] as const)('alias name %j -> %s', async (name, code) => {
    const key = await withVersions(1);
    const before = aliasRows();
    expectError(await h.call('PUT', alias(key, 'w', name), { body: { version: 1 } }), 400, code);
    expect(aliasRows()).toEqual(before);
    expect(await aliasAudit(key)).toEqual([]);
  });

  it('a version, artifact or experiment that does not exist is E_NOT_FOUND; bad bodies E_BAD_REQUEST', async () => {
    const key = await withVersions(1);
    const before = aliasRows();
    const nf = await h.call<{ error: { message: string } }>('PUT', alias(key, 'w', 'best'), { body: { version: 2 } });
    expectError(nf, 404, 'E_NOT_FOUND');
    expect(nf.body.error.message).toBe(`artifact ${key}/w@2 not found`);
    expectError(await h.call('PUT', alias(key, 'nosuch', 'best'), { body: { version: 1 } }), 404, 'E_NOT_FOUND');
    const noExp = await h.call<{ error: { message: string } }>('PUT', alias('nosuch-exp', 'w', 'best'), {
      body: { version: 1 },
    });
    expectError(noExp, 404, 'E_NOT_FOUND');
    expect(noExp.body.error.message).toBe('experiment nosuch-exp not found');
    expectError(await h.call('GET', aliases(key, 'nosuch')), 404, 'E_NOT_FOUND');
    expectError(await h.call('GET', `${route.versions(key, 'w')}/nosuch`), 404, 'E_NOT_FOUND');
    expectError(await h.call('GET', `${route.versions(key, 'w')}/Best`), 400, 'E_BAD_ALIAS');
    for (const body of [{ version: 0 }, { version: '1' }, { version: 1.5 }, {}, { version: 1, extra: true }, []]) {
      expectError(await h.call('PUT', alias(key, 'w', 'best'), { body }), 400, 'E_BAD_REQUEST');
    }
    expectError(await h.call('PUT', alias(key, 'w', 'best'), { raw: '{' }), 400, 'E_BAD_JSON');
    expect(aliasRows()).toEqual(before);
    expect(await aliasAudit(key)).toEqual([]);
  });
});

describe('roles', () => {
  it('viewers list and resolve aliases but cannot set or delete them; editors can', async () => {
    const key = await withVersions(2);
    await h.call('PUT', alias(key, 'w', 'best'), { body: { version: 1 } });
    const viewer = await mintUserToken(h, uniqueKey('viewer'), { [TEAM]: 'viewer' });
    const editor = await mintUserToken(h, uniqueKey('editor'), { [TEAM]: 'editor' });
    expect((await h.call('GET', aliases(key, 'w'), { token: viewer })).status).toBe(200);
    expect((await h.call('GET', `${route.versions(key, 'w')}/best`, { token: viewer })).status).toBe(200);
    expectError(
      await h.call('PUT', alias(key, 'w', 'best'), { token: viewer, body: { version: 2 } }),
      403,
      'E_FORBIDDEN',
    );
    expectError(await h.call('DELETE', alias(key, 'w', 'best'), { token: viewer }), 403, 'E_FORBIDDEN');
    const moved = await h.call<AliasChangeResponse>('PUT', alias(key, 'w', 'best'), {
      token: editor,
      body: { version: 2 },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.alias.from).toBe(1);
  });
});

describe('reuse names a version by alias', () => {
  it('resolves the alias to its version now and records that version as lineage', async () => {
    const src = await withVersions(3);
    await h.call('PUT', alias(src, 'w', 'best'), { body: { version: 2 } });
    const r = await createExperiment(h, uniqueKey('consumer'), {
      reuse: [{ experiment: src, tag: 'w', alias: 'best', as: 'w' }],
    });
    expect(r.lineage).toEqual([{ as: 'w', experiment: src, tag: 'w', version: 2 }]);
  });

  it('an unknown alias is E_NOT_FOUND and a version with an alias E_BAD_REQUEST; no experiment is stored', async () => {
    const src = await withVersions(1);
    for (const [reuse, status, code] of [
      [{ experiment: src, tag: 'w', alias: 'nosuch', as: 'w' }, 404, 'E_NOT_FOUND'],
      [{ experiment: src, tag: 'w', alias: 'Bad!', as: 'w' }, 400, 'E_BAD_ALIAS'],
      [{ experiment: src, tag: 'w', alias: 'best', version: 1, as: 'w' }, 400, 'E_BAD_REQUEST'],
    ] as const) {
      const key = uniqueKey('refused');
      const res = await h.call<CreateExperimentResponse>('POST', route.experiments(), {
        body: { key, reuse: [reuse] },
      });
      expectError(res, status, code);
      expectError(await h.call('GET', route.experiment(key)), 404, 'E_NOT_FOUND');
    }
  });
});

describe('a deleted experiment takes its aliases along', () => {
  it('the key used again has no alias of the old experiment', async () => {
    const key = await withVersions(2);
    await h.call('PUT', alias(key, 'w', 'best'), { body: { version: 2 } });
    await h.call('POST', route.finish(key), { body: { status: 'finished', exitCode: 0 } });
    expect((await h.call('DELETE', teamRoute.experiment(key))).status).toBe(200);
    expect(aliasRows().filter((r) => (r as { experiment: string }).experiment === key)).toEqual([]);
    await createExperiment(h, key);
    await publish(h, key, 'w', [{ path: 'f.txt', data: text('new') }]);
    await publish(h, key, 'w', [{ path: 'f.txt', data: text('newer') }]);
    expectError(await h.call('GET', `${route.versions(key, 'w')}/best`), 404, 'E_NOT_FOUND');
    expect((await h.call<ListAliasesResponse>('GET', aliases(key, 'w'))).body.aliases).toEqual([]);
  });
});

describe('a set racing the delete of its experiment', () => {
  it('the delete lands between the check and the write: the alias is removed again, 404, nothing audited', async () => {
    const key = await withVersions(1);
    const aliasStore = h.server.backend.deps.aliases;
    if (!aliasStore) throw new Error('the local backend has aliases');
    const original = aliasStore.setAlias;
    // The experiment goes (records, then its aliases, as core/experiment-delete.ts does) just before the write.
    aliasStore.setAlias = async (rec) => {
      await h.experiments.deleteExperiment(TEAM, key);
      await aliasStore.deleteExperimentAliases(TEAM, key);
      return original.call(aliasStore, rec);
    };
    try {
      const res = await h.call('PUT', alias(key, 'w', 'best'), { body: { version: 1 } });
      expectError(res, 404, 'E_NOT_FOUND');
    } finally {
      aliasStore.setAlias = original;
    }
    expect(aliasRows().filter((r) => (r as { experiment: string }).experiment === key)).toEqual([]);
    expect(await aliasAudit(key)).toEqual([]);
  });
});

describe('concurrent moves', () => {
  it('last writer wins and every move is audited exactly once, forming one chain from -> to', async () => {
    const n = 8;
    const key = await withVersions(n);
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        h.call<AliasChangeResponse>('PUT', alias(key, 'w', 'best'), { body: { version: i + 1 } }),
      ),
    );
    for (const r of results) expect([200, 201], r.text).toContain(r.status);
    const final = (await h.call<ListAliasesResponse>('GET', aliases(key, 'w'))).body.aliases[0]?.version;
    const audit = await aliasAudit(key);
    expect(audit).toHaveLength(n);
    // Following from -> to from the entry that started at null visits every entry once and ends at the final version.
    const byFrom = new Map(audit.map((e) => [e.details.from as number | null, e.details.to as number]));
    expect(byFrom.size).toBe(n);
    let at: number | null = null;
    const seen: number[] = [];
    while (byFrom.has(at)) {
      at = byFrom.get(at) as number;
      seen.push(at);
      if (seen.length > n) break;
    }
    expect(seen).toHaveLength(n);
    expect(at).toBe(final);
  });
});
