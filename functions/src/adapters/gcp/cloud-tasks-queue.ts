import type { CloudTasksClient } from '@google-cloud/tasks';
import { StudioError } from '../../contract/errors.ts';
import { type TaskQueue, type TaskRequest, validateTask } from '../../core/task-queue.ts';

export interface CloudTasksQueueOptions {
  project: string;
  location: string;
  queue: string;
  /** Base URL of the API that serves the internal routes; also the OIDC audience the internal handler expects. */
  targetBaseUrl: string;
  /** Service account whose OIDC token Cloud Tasks attaches (the caller needs iam.serviceAccounts.actAs on it). */
  serviceAccountEmail: string;
  /** A configured client (tests, or a host that shares one); otherwise one is created on first use. */
  client?: CloudTasksClient;
  /**
   * REST endpoint, e.g. a local fake `http://127.0.0.1:8123`. Uses the REST transport (`fallback: true`); a plain
   * `http:` endpoint is sent no credentials, as with the other emulators.
   */
  apiEndpoint?: string;
}

/** gRPC status codes (google.rpc.Code) the adapter distinguishes. */
const ALREADY_EXISTS = 6;
const TRANSIENT = new Set([4, 8, 10, 13, 14]); // DEADLINE_EXCEEDED RESOURCE_EXHAUSTED ABORTED INTERNAL UNAVAILABLE
const INVALID = new Set([3, 11]); // INVALID_ARGUMENT OUT_OF_RANGE
const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR|fetch failed/;

function rpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function isNetworkError(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const { code, message } = e as { code?: unknown; message?: unknown };
    if ((typeof code === 'string' && NETWORK.test(code)) || (typeof message === 'string' && NETWORK.test(message))) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Turns an SDK error into a coded one; the raw error stays available as `cause`. */
function wrap(err: unknown, task: string): StudioError {
  const code = rpcCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if ((code !== undefined && TRANSIENT.has(code)) || isNetworkError(err)) {
    return new StudioError('E_UNAVAILABLE', `Cloud Tasks unavailable creating ${task}: ${detail}`, { cause: err });
  }
  if (code !== undefined && INVALID.has(code)) {
    return new StudioError('E_BAD_REQUEST', `Cloud Tasks refused ${task}: ${detail}`, { cause: err });
  }
  return new StudioError('E_INTERNAL', `Cloud Tasks failed creating ${task}: ${detail}`, { cause: err });
}

type ClientOptions = NonNullable<ConstructorParameters<typeof CloudTasksClient>[0]>;

/** Sends requests without credentials: local fakes and emulators only. */
function anonymousAuth() {
  return {
    getRequestHeaders: async () => new Headers(),
    fetch: (url: string | URL, init: RequestInit) =>
      fetch(url, { method: init.method, headers: init.headers, body: init.body, signal: init.signal }),
  };
}

async function createClient(apiEndpoint: string | undefined): Promise<CloudTasksClient> {
  const { CloudTasksClient } = await import('@google-cloud/tasks');
  if (!apiEndpoint) return new CloudTasksClient();
  const u = new URL(apiEndpoint);
  const secure = u.protocol === 'https:';
  const opts: ClientOptions = {
    fallback: true,
    apiEndpoint: u.hostname,
    port: Number(u.port || (secure ? 443 : 80)),
    protocol: secure ? 'https' : 'http',
  };
  if (!secure) opts.authClient = anonymousAuth() as unknown as ClientOptions['authClient'];
  return new CloudTasksClient(opts);
}

/** TaskQueue on Cloud Tasks: named HTTP tasks with an OIDC token, delivered to `targetBaseUrl + route`. */
export function createCloudTasksQueue(opts: CloudTasksQueueOptions): TaskQueue {
  for (const k of ['project', 'location', 'queue', 'targetBaseUrl', 'serviceAccountEmail'] as const) {
    if (!opts[k]) throw new StudioError('E_INTERNAL', `cloud-tasks queue: option "${k}" is required`);
  }
  const base = opts.targetBaseUrl.replace(/\/+$/, '');
  const parent = `projects/${opts.project}/locations/${opts.location}/queues/${opts.queue}`;
  let client: Promise<CloudTasksClient> | undefined = opts.client ? Promise.resolve(opts.client) : undefined;
  const getClient = () => {
    client ??= createClient(opts.apiEndpoint);
    return client;
  };

  return {
    async enqueue(task: TaskRequest) {
      const body = validateTask(task);
      const name = `${parent}/tasks/${task.name}`;
      const ms = task.scheduleTime?.getTime();
      try {
        await (await getClient()).createTask({
          parent,
          task: {
            name,
            ...(ms === undefined ? {} : { scheduleTime: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } }),
            httpRequest: {
              httpMethod: 'POST',
              url: base + task.route,
              headers: { 'content-type': 'application/json' },
              body: Buffer.from(body, 'utf8'),
              oidcToken: { serviceAccountEmail: opts.serviceAccountEmail, audience: base },
            },
          },
        });
        return { created: true };
      } catch (err) {
        if (rpcCode(err) === ALREADY_EXISTS) return { created: false };
        throw wrap(err, `task ${task.name}`);
      }
    },
  };
}
