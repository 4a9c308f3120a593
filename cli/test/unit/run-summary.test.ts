import type { ShowExperimentResponse } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { buildRunSummary, formatRunSummary } from '../../src/commands/run/run-summary.ts';

const stats = (uploadedBytes: number) => ({
  hashedFiles: 1,
  hashedBytes: 1,
  uploadedBlobs: 1,
  uploadedBytes,
  skipped: [],
});
const version = (tag: string, v: number, files: number, bytes: number, uploaded: number) => ({
  team: 'local',
  experiment: 'lr',
  tag,
  version: v,
  digest: 'd',
  manifestSha256: 'm',
  files,
  bytes,
  stats: stats(uploaded),
  createdBy: 'u',
  createdAt: '2026-01-02T03:04:05.000Z',
});
const artifact = (tag: string, mutable: boolean, versions: ReturnType<typeof version>[]) => ({
  team: 'local',
  experiment: 'lr',
  tag,
  mutable,
  latestVersion: versions.length,
  createdAt: 'x',
  updatedAt: 'x',
  versions,
});

const show: ShowExperimentResponse = {
  experiment: {
    team: 'local',
    key: 'lr',
    project: null,
    owner: 'u',
    status: 'finished',
    command: ['python3', 'train.py'],
    cwd: '/w',
    host: 'h',
    git: null,
    createdAt: '2026-01-02T03:04:00.000Z',
    startedAt: '2026-01-02T03:04:00.000Z',
    finishedAt: '2026-01-02T03:05:05.500Z',
    exitCode: 0,
    signal: null,
    warnings: [],
    lineage: [{ as: 'data', experiment: 'prep', tag: 'data', version: 2 }],
  },
  artifacts: [
    artifact('weights', true, [version('weights', 1, 2, 2048, 2048), version('weights', 2, 2, 3072, 1024)]),
    artifact('workspace', false, [version('workspace', 1, 3, 300, 0)]),
    artifact('modeldir', true, []),
  ],
};

describe('run summary', () => {
  it('JSON: per artifact the newest version, its new and deduplicated bytes, and the reuse flag', () => {
    expect(buildRunSummary(show)).toEqual({
      experiment: 'lr',
      status: 'finished',
      exitCode: 0,
      signal: null,
      command: ['python3', 'train.py'],
      startedAt: '2026-01-02T03:04:00.000Z',
      finishedAt: '2026-01-02T03:05:05.500Z',
      durationMs: 65_500,
      artifacts: [
        {
          tag: 'weights',
          mutable: true,
          version: 2,
          createdVersions: [1, 2],
          files: 2,
          bytes: 3072,
          newBytes: 1024,
          dedupedBytes: 2048,
          reuse: '--reuse=lr/weights@2:weights',
        },
        {
          tag: 'workspace',
          mutable: false,
          version: 1,
          createdVersions: [1],
          files: 3,
          bytes: 300,
          newBytes: 0,
          dedupedBytes: 300,
          reuse: '--reuse=lr/workspace@1:workspace',
        },
      ],
      reused: [{ as: 'data', experiment: 'prep', tag: 'data', version: 2 }],
      warnings: [],
    });
  });

  it('a resumed run: versions from before are kept, not counted as new', () => {
    const s = buildRunSummary(
      show,
      new Map([
        ['workspace', 1],
        ['weights', 1],
      ]),
    );
    expect(s.artifacts.map((a) => [a.tag, a.createdVersions, a.newBytes])).toEqual([
      ['weights', [2], 1024],
      ['workspace', [], 0],
    ]);
  });

  it('text (golden)', () => {
    expect(formatRunSummary(buildRunSummary(show))).toBe(
      [
        'studio-lite: experiment lr finished (exit 0) in 1m06s',
        '  ARTIFACT   VERSION          FILES  SIZE      NEW       DEDUPLICATED',
        '  weights    @2 (2 this run)  2      3.00 KiB  1.00 KiB  2.00 KiB',
        '  workspace  @1               3      300 B     0 B       300 B',
        '  reused prep/data@2 as data',
        'reuse in a later run:',
        '  --reuse=lr/weights@2:weights',
        '  --reuse=lr/workspace@1:workspace',
        'details: studio-lite show lr',
        '',
      ].join('\n'),
    );
  });
});
