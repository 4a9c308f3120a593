/** Calls the v1 API of the page's own origin: the session cookie locally, or a Google ID token as bearer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let bearer: (() => Promise<string | null>) | null = null;
let team: string | null = null;

/** Firebase mode: every request carries a fresh ID token. */
export function useBearer(get: () => Promise<string | null>): void {
  bearer = get;
}

export function setTeam(t: string | null): void {
  team = t;
}

export function currentTeam(): string | null {
  return team;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-studio-ui': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (team) headers['x-studio-team'] = team;
  const token = bearer ? await bearer() : null;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? (JSON.parse(text) as unknown) : {};
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(res.status, err?.code ?? 'E_HTTP', err?.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

/** Path segment encoding for keys and tags. */
export const seg = (s: string) => encodeURIComponent(s);
