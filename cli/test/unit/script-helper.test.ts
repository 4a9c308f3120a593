import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as mjs from '../../helpers/artifacts.mjs';
import * as ts from '../../src/script-helper/index.ts';

const helperFile = fileURLToPath(new URL('../../helpers/artifacts.mjs', import.meta.url));
const pythonDir = fileURLToPath(new URL('../../python', import.meta.url));

let tmp: string;
let saved: NodeJS.ProcessEnv;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'script-helper-'));
  saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('STUDIOML_')) delete process.env[name];
});

afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
  rmSync(tmp, { recursive: true, force: true });
});

function writeMapping(mapping: unknown): string {
  const file = join(tmp, 'artifacts.json');
  writeFileSync(file, JSON.stringify(mapping));
  process.env.STUDIOML_ARTIFACT_MAPPING = file;
  return file;
}

// The TypeScript entry re-exports the plain JS file; both import paths are held to the same behaviour.
describe.each([
  ['cli/helpers/artifacts.mjs', mjs],
  ['cli/src/script-helper', ts],
])('%s', (_name, h) => {
  it('reads the mapping file first, then the per-tag variable', () => {
    writeMapping({ weights: '/from/mapping' });
    process.env.STUDIOML_ARTIFACT_WEIGHTS = '/from/env';
    process.env.STUDIOML_ARTIFACT_MY_DATA = '/data';
    expect(h.getArtifact('weights')).toBe('/from/mapping');
    expect(h.getArtifact('my-data')).toBe('/data');
  });

  it('works with per-tag variables alone', () => {
    process.env.STUDIOML_ARTIFACT_W = '/reused/w';
    expect(h.getArtifact('w')).toBe('/reused/w');
  });

  it('names variables by upper-casing the tag and replacing - with _', () => {
    expect(h.artifactEnvName('my-data-2')).toBe('STUDIOML_ARTIFACT_MY_DATA_2');
    expect(h.artifactEnvName('Weights')).toBe('STUDIOML_ARTIFACT_WEIGHTS');
  });

  it('throws a coded error listing the known tags for an unknown tag', () => {
    writeMapping({ weights: '/w', data: '/d' });
    process.env.STUDIOML_ARTIFACT_EXTRA = '/e';
    let err: unknown;
    try {
      h.getArtifact('wieghts');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(h.ArtifactNotFoundError);
    const e = err as InstanceType<typeof h.ArtifactNotFoundError>;
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.tag).toBe('wieghts');
    expect(e.message).toContain('known tags: data, extra, modeldir, tb, weights.');
    expect(e.message).toContain('--capture PATH:wieghts');
  });

  it('explains a missing mapping variable or file', () => {
    expect(() => h.getArtifact('x')).toThrow(/STUDIOML_ARTIFACT_MAPPING is not set/);
    process.env.STUDIOML_ARTIFACT_MAPPING = join(tmp, 'nope.json');
    expect(() => h.getArtifact('x')).toThrow(/nope\.json does not exist/);
  });

  it('rejects a malformed mapping file with its path', () => {
    const file = join(tmp, 'bad.json');
    writeFileSync(file, '{not json');
    process.env.STUDIOML_ARTIFACT_MAPPING = file;
    expect(() => h.getArtifact('w')).toThrow(/bad\.json is not valid JSON/);
    writeFileSync(file, '["w"]');
    expect(() => h.getArtifact('w')).toThrow(/must hold a JSON object/);
  });

  it('does not mistake the mapping variable for a tag named "mapping"', () => {
    writeMapping({ weights: '/w' });
    expect(() => h.getArtifact('mapping')).toThrow(h.ArtifactNotFoundError);
    expect(h.getArtifacts()).toEqual({ weights: '/w' });
  });

  it('does not resolve tags through Object.prototype', () => {
    writeMapping({ weights: '/w' });
    expect(() => h.getArtifact('constructor')).toThrow(h.ArtifactNotFoundError);
    expect(() => h.getArtifact('__proto__')).toThrow(h.ArtifactNotFoundError);
  });

  it('lists mapping and variable-only artifacts', () => {
    writeMapping({ weights: '/w', 'my-data': '/d' });
    process.env.STUDIOML_ARTIFACT_MY_DATA = '/ignored';
    process.env.STUDIOML_ARTIFACT_EXTRA = '/e';
    process.env.STUDIOML_ARTIFACT_EMPTY = '';
    expect(h.getArtifacts()).toEqual({ weights: '/w', 'my-data': '/d', extra: '/e' });
  });

  it('falls back to $STUDIOML_HOME/experiments/<key>/modeldir without the CLI', () => {
    process.env.STUDIOML_HOME = join(tmp, 'home');
    process.env.STUDIOML_EXPERIMENT = 'exp-1';
    const dir = h.getArtifact('modeldir');
    expect(dir).toBe(join(tmp, 'home', 'experiments', 'exp-1', 'modeldir'));
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('reads the experiment key, or makes one that stays stable', () => {
    process.env.STUDIOML_EXPERIMENT = 'lr-1';
    expect(h.getExperimentKey()).toBe('lr-1');
    delete process.env.STUDIOML_EXPERIMENT;
    const key = h.getExperimentKey();
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.getExperimentKey()).toBe(key);
  });

  it('finds the studio home', () => {
    expect(h.getStudioHome()).toBe(join(homedir(), '.studioml'));
    process.env.STUDIOML_HOME = '~/elsewhere';
    expect(h.getStudioHome()).toBe(join(homedir(), 'elsewhere'));
    process.env.STUDIOML_HOME = tmp;
    expect(h.getStudioHome()).toBe(tmp);
  });
});

describe('as scripts see it', () => {
  it('a plain Node script imports the helper by path with no dependencies', () => {
    const script = `import { getArtifact } from ${JSON.stringify(pathToFileURL(helperFile).href)};
      console.log(getArtifact('weights'));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: tmp,
      env: { ...process.env, STUDIOML_ARTIFACT_WEIGHTS: '/w/from/env' },
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('/w/from/env');
  });

  it('resolves the same artifacts as the Python fs_tracker', () => {
    writeMapping({ weights: '/w', 'my-data': '/d', modeldir: '/m' });
    process.env.STUDIOML_ARTIFACT_EXTRA_ONE = '/e';
    process.env.STUDIOML_ARTIFACT_WEIGHTS = '/ignored';
    const code =
      'import json; from studio import fs_tracker as f; print(json.dumps(f.get_artifacts(), sort_keys=True))';
    let out: string;
    try {
      out = execFileSync('python3', ['-c', code], {
        env: { ...process.env, PYTHONPATH: pythonDir },
        encoding: 'utf8',
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // no python3 on this machine
      throw err;
    }
    expect(JSON.parse(out)).toEqual(mjs.getArtifacts());
    expect(mjs.getArtifacts()).toEqual({ weights: '/w', 'my-data': '/d', modeldir: '/m', extra_one: '/e' });
  });
});
