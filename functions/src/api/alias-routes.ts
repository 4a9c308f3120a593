import { setAliasBody } from '../contract/schemas.ts';
import type { AliasChangeResponse, ListAliasesResponse } from '../contract/wire.ts';
import { deleteAlias, listAliases, setAlias } from '../core/aliases.ts';
import { json } from './respond.ts';
import { ART, p, type Route, readBody, SEG } from './route-kit.ts';

/** Version aliases of one artifact (core/aliases.ts): readers list, writers set, move and delete. */
export const ALIAS_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: new RegExp(`^${ART}/aliases$`),
    run: async (c) => {
      const aliases = await listAliases(c.deps, c.principal, c.team, p(c, 0), p(c, 1));
      return json(200, { experiment: p(c, 0), tag: p(c, 1), aliases } satisfies ListAliasesResponse);
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${ART}/aliases/${SEG}$`),
    run: async (c) => {
      const body = await readBody(c.req, setAliasBody);
      const alias = await setAlias(c.deps, c.principal, c.team, p(c, 0), p(c, 1), p(c, 2), body.version);
      return json(alias.from === null ? 201 : 200, { alias } satisfies AliasChangeResponse);
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^${ART}/aliases/${SEG}$`),
    run: async (c) => {
      const alias = await deleteAlias(c.deps, c.principal, c.team, p(c, 0), p(c, 1), p(c, 2));
      return json(200, { alias } satisfies AliasChangeResponse);
    },
  },
];
