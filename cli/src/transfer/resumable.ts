import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '@studio-lite/functions/adapters/local/local-home.ts';
import { isStudioError, type ResumableStartRequest, StudioError } from '@studio-lite/functions/contract';
import { assertUnchangedSize, type BodyPart, rangeBody } from './file-body.ts';
import { sendStream } from './http-put.ts';
import { isRetryable, type RetryOptions, withRetry } from './retry.ts';
import { storageError } from './storage-error.ts';

/** Bytes per chunk PUT. GCS wants every chunk but the last to be a multiple of 256 KiB. */
export const RESUMABLE_CHUNK_BYTES = 8 << 20;
/** GCS keeps an unfinished session for a week; a remembered one older than this is dropped instead of resumed. */
export const SESSION_MAX_AGE_MS = 6 * 24 * 3600 * 1000;

/** What `<sessionDir>/<sha256>.json` holds (mode 0600: the URI alone lets anyone write this one object). */
export interface SessionRecord {
  /** The session URI (the 201 Location of the start POST). */
  uri: string;
  size: number;
  createdAt: string;
  /** Origin and path of the start URL (bucket and object): a session is only resumed for the same destination. */
  target: string;
}

export interface ResumableOptions {
  /** Where sessions are remembered across processes ($STUDIOML_HOME/uploads); none: only within this call. */
  sessionDir?: string | undefined;
  signal: AbortSignal;
  retry?: Omit<RetryOptions, 'signal'> | undefined;
  /** Receives deltas: bytes sent, bytes found already stored, and negative amounts when sent bytes were lost. */
  progress: (n: number) => void;
  now?: () => Date;
}

type SessionState = { kind: 'at'; offset: number } | { kind: 'done' } | { kind: 'gone' };

const EMPTY = new Uint8Array(0);
/** Sessions opened per blob and call: the first, and one more when the first vanishes on the server. */
const MAX_OPENS = 2;

/**
 * Uploads one blob through a resumable session: resumes the session remembered for this sha256 (asking the session
 * how much it holds), or opens one with the signed start POST and remembers it; then PUTs chunks of
 * RESUMABLE_CHUNK_BYTES with `Content-Range: bytes a-b/total`. A failed chunk is retried (withRetry) from the offset
 * the session reports, so bytes storage already has are not sent again, in this process or the next. A 412 (the
 * create-only object already exists) counts as uploaded. The session file is removed once the object is complete,
 * and when storage or the source makes the session useless (a refused chunk, a changed file).
 */
export async function uploadResumable(
  part: BodyPart,
  start: ResumableStartRequest,
  o: ResumableOptions,
): Promise<void> {
  const now = o.now ?? (() => new Date());
  const target = targetOf(start.url);
  const store = o.sessionDir === undefined ? undefined : sessionStore(o.sessionDir, part.sha256);
  const retry = { ...o.retry, signal: o.signal };
  const what = `upload of ${part.abs}`;
  let counted = 0;
  const moveTo = (n: number) => {
    if (n !== counted) o.progress(n - counted);
    counted = n;
  };
  const sent = (n: number) => {
    counted += n;
    o.progress(n);
  };

  try {
    await assertUnchangedSize([part]);
    let session = store?.load(part.size, target, now());
    for (let opens = 0; ; ) {
      let offset = 0;
      if (session) {
        const uri = session.uri;
        const st = await withRetry(() => queryStatus(uri, part.size, o.signal, what), retry);
        if (st.kind === 'done') break;
        if (st.kind === 'gone') {
          store?.forget();
          session = undefined;
          continue;
        }
        offset = st.offset;
      } else {
        if (opens++ >= MAX_OPENS) {
          throw new StudioError('E_UNAVAILABLE', `storage lost the upload session of ${part.abs} twice`, {
            details: { retryable: false },
          });
        }
        const uri = await withRetry(() => openSession(start, o.signal, what), retry);
        if (uri === null) break;
        session = { uri, size: part.size, createdAt: now().toISOString(), target };
        store?.save(session);
      }
      moveTo(offset);
      const end = await sendChunks(session.uri, part, offset, { signal: o.signal, retry, what, moveTo, sent });
      if (end === 'done') break;
      store?.forget();
      session = undefined;
    }
    moveTo(part.size);
    store?.forget();
  } catch (err) {
    // The bytes of this blob count again from zero if it is ever retried, like a failed single PUT.
    moveTo(0);
    // A changed source or a refused request makes the remembered session useless; a network failure, an exhausted
    // retry or an abort (Ctrl-C) keeps it for the next attempt.
    if (isStudioError(err) && !isRetryable(err)) store?.forget();
    throw err;
  }
}

interface ChunkContext {
  signal: AbortSignal;
  retry: RetryOptions;
  what: string;
  moveTo: (n: number) => void;
  sent: (n: number) => void;
}

/** PUTs the chunks from `offset` to the end; 'gone' when the session vanished on the server. */
async function sendChunks(uri: string, part: BodyPart, from: number, c: ChunkContext): Promise<'done' | 'gone'> {
  const total = part.size;
  let offset = from;
  let end: 'done' | 'gone' | undefined;
  const apply = (st: SessionState) => {
    if (st.kind === 'at') {
      offset = st.offset;
      c.moveTo(offset);
    } else end = st.kind;
  };
  while (end === undefined) {
    await withRetry(async (attempt) => {
      // After a failure, what reached storage is unknown: the session says where to go on.
      if (attempt > 0) {
        apply(await queryStatus(uri, total, c.signal, c.what));
        if (end !== undefined) return;
      }
      if (offset >= total) {
        // Every byte is stored but the object is not final (or the blob is empty): a status query completes it.
        const st = await queryStatus(uri, total, c.signal, c.what);
        if (st.kind === 'at' && st.offset >= total) {
          throw new StudioError('E_INTERNAL', `storage holds all of ${part.abs} but does not complete the upload`);
        }
        return apply(st);
      }
      await assertUnchangedSize([part]);
      const last = Math.min(offset + RESUMABLE_CHUNK_BYTES, total) - 1;
      const before = offset;
      let bodyError: unknown;
      const body = (async function* () {
        try {
          yield* rangeBody(part, before, last, c.sent);
        } catch (err) {
          bodyError = err;
          throw err;
        }
      })();
      const headers = {
        'content-range': `bytes ${before}-${last}/${total}`,
        'content-length': String(last - before + 1),
      };
      let res: Response;
      try {
        res = await sendStream('PUT', uri, headers, body, c.signal);
      } catch (err) {
        c.moveTo(before);
        throw bodyError ?? err;
      }
      let st: SessionState;
      try {
        st = await readState(res, total, c.what);
      } catch (err) {
        c.moveTo(before);
        throw err;
      }
      if (st.kind === 'at' && st.offset <= before) {
        c.moveTo(before);
        // Nothing of the chunk was kept: counts as a failed attempt, so a session that never advances ends.
        throw new StudioError('E_UNAVAILABLE', `storage kept none of a chunk of ${part.abs}`, {
          details: { retryable: true },
        });
      }
      apply(st);
    }, c.retry);
  }
  return end;
}

/** The signed start POST (empty body, headers exactly as signed); the session URI, or null when 412 says stored. */
async function openSession(start: ResumableStartRequest, signal: AbortSignal, what: string): Promise<string | null> {
  const headers = { ...start.headers };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = '0';
  const res = await sendStream('POST', start.url, headers, EMPTY, signal);
  if (res.status === 412) {
    await drain(res);
    return null;
  }
  if (!res.ok) throw await storageError(res, what);
  const location = res.headers.get('location');
  await drain(res);
  if (!location) throw new StudioError('E_INTERNAL', `storage opened an upload session without a Location (${what})`);
  return new URL(location, start.url).toString();
}

/** The empty `bytes *\/total` PUT: how much the session holds, or whether the object is complete or the session gone. */
async function queryStatus(uri: string, total: number, signal: AbortSignal, what: string): Promise<SessionState> {
  const headers = { 'content-range': `bytes */${total}`, 'content-length': '0' };
  return readState(await sendStream('PUT', uri, headers, EMPTY, signal), total, what);
}

/** 308 + Range: bytes stored so far; 200/201 (or 412: the create-only object exists): complete; 404/410: gone. */
async function readState(res: Response, total: number, what: string): Promise<SessionState> {
  if (res.status === 308) {
    const range = res.headers.get('range');
    await drain(res);
    if (range === null) return { kind: 'at', offset: 0 };
    const m = /^bytes=0-(\d+)$/.exec(range.trim());
    const offset = m ? Number(m[1]) + 1 : Number.NaN;
    if (!(offset >= 0 && offset <= total)) {
      throw new StudioError('E_INTERNAL', `storage reported an impossible stored range "${range}" (${what})`);
    }
    return { kind: 'at', offset };
  }
  if (res.ok || res.status === 412) {
    await drain(res);
    return { kind: 'done' };
  }
  if (res.status === 404 || res.status === 410) {
    await drain(res);
    return { kind: 'gone' };
  }
  throw await storageError(res, what);
}

/** Reads the rest of an answer so the keep-alive connection goes back to the pool. */
const drain = (res: Response) =>
  res.arrayBuffer().then(
    () => undefined,
    () => undefined,
  );

/** Bucket and object of a start URL (its origin and path, without the signature). */
function targetOf(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** The remembered session of one blob. Best effort: a home that cannot be written only loses cross-process resumes. */
function sessionStore(dir: string, sha256: string) {
  const file = join(dir, `${sha256}.json`);
  const forget = () => {
    try {
      rmSync(file, { force: true });
    } catch {
      // Left behind: it is dropped when it ages out or no longer matches.
    }
  };
  return {
    /** The session if it is for this size and destination and young enough; anything else is removed. */
    load(size: number, target: string, now: Date): SessionRecord | undefined {
      let raw: string;
      try {
        raw = readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
      let rec: Partial<SessionRecord> | null = null;
      try {
        rec = JSON.parse(raw) as Partial<SessionRecord>;
      } catch {
        // Corrupt: dropped below.
      }
      const age = now.getTime() - Date.parse(String(rec?.createdAt));
      const ok =
        rec !== null &&
        typeof rec.uri === 'string' &&
        /^https?:\/\//.test(rec.uri) &&
        rec.size === size &&
        rec.target === target &&
        age < SESSION_MAX_AGE_MS;
      if (!ok) {
        forget();
        return undefined;
      }
      return rec as SessionRecord;
    },
    save(rec: SessionRecord): void {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        writePrivateFile(file, `${JSON.stringify(rec)}\n`);
      } catch {
        // Not remembered: this process still resumes within the call, the next one starts over.
      }
    },
    forget,
  };
}
