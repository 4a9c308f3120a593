/** The API's response shapes the pages use (docs/api.md; functions/src/contract/wire.ts is the source). */
import type { ExperimentRecord, ExperimentStatus } from '@studio-lite/functions/contract';

// Type-only: the record's shape comes from the contract (erased by esbuild, so no backend code enters the bundle).
export type Status = ExperimentStatus;
export const STATUSES: Status[] = ['queued', 'running', 'finished', 'failed', 'stopped', 'lost', 'expired'];
export const TERMINAL: Status[] = ['finished', 'failed', 'stopped', 'lost', 'expired'];

export type Experiment = Omit<ExperimentRecord, 'team'> & {
  artifacts?: { tag: string; mutable: boolean; latestVersion: number }[];
};

export interface Version {
  experiment: string;
  tag: string;
  version: number;
  files: number;
  bytes: number;
  createdAt: string;
  createdBy: string;
  digest: string;
}

export interface FileEntry {
  path: string;
  size: number;
  sha256: string;
  mode: number;
  mtime: number;
}

export interface Manifest {
  files: FileEntry[];
  links: { path: string; target: string }[];
}

export interface Artifact {
  tag: string;
  mutable: boolean;
  latestVersion: number;
  versions: Version[];
  /** Version aliases (`best` -> 3); absent from servers older than aliases. */
  aliases?: { name: string; version: number }[];
}

export interface Job {
  id: string;
  queue: string;
  owner: string;
  status: string;
  attempt: number;
  maxAttempts: number;
  worker: { id: string; host: string } | null;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  stopRequested: string | null;
  exitCode: number | null;
  signal: string | null;
  history: { attempt: number; worker: string; leasedAt: string; endedAt: string | null; outcome: string | null }[];
}
