import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createTestOidcIssuer, type TestOidcIssuer } from './test-oidc.ts';

/**
 * A local stand-in for the Cloud Tasks v2 REST API (https://cloud.google.com/tasks/docs/reference/rest/v2): checks
 * every `projects.locations.queues.tasks.create` call against the documented request schema, answers like the API
 * (Task JSON, google.rpc errors, ALREADY_EXISTS for a taken name) and then dispatches HTTP tasks like Cloud Tasks:
 * at scheduleTime, with the x-cloudtasks-* headers and an OIDC token for the task's service account, retrying non-2xx
 * answers with exponential backoff. It also serves its signing keys at `/oauth2/v3/certs`, as Google does.
 */
export interface FakeCloudTasks {
  /** The API endpoint (CloudTasksQueueOptions.apiEndpoint). */
  url: string;
  /** JWKS of the OIDC tokens it attaches. */
  jwksUrl: string;
  issuer: TestOidcIssuer;
  tasks: Map<string, FakeTask>;
  /** Requests refused by schema validation, with the reason: tests expect it empty unless they sent nonsense. */
  invalid: { path: string; reason: string }[];
  /** The next create call answers with this error instead of being processed. */
  failNextCreate(httpStatus: number, status: string): void;
  close(): Promise<void>;
}

export interface FakeTask {
  name: string;
  queue: string;
  id: string;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Buffer;
  scheduleTime: Date;
  oidc: { serviceAccountEmail: string; audience: string } | null;
  attempts: { at: Date; status: number; headers: Record<string, string> }[];
  state: 'pending' | 'done' | 'failed';
}

export interface FakeCloudTasksOptions {
  /** Backoff between attempts, doubling from min to max (defaults 50 ms and 400 ms: real queues use 0.1 s .. 1 h). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Attempts before a task is dropped (default 10). */
  maxAttempts?: number;
}

const HTTP_METHODS = ['HTTP_METHOD_UNSPECIFIED', 'POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const BASE64 = /^([A-Za-z0-9+/_-]{4})*([A-Za-z0-9+/_-]{2}(==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const TASK_PATH =
  /^\/v2\/projects\/([a-z][a-z0-9-]{4,28}[a-z0-9])\/locations\/([a-z0-9-]+)\/queues\/([A-Za-z0-9-]{1,100})\/tasks$/;
/** Headers Cloud Tasks reserves: a task may not set them (the real API ignores or refuses them). */
const RESERVED_HEADER = /^(x-cloudtasks-|x-google-|x-appengine-)|^(host|content-length|user-agent)$/i;

const httpRequestSchema = z
  .strictObject({
    url: z
      .string()
      .max(2083)
      .regex(/^https?:\/\/[^/\s]+/),
    httpMethod: z.union([z.enum(HTTP_METHODS), z.number().int().min(0).max(7)]).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.string().regex(BASE64, 'body must be base64 (proto3 JSON bytes)').optional(),
    oauthToken: z
      .strictObject({ serviceAccountEmail: z.string().regex(EMAIL), scope: z.string().optional() })
      .optional(),
    oidcToken: z
      .strictObject({ serviceAccountEmail: z.string().regex(EMAIL), audience: z.string().optional() })
      .optional(),
  })
  .refine((r) => !(r.oauthToken && r.oidcToken), 'oauthToken and oidcToken are a oneof');

/** Only fields a caller may set on create: output-only ones (createTime, dispatchCount, view, …) are refused. */
const createTaskSchema = z.strictObject({
  task: z.strictObject({
    name: z.string().optional(),
    scheduleTime: z.string().regex(RFC3339, 'scheduleTime must be an RFC 3339 timestamp').optional(),
    dispatchDeadline: z.string().regex(DURATION).optional(),
    httpRequest: httpRequestSchema,
  }),
  responseView: z.union([z.enum(['VIEW_UNSPECIFIED', 'BASIC', 'FULL']), z.number().int().min(0).max(2)]).optional(),
});

class RpcError extends Error {
  constructor(
    readonly http: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

function methodName(m: (typeof HTTP_METHODS)[number] | number | undefined): string {
  const name = typeof m === 'number' ? HTTP_METHODS[m] : m;
  return !name || name === 'HTTP_METHOD_UNSPECIFIED' ? 'POST' : name;
}

export async function startFakeCloudTasks(opts: FakeCloudTasksOptions = {}): Promise<FakeCloudTasks> {
  const minBackoff = opts.minBackoffMs ?? 50;
  const maxBackoff = opts.maxBackoffMs ?? 400;
  const maxAttempts = opts.maxAttempts ?? 10;
  const issuer = await createTestOidcIssuer();
  const tasks = new Map<string, FakeTask>();
  const invalid: FakeCloudTasks['invalid'] = [];
  const timers = new Set<NodeJS.Timeout>();
  const aborts = new Set<AbortController>();
  let injected: RpcError | undefined;
  let closed = false;

  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) f();
    }, ms);
    timers.add(t);
  };

  async function attempt(task: FakeTask): Promise<void> {
    const n = task.attempts.length;
    const headers: Record<string, string> = {
      ...task.headers,
      'user-agent': 'Google-Cloud-Tasks',
      'x-cloudtasks-queuename': task.queue,
      'x-cloudtasks-taskname': task.id,
      'x-cloudtasks-taskretrycount': String(n),
      'x-cloudtasks-taskexecutioncount': String(task.attempts.filter((a) => a.status > 0).length),
      'x-cloudtasks-tasketa': (task.scheduleTime.getTime() / 1000).toFixed(6),
    };
    const prev = task.attempts.at(-1);
    if (prev) headers['x-cloudtasks-taskpreviousresponse'] = String(prev.status);
    if (task.oidc) {
      const token = await issuer.sign(task.oidc.serviceAccountEmail, task.oidc.audience);
      headers.authorization = `Bearer ${token}`;
    }
    const ac = new AbortController();
    aborts.add(ac);
    const timeout = setTimeout(() => ac.abort(), 30_000);
    let status = 0;
    try {
      const res = await fetch(task.url, {
        method: task.method,
        headers,
        body:
          task.body.length && task.method !== 'GET' && task.method !== 'HEAD' ? new Uint8Array(task.body) : undefined,
        signal: ac.signal,
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      status = 0; // no response (connection refused, deadline): retried like a failure
    } finally {
      clearTimeout(timeout);
      aborts.delete(ac);
    }
    if (closed) return;
    task.attempts.push({ at: new Date(), status, headers });
    if (status >= 200 && status < 300) task.state = 'done';
    else if (task.attempts.length >= maxAttempts) task.state = 'failed';
    else later(Math.min(maxBackoff, minBackoff * 2 ** n), () => void attempt(task));
  }

  function create(path: string, query: URLSearchParams, raw: string): Record<string, unknown> {
    const m = TASK_PATH.exec(path);
    if (!m) throw new RpcError(404, 'NOT_FOUND', `no such resource: ${path}`);
    const parent = path.slice('/v2/'.length, -'/tasks'.length);
    for (const k of query.keys()) {
      if (!['$alt', 'alt', '$prettyPrint', 'prettyPrint'].includes(k)) {
        throw new RpcError(400, 'INVALID_ARGUMENT', `unknown query parameter ${k}`);
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new RpcError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    const r = createTaskSchema.safeParse(json);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new RpcError(400, 'INVALID_ARGUMENT', `Invalid JSON payload: ${i?.path.join('.')}: ${i?.message}`);
    }
    const t = r.data.task;
    const id = t.name === undefined ? randomBytes(16).toString('hex') : t.name.slice(`${parent}/tasks/`.length);
    if (t.name !== undefined && (!t.name.startsWith(`${parent}/tasks/`) || !/^[A-Za-z0-9_-]{1,500}$/.test(id))) {
      throw new RpcError(400, 'INVALID_ARGUMENT', `task name must be ${parent}/tasks/[A-Za-z0-9_-]{1,500}`);
    }
    const method = methodName(t.httpRequest.httpMethod);
    const body = Buffer.from(t.httpRequest.body ?? '', 'base64');
    if (body.length && !['POST', 'PUT', 'PATCH'].includes(method)) {
      throw new RpcError(400, 'INVALID_ARGUMENT', `a body is not allowed with ${method}`);
    }
    if (raw.length > 1_000_000) throw new RpcError(400, 'INVALID_ARGUMENT', 'task size exceeds 1 MB');
    const headers = Object.fromEntries(
      Object.entries(t.httpRequest.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const),
    );
    const reserved = Object.keys(headers).find((k) => RESERVED_HEADER.test(k));
    if (reserved) throw new RpcError(400, 'INVALID_ARGUMENT', `header ${reserved} cannot be set`);
    const scheduleTime = t.scheduleTime ? new Date(t.scheduleTime) : new Date();
    if (scheduleTime.getTime() > Date.now() + 30 * 86400_000) {
      throw new RpcError(400, 'INVALID_ARGUMENT', 'scheduleTime is more than 30 days in the future');
    }
    const name = `${parent}/tasks/${id}`;
    // Names stay taken after a task ran or was dropped (Cloud Tasks keeps a tombstone for about an hour).
    if (tasks.has(name)) throw new RpcError(409, 'ALREADY_EXISTS', 'Requested entity already exists');
    const oidc = t.httpRequest.oidcToken;
    const task: FakeTask = {
      name,
      queue: m[3] as string,
      id,
      url: t.httpRequest.url,
      method,
      headers: { 'content-type': 'application/octet-stream', ...headers },
      body,
      scheduleTime,
      oidc: oidc
        ? { serviceAccountEmail: oidc.serviceAccountEmail, audience: oidc.audience || t.httpRequest.url }
        : null,
      attempts: [],
      state: 'pending',
    };
    tasks.set(name, task);
    later(Math.max(0, scheduleTime.getTime() - Date.now()), () => void attempt(task));
    const numeric = (query.get('$alt') ?? query.get('alt') ?? '').includes('enum-encoding=int');
    const { body: _omitted, ...basic } = t.httpRequest; // the BASIC view leaves out the payload
    return {
      name,
      httpRequest: { ...basic, httpMethod: numeric ? HTTP_METHODS.indexOf(method as 'POST') : method },
      scheduleTime: scheduleTime.toISOString(),
      createTime: new Date().toISOString(),
      dispatchDeadline: t.dispatchDeadline ?? '600s',
      view: numeric ? 1 : 'BASIC',
    };
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/oauth2/v3/certs') return send(res, 200, issuer.jwks);
    try {
      if (req.method !== 'POST') throw new RpcError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
        throw new RpcError(400, 'INVALID_ARGUMENT', 'content-type must be application/json');
      }
      if (injected) {
        const e = injected;
        injected = undefined;
        throw e;
      }
      send(res, 200, create(url.pathname, url.searchParams, Buffer.concat(chunks).toString('utf8')));
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      if (err.status === 'INVALID_ARGUMENT' || err.status === 'NOT_FOUND') {
        invalid.push({ path: url.pathname, reason: err.message });
      }
      send(res, err.http, { error: { code: err.http, message: err.message, status: err.status } });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    jwksUrl: `${url}/oauth2/v3/certs`,
    issuer,
    tasks,
    invalid,
    failNextCreate(httpStatus, status) {
      injected = new RpcError(httpStatus, status, `injected ${status}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        for (const a of aborts) a.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
