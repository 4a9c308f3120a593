import { StudioError } from '../contract/errors.ts';
import { signinExchangeBody } from '../contract/schemas.ts';
import { openArchive, signArchiveLink } from '../core/archive.ts';
import { findConsumers } from '../core/lineage.ts';
import { createSigninCode, exchangeSigninCode, WEB_SESSION_TTL_SECONDS } from '../core/signin-codes.ts';
import { json } from './respond.ts';
import { ART, EXP, p, type Route, readBody, SEG, versionParam } from './route-kit.ts';
import { readCookie, SESSION_COOKIE, sessionCookie } from './ui-session.ts';

/** Routes of the web UI (docs/api.md, docs/ui.md): local sign-in codes, the session cookie, tar.gz links. */
export const UI_ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/ui\/signin-codes$/,
    team: false,
    run: async (c) => json(201, await createSigninCode(c.deps, c.principal)),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/ui\/session$/,
    auth: false,
    run: async (c) => {
      const body = await readBody(c.req, signinExchangeBody);
      const s = await exchangeSigninCode(c.deps, body.code);
      const res = json(200, { expiresAt: s.expiresAt });
      res.headers.set('set-cookie', sessionCookie(s.secret, WEB_SESSION_TTL_SECONDS, c.url.protocol === 'https:'));
      res.headers.set('cache-control', 'no-store');
      return res;
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/ui\/logout$/,
    team: false,
    run: async (c) => {
      // Only the session's own token is revoked (a bearer token in a header is not a browser session).
      if (readCookie(c.req, SESSION_COOKIE) && !c.req.headers.get('authorization')) {
        await c.deps.meta.revokeToken(c.principal.tokenId, c.deps.now().toISOString());
      }
      const res = json(200, { signedOut: true });
      res.headers.set('set-cookie', sessionCookie('', 0, c.url.protocol === 'https:'));
      return res;
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${EXP}/reused-by$`),
    run: async (c) => json(200, await findConsumers(c.deps, c.principal, c.team, p(c, 0))),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${ART}/versions/${SEG}/archive$`),
    run: async (c) => {
      const v = versionParam(p(c, 2));
      if (v === undefined) throw new StudioError('E_BAD_REQUEST', 'archives need a fixed version, not latest');
      return json(200, await signArchiveLink(c.deps, c.principal, c.team, p(c, 0), p(c, 1), v, c.url.origin));
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^/v1/archives/${SEG}/${SEG}$`),
    auth: false,
    run: async (c) => {
      const a = await openArchive(c.deps, p(c, 0));
      return new Response(a.stream, {
        status: 200,
        headers: {
          'content-type': 'application/gzip',
          'content-disposition': `attachment; filename="${a.name.replace(/["\\\r\n]/g, '_')}"`,
          'cache-control': 'no-store',
        },
      });
    },
  },
];
