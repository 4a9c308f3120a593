/**
 * terraform/ parses, every reference resolves, the example calls the module with inputs it declares, and the
 * variables are documented (description, type, README), validated where a typo would fail late, and sensitive where
 * they hold secrets.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_DIR,
  isObj,
  loadModule,
  MODULE_DIR,
  REPO,
  references,
  soleExpression,
  TERRAFORM,
  type TfModule,
  tableNames,
  tfFiles,
  undeclaredReferences,
  unusedVariables,
} from './tf.ts';

/** Every directory under terraform/ that holds .tf files. */
function moduleDirs(dir = TERRAFORM): string[] {
  const out = tfFiles(dir).length > 0 ? [dir] : [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (!e.startsWith('.') && statSync(p).isDirectory()) out.push(...moduleDirs(p));
  }
  return out;
}

const DIRS = moduleDirs();
const mods = new Map<string, TfModule>();

beforeAll(async () => {
  for (const d of DIRS) mods.set(d, await loadModule(d));
});
const get = (dir: string) => mods.get(dir) as TfModule;

describe('terraform/ structure', () => {
  it('has the module and the example root, each with .tf files', () => {
    expect(DIRS).toEqual(expect.arrayContaining([MODULE_DIR, EXAMPLE_DIR]));
  });

  it.each(DIRS.map((d) => [relative(REPO, d), d]))('%s: every .tf file parses', async (_name, dir) => {
    // loadModule threw in beforeAll otherwise; parse again to name the files explicitly.
    expect([...get(dir).files.keys()].sort()).toEqual(tfFiles(dir).sort());
  });

  it.each(DIRS.map((d) => [relative(REPO, d), d]))(
    '%s: every var./local./module./data./resource reference is declared in the module',
    async (_name, dir) => {
      expect(await undeclaredReferences(get(dir))).toEqual([]);
    },
  );

  it.each(DIRS.map((d) => [relative(REPO, d), d]))('%s: every variable is used', async (_name, dir) => {
    expect(await unusedVariables(get(dir))).toEqual([]);
  });

  it.each(DIRS.map((d) => [relative(REPO, d), d]))(
    '%s: every variable has a description and a type; secrets are sensitive',
    (_name, dir) => {
      for (const [name, { body }] of get(dir).variables) {
        expect(typeof body.description === 'string' && body.description.length > 10, `${name}: description`).toBe(true);
        expect(typeof body.type, `${name}: type`).toBe('string');
        if (/_(secret|password)$|private_key|key_json/.test(name))
          expect(body.sensitive, `${name}: sensitive`).toBe(true);
      }
      for (const [name, { body }] of get(dir).outputs) {
        expect(typeof body.description, `output ${name}: description`).toBe('string');
      }
    },
  );

  it.each(DIRS.map((d) => [relative(REPO, d), d]))(
    "%s: a variable's validation refers only to that variable (terraform < 1.9 allows nothing else)",
    async (_name, dir) => {
      const mod = get(dir);
      for (const r of await references(mod)) {
        const m = /^variable\.([^.]+)\.0\.validation\./.exec(r.at);
        if (m && r.ref.startsWith('var.')) expect(r.ref.split('.')[1], `${r.at}: ${r.ref}`).toBe(m[1]);
        if (m) expect(r.ref, r.at).toMatch(/^var\./);
      }
    },
  );

  it('module calls pass only declared inputs, every required input, and read only declared outputs', async () => {
    for (const dir of DIRS) {
      const mod = get(dir);
      for (const [name, { body }] of mod.modules) {
        const source = body.source;
        expect(typeof source === 'string' && source.startsWith('.'), `module ${name}: local source`).toBe(true);
        const child = await loadModule(resolve(dir, source as string));
        const meta = new Set(['source', 'version', 'providers', 'depends_on', 'count', 'for_each']);
        const args = Object.keys(body).filter((k) => !meta.has(k));
        for (const a of args)
          expect(child.variables.has(a), `module ${name}: input "${a}" is not a variable`).toBe(true);
        for (const [v, d] of child.variables) {
          if (!('default' in d.body)) expect(args, `module ${name}: required input "${v}"`).toContain(v);
        }
        for (const r of await references(mod)) {
          const [root, m, out] = r.ref.split('.');
          if (root === 'module' && m === name) {
            expect(child.outputs.has(out as string), `${r.file}: ${r.ref}: no such output`).toBe(true);
          }
        }
      }
    }
  });

  it('the example passes every module input it declares itself, under the same name', () => {
    const example = get(EXAMPLE_DIR);
    const call = [...example.modules.values()][0]?.body ?? {};
    for (const v of example.variables.keys()) {
      if (v === 'function_source_dir') continue; // passed after defaulting to functions/dist (local.function_source_dir)
      expect(soleExpression(call[v]), `module input ${v}`).toBe(`var.${v}`);
    }
  });

  it.each([
    ['module', MODULE_DIR],
    ['example', EXAMPLE_DIR],
  ])('the %s README lists every input and output in its tables', (_kind, dir) => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const mod = get(dir);
    expect(tableNames(readme, 'Inputs').sort()).toEqual([...mod.variables.keys()].sort());
    expect(tableNames(readme, 'Outputs').sort()).toEqual([...mod.outputs.keys()].sort());
  });

  it('pins terraform and provider versions in the module and the example', () => {
    for (const dir of [MODULE_DIR, EXAMPLE_DIR]) {
      const blocks = [...get(dir).files.values()].flatMap((f) => (Array.isArray(f.terraform) ? f.terraform : []));
      const tf = blocks.find(isObj);
      expect(tf?.required_version, dir).toMatch(/>=/);
      const providers = Array.isArray(tf?.required_providers) ? tf.required_providers[0] : undefined;
      expect(isObj(providers) ? Object.keys(providers).sort() : [], dir).toEqual(['archive', 'google']);
    }
  });
});

describe('terraform variable validations', () => {
  /** The RE2 pattern inside `regex("...", var.<name>)` of a variable's validation (JS-compatible for these). */
  const pattern = (name: string): RegExp => {
    const v = get(MODULE_DIR).variables.get(name);
    const validations = Array.isArray(v?.body.validation) ? v.body.validation.filter(isObj) : [];
    for (const { condition } of validations) {
      const m = typeof condition === 'string' ? /regex\("((?:[^"\\]|\\.)*)"/.exec(condition) : null;
      // An HCL string literal: its escapes are JSON's for these patterns.
      if (m?.[1]) return new RegExp(JSON.parse(`"${m[1]}"`) as string);
    }
    throw new Error(`${name}: no regex validation`);
  };

  it('project_id accepts project IDs and refuses names, numbers and malformed ids', () => {
    const re = pattern('project_id');
    for (const ok of ['my-team-project', 'abc123', 'a-b-c-d-e', 'p23456789012345678901234567890']) {
      expect(re.test(ok), ok).toBe(true);
    }
    for (const bad of [
      'My Project',
      'My-Project',
      '123456789012',
      'short',
      'ends-with-',
      'my_project',
      'a'.repeat(31),
    ]) {
      expect(re.test(bad), bad).toBe(false);
    }
  });

  it('region accepts regions and refuses zones and multi-regions', () => {
    const re = pattern('region');
    for (const ok of ['us-central1', 'europe-west1', 'asia-northeast1', 'northamerica-northeast2']) {
      expect(re.test(ok), ok).toBe(true);
    }
    for (const bad of ['us-central1-a', 'US', 'us', 'eur3', 'nam5', 'EU']) expect(re.test(bad), bad).toBe(false);
  });

  it('bucket_name follows the bucket naming rules', () => {
    const re = pattern('bucket_name');
    for (const ok of ['abc', 'my-team-artifacts', 'a_b-c1', 'a'.repeat(63)]) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['ab', 'Upper', '-start', 'end-', 'a'.repeat(64), 'with space']) {
      expect(re.test(bad), bad).toBe(false);
    }
  });

  it('name_prefix leaves room for the service-account suffixes (account ids are 6-30 characters)', () => {
    const re = pattern('name_prefix');
    const longest = 'a'.repeat(20);
    expect(re.test(longest)).toBe(true);
    expect(re.test(`${longest}a`)).toBe(false);
    const accountIds = [...get(MODULE_DIR).resources]
      .filter(([k]) => k.startsWith('google_service_account.'))
      .map(([, { body }]) => String(body.account_id));
    expect(accountIds.length).toBeGreaterThan(0);
    for (const id of accountIds) {
      const withPrefix = id.replace(`\${var.name_prefix}`, longest);
      expect(withPrefix.length, id).toBeLessThanOrEqual(30);
      expect(id.replace(`\${var.name_prefix}`, 'ab').length, id).toBeGreaterThanOrEqual(6);
    }
  });

  it('the variables whose mistakes fail late have validations', () => {
    const vars = get(MODULE_DIR).variables;
    for (const name of [
      'project_id',
      'region',
      'bucket_name',
      'retention_days',
      'url_ttl_seconds',
      'function_source_dir',
      'firestore_database',
      'tasks_max_attempts',
    ]) {
      expect(Array.isArray(vars.get(name)?.body.validation), name).toBe(true);
    }
  });
});
