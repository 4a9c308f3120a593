import { applyRetentionBody, setRetentionBody } from '../contract/schemas.ts';
import type { ListRetentionResponse, RetentionPolicyResponse } from '../contract/wire.ts';
import { applyRetention, clearRetention, listRetention, setRetention } from '../core/retention.ts';
import { json } from './respond.ts';
import { type Route, readBody } from './route-kit.ts';

/** Retention policies of the caller's team (core/retention.ts): readers list and dry-run, admins set, clear, apply. */
export const RETENTION_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/retention$/,
    run: async (c) =>
      json(200, { policies: await listRetention(c.deps, c.principal, c.team) } satisfies ListRetentionResponse),
  },
  {
    method: 'PUT',
    pattern: /^\/v1\/retention$/,
    run: async (c) => {
      const policy = await setRetention(c.deps, c.principal, c.team, await readBody(c.req, setRetentionBody));
      return json(200, { policy } satisfies RetentionPolicyResponse);
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/retention$/,
    run: async (c) => {
      const policy = await clearRetention(c.deps, c.principal, c.team, c.url.searchParams.get('project') || null);
      return json(200, { policy } satisfies RetentionPolicyResponse);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/retention\/apply$/,
    run: async (c) =>
      json(200, await applyRetention(c.deps, c.principal, c.team, await readBody(c.req, applyRetentionBody))),
  },
];
