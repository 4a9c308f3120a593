import type { AuthConfig } from '../contract/auth-config.ts';
import { json } from './respond.ts';
import type { Route } from './route-kit.ts';

/** Sign-in configuration, public: the CLI reads it before it holds any credential. */
export const AUTH_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/auth\/config$/,
    auth: false,
    run: async (c) => {
      const body: AuthConfig = { firebase: c.deps.authConfig?.firebase ?? null };
      return json(200, body);
    },
  },
];
