import { blobBytes, blobRequest, JOB_TERMINAL } from '@studio-lite/functions/contract';
import type { ApiClient } from '../api-client.ts';
import type { Logger } from '../logger.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bytes of the latest `output` version (one file), or null when there is none yet. */
async function readOutput(client: ApiClient, key: string, known: { version: number }): Promise<Buffer | null> {
  let v: Awaited<ReturnType<ApiClient['getVersion']>>['version'];
  try {
    v = (await client.getVersion(key, 'output', 'latest')).version;
  } catch {
    return null;
  }
  if (v.version === known.version) return null;
  known.version = v.version;
  const file = v.manifest.files[0];
  if (!file) return Buffer.alloc(0);
  const req = blobRequest(
    await client.signDownloads(key, 'output', v.version, { sha256s: [file.sha256] }),
    file.sha256,
  );
  if (!req) return null;
  if (req.size === 0) return Buffer.alloc(0);
  const res = await fetch(req.url, { headers: req.headers });
  if (!res.ok) return null;
  return Buffer.from(blobBytes(req, new Uint8Array(await res.arrayBuffer())));
}

/**
 * `run --queue --follow` and `studio-lite logs -f`: prints the run's output as the worker captures it (each new
 * `output` version; only the part not printed yet) and waits for the job to end. Returns the run's exit code
 * (1 when it ended without one: lost, expired, stopped before starting).
 */
export async function followJob(client: ApiClient, key: string, log: Logger, pollMs = 1000): Promise<number> {
  const known = { version: 0 };
  let printed = 0;
  let lastStatus = '';
  const flush = async () => {
    const out = await readOutput(client, key, known);
    if (out && out.length > printed) {
      process.stdout.write(out.subarray(printed));
      printed = out.length;
    }
  };
  for (;;) {
    const { job } = await client.getJob(key);
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      const where = job.worker ? ` on ${job.worker.host || job.worker.id} (attempt ${job.attempt})` : '';
      log.info(`studio-lite: ${key} ${job.status}${where}`);
    }
    await flush();
    if (JOB_TERMINAL.includes(job.status)) {
      await flush();
      log.info(`studio-lite: experiment ${key} ${job.status}${job.exitCode !== null ? ` (exit ${job.exitCode})` : ''}`);
      return job.exitCode ?? 1;
    }
    await sleep(pollMs);
  }
}
