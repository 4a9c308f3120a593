import { mkdirSync, readFileSync } from 'node:fs';
import * as z from 'zod';
import { cliPaths } from '../home/cli-home.ts';
import { writePrivateFile } from '../home/private-files.ts';

/** `studio-lite login URL --token T`: a personal access token (the original format, no `kind`). */
const tokenLogin = z.object({
  api_url: z.string().min(1),
  kind: z.literal('token').optional(),
  token: z.string().min(1),
});

/** `studio-lite login URL` with Google: a Firebase session, refreshed by the CLI (auth/firebase-session.ts). */
const firebaseLogin = z.object({
  api_url: z.string().min(1),
  kind: z.literal('firebase'),
  email: z.string().nullable(),
  uid: z.string().min(1),
  id_token: z.string().min(1),
  refresh_token: z.string().min(1),
  /** When id_token stops being valid (ISO time). */
  expires_at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a time'),
  /** Firebase web API key and securetoken base URL, kept so a refresh needs no request to the deployment. */
  api_key: z.string().min(1),
  secure_token_url: z.string().min(1),
});

export type TokenLogin = z.infer<typeof tokenLogin>;
export type FirebaseLogin = z.infer<typeof firebaseLogin>;
export type SavedLogin = TokenLogin | FirebaseLogin;

const savedLogin = z.union([firebaseLogin, tokenLogin]);

/** The saved deployment login ($STUDIOML_HOME/login.json), or null when absent or unreadable. */
export function readSavedLogin(home: string): SavedLogin | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cliPaths(home).login, 'utf8'));
  } catch {
    return null;
  }
  const r = savedLogin.safeParse(raw);
  return r.success ? r.data : null;
}

/** Writes login.json atomically with mode 0600 (temp file + rename), creating the home folder if needed. */
export function saveLogin(home: string, login: SavedLogin): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writePrivateFile(cliPaths(home).login, `${JSON.stringify(login, null, 2)}\n`);
}

/** True when two API URLs name the same deployment (a trailing slash does not matter). */
export function sameApiUrl(a: string | null | undefined, b: string | null | undefined): boolean {
  return Boolean(a && b && a.replace(/\/$/, '') === b.replace(/\/$/, ''));
}
