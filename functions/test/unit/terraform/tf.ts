/**
 * A small static analyser for the terraform code under terraform/: parses .tf files with @cdktf/hcl2json (HCL2 ->
 * JSON, offline; no terraform binary or provider exists on these machines) and answers the questions the tests ask:
 * which variables, locals, resources, data sources, modules and outputs a module declares, which references its
 * expressions make and which of them are undeclared, which IAM grants and buckets it defines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getReferencesInExpression, parse } from '@cdktf/hcl2json';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const TERRAFORM = join(REPO, 'terraform');
export const MODULE_DIR = join(TERRAFORM, 'modules/studio-lite');
export const EXAMPLE_DIR = join(TERRAFORM, 'examples/team');

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Obj = { [k: string]: Json };

export const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A block's body: hcl2json gives every block as an array of bodies; a repeated nested block has several. */
export const body = (v: Json | undefined): Obj => {
  const first = Array.isArray(v) ? v[0] : v;
  return isObj(first) ? first : {};
};
export const bodies = (v: Json | undefined): Obj[] => (Array.isArray(v) ? v.filter(isObj) : isObj(v) ? [v] : []);

export interface Declared {
  file: string;
  body: Obj;
}

export interface TfModule {
  dir: string;
  /** File name -> hcl2json output. */
  files: Map<string, Obj>;
  variables: Map<string, Declared>;
  locals: Map<string, { file: string; value: Json }>;
  /** "type.name" */
  resources: Map<string, Declared>;
  /** "type.name" (without the data. prefix) */
  data: Map<string, Declared>;
  modules: Map<string, Declared>;
  outputs: Map<string, Declared>;
}

/** Parses HCL sources (file name -> text); throws with hcl2json's message (file:line,col) on a syntax error. */
export async function parseSources(sources: Record<string, string>, dir = '<memory>'): Promise<TfModule> {
  const mod: TfModule = {
    dir,
    files: new Map(),
    variables: new Map(),
    locals: new Map(),
    resources: new Map(),
    data: new Map(),
    modules: new Map(),
    outputs: new Map(),
  };
  const dup = (kind: string, name: string, file: string) => {
    throw new Error(`${file}: ${kind} "${name}" is declared twice in ${dir}`);
  };
  for (const [file, text] of Object.entries(sources)) {
    const json = (await parse(file, text)) as Obj;
    mod.files.set(file, json);
    const named = (section: Json | undefined, into: Map<string, Declared>, kind: string) => {
      if (!isObj(section)) return;
      for (const [name, v] of Object.entries(section)) {
        if (into.has(name)) dup(kind, name, file);
        into.set(name, { file, body: body(v) });
      }
    };
    const typed = (section: Json | undefined, into: Map<string, Declared>, kind: string) => {
      if (!isObj(section)) return;
      for (const [type, byName] of Object.entries(section)) {
        if (!isObj(byName)) continue;
        for (const [name, v] of Object.entries(byName)) {
          const key = `${type}.${name}`;
          if (into.has(key)) dup(kind, key, file);
          into.set(key, { file, body: body(v) });
        }
      }
    };
    named(json.variable, mod.variables, 'variable');
    named(json.module, mod.modules, 'module');
    named(json.output, mod.outputs, 'output');
    typed(json.resource, mod.resources, 'resource');
    typed(json.data, mod.data, 'data');
    for (const block of bodies(json.locals)) {
      for (const [name, value] of Object.entries(block)) {
        if (mod.locals.has(name)) dup('local', name, file);
        mod.locals.set(name, { file, value });
      }
    }
  }
  return mod;
}

export const tfFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tf'));

export async function loadModule(dir: string): Promise<TfModule> {
  const sources: Record<string, string> = {};
  for (const f of tfFiles(dir)) sources[f] = readFileSync(join(dir, f), 'utf8');
  return parseSources(sources, dir);
}

// --- references -------------------------------------------------------------------------------------------------

export interface Reference {
  file: string;
  /** Where in the JSON the expression sits, e.g. resource.google_storage_bucket.artifacts.name */
  at: string;
  /** As hcl2json reports it: var.x, local.y, google_x.name.attr, data.t.n.attr, module.m.out, each.value ... */
  ref: string;
}

/** Expression strings hcl2json leaves as `${...}`; literal strings have none. */
const hasExpression = (s: string) => s.includes('${') || s.includes('%{');

/** Paths whose `${...}` are not value expressions: type constraints and ignore_changes attribute names. */
function skipped(path: string[]): boolean {
  const last = path[path.length - 1];
  if (path[0] === 'variable' && last === 'type') return true;
  if (path.includes('lifecycle') && last === 'ignore_changes') return true;
  if (path[0] === 'resource' && path.length === 4 && last === 'provider') return true;
  return path[0] === 'terraform';
}

/** Every reference made by any expression in the module. */
export async function references(mod: TfModule): Promise<Reference[]> {
  const out: Reference[] = [];
  const jobs: Promise<void>[] = [];
  const visit = (file: string, v: Json, path: string[]) => {
    if (skipped(path)) return;
    if (typeof v === 'string') {
      if (!hasExpression(v)) return;
      jobs.push(
        getReferencesInExpression(file, v).then((refs) => {
          for (const r of refs) out.push({ file, at: path.join('.'), ref: r.value });
        }),
      );
    } else if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) visit(file, x, [...path, String(i)]);
    } else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (hasExpression(k)) visit(file, k, [...path, '<key>']);
        visit(file, x, [...path, k]);
      }
    }
  };
  for (const [file, json] of mod.files) visit(file, json, []);
  await Promise.all(jobs);
  return out;
}

/** Names that the language provides, and prefixes of the providers whose resources a reference can name. */
const BUILTIN_ROOTS = new Set(['each', 'count', 'path', 'self', 'terraform']);
const RESOURCE_TYPE = /^(google|google-beta|archive|random|null|time|tls|local|http)_[a-z0-9_]+$/;

/** Iterator names of dynamic blocks (their `iterator` or the block's label): `lifecycle_rule.value` inside one. */
function dynamicIterators(mod: TfModule): Set<string> {
  const names = new Set<string>();
  const visit = (v: Json) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'dynamic' && isObj(x)) {
          for (const [label, blocks] of Object.entries(x)) {
            names.add(label);
            for (const b of bodies(blocks))
              if (typeof b.iterator === 'string') names.add(b.iterator.replace(/^\$\{|\}$/g, ''));
          }
        }
        visit(x);
      }
    }
  };
  for (const json of mod.files.values()) visit(json);
  return names;
}

/** Describes every reference that does not resolve to a declaration of the same module ("" when none). */
export async function undeclaredReferences(mod: TfModule): Promise<string[]> {
  const iterators = dynamicIterators(mod);
  const problems: string[] = [];
  for (const r of await references(mod)) {
    const [root = '', a = '', b = ''] = r.ref.split('.');
    const where = `${r.file}: ${r.at}: ${r.ref}`;
    if (BUILTIN_ROOTS.has(root) || iterators.has(root)) continue;
    if (root === 'var') {
      if (!mod.variables.has(a)) problems.push(`${where}: no variable "${a}"`);
    } else if (root === 'local') {
      if (!mod.locals.has(a)) problems.push(`${where}: no local "${a}"`);
    } else if (root === 'module') {
      if (!mod.modules.has(a)) problems.push(`${where}: no module "${a}"`);
    } else if (root === 'data') {
      if (!mod.data.has(`${a}.${b}`)) problems.push(`${where}: no data source "${a}.${b}"`);
    } else if (RESOURCE_TYPE.test(root)) {
      if (!mod.resources.has(`${root}.${a}`)) problems.push(`${where}: no resource "${root}.${a}"`);
    } else {
      problems.push(`${where}: unknown name "${root}"`);
    }
  }
  return problems;
}

/** Variables declared but referenced nowhere in the module. */
export async function unusedVariables(mod: TfModule): Promise<string[]> {
  const used = new Set(
    (await references(mod)).filter((r) => r.ref.startsWith('var.')).map((r) => r.ref.split('.')[1] as string),
  );
  return [...mod.variables.keys()].filter((v) => !used.has(v));
}

// --- expressions --------------------------------------------------------------------------------------------------

/** The expression inside `${...}` when the whole string is one interpolation, else undefined. */
export function soleExpression(v: Json | undefined): string | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\$\{([\s\S]*)\}$/.exec(v);
  return m?.[1]?.trim();
}

/** The resources (type.name) an expression string names, found by their type prefix. */
export function resourcesIn(v: Json | undefined): string[] {
  const text = JSON.stringify(v ?? null);
  return [...text.matchAll(/(?<![.\w-])((?:google|archive|random)_[a-z0-9_]+)\.([A-Za-z0-9_-]+)/g)].map(
    (m) => `${m[1]}.${m[2]}`,
  );
}

/** The data sources (type.name) an expression names. */
export function dataSourcesIn(v: Json | undefined): string[] {
  const text = JSON.stringify(v ?? null);
  return [...text.matchAll(/(?<![.\w-])data\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)/g)].map((m) => `${m[1]}.${m[2]}`);
}

/** Locals an expression names. */
export const localsIn = (v: Json | undefined): string[] =>
  [...JSON.stringify(v ?? null).matchAll(/(?<![.\w-])local\.([A-Za-z0-9_-]+)/g)].map((m) => m[1] as string);

/**
 * Everything a resource or data source depends on, transitively: the resources and data sources it names directly,
 * in depends_on, or through locals. Keys: "type.name" for resources, "data.type.name" for data sources.
 */
export function dependencies(mod: TfModule, key: string): Set<string> {
  const out = new Set<string>();
  const pending: Json[] = [];
  const seenLocals = new Set<string>();
  const start = key.startsWith('data.') ? mod.data.get(key.slice(5)) : mod.resources.get(key);
  pending.push(start?.body ?? null);
  while (pending.length > 0) {
    const v = pending.pop() ?? null;
    for (const r of resourcesIn(v)) {
      if (out.has(r)) continue;
      out.add(r);
      pending.push(mod.resources.get(r)?.body ?? null);
    }
    for (const d of dataSourcesIn(v)) {
      if (out.has(`data.${d}`)) continue;
      out.add(`data.${d}`);
      pending.push(mod.data.get(d)?.body ?? null);
    }
    for (const l of localsIn(v)) {
      if (seenLocals.has(l)) continue;
      seenLocals.add(l);
      pending.push(mod.locals.get(l)?.value ?? null);
    }
  }
  return out;
}

/** The google_service_account (its name) an IAM member expression designates, if any. */
export function serviceAccountOf(member: string): string | undefined {
  return /google_service_account\.([A-Za-z0-9_-]+)\.(?:member|email)\b/.exec(member)?.[1];
}

/** String literals in an expression (with the locals it names resolved), e.g. the roles of a for_each set. */
export function literalsIn(mod: TfModule, v: Json | undefined, seen = new Set<string>()): string[] {
  const text = typeof v === 'string' ? v : JSON.stringify(v ?? null);
  const out: string[] = [];
  if (typeof v === 'string' && !hasExpression(v)) return [v];
  if (typeof v !== 'string') {
    const walk = (x: Json | undefined) => {
      if (typeof x === 'string') out.push(...literalsIn(mod, x, seen));
      else if (Array.isArray(x)) x.forEach(walk);
      else if (isObj(x)) Object.values(x).forEach(walk);
    };
    walk(v ?? null);
    return out;
  }
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.push(JSON.parse(`"${m[1]}"`) as string);
  for (const m of text.matchAll(/\blocal\.([A-Za-z0-9_-]+)/g)) {
    const name = m[1] as string;
    if (seen.has(name)) continue;
    seen.add(name);
    out.push(...literalsIn(mod, mod.locals.get(name)?.value, seen));
  }
  return out;
}

// --- IAM ----------------------------------------------------------------------------------------------------------

export interface Grant {
  /** type.name of the IAM resource */
  resource: string;
  type: string;
  role: string;
  member: string;
  body: Obj;
}

/** Every IAM grant (one per role and member; for_each sets of roles expanded). */
export function grants(mod: TfModule): Grant[] {
  const out: Grant[] = [];
  for (const [resource, { body: b }] of mod.resources) {
    const type = resource.split('.')[0] as string;
    if (!/_iam_(member|binding)$/.test(type)) continue;
    const roleExpr = b.role;
    const roles =
      typeof roleExpr === 'string' && /^\$\{each\.(value|key)\}$/.test(roleExpr)
        ? literalsIn(mod, b.for_each)
        : [String(roleExpr)];
    const members: string[] = [];
    if (type.endsWith('_binding')) {
      const list = Array.isArray(b.members) ? b.members : [b.members ?? ''];
      for (const m of list) members.push(String(m));
    } else members.push(String(b.member));
    for (const role of roles) for (const member of members) out.push({ resource, type, role, member, body: b });
  }
  return out;
}

/** IAM resources that replace a whole policy: they would silently remove grants made outside this module. */
export const authoritativePolicies = (mod: TfModule) =>
  [...mod.resources.keys()].filter((k) => /_iam_policy\./.test(k) || /^google_project_iam_binding\./.test(k));

/** Findings that make something public: allAuthenticatedUsers, allUsers beyond run.invoker on the API function,
 * a bucket without uniform access or enforced public-access prevention, or any ACL resource. */
export function publicAccessFindings(mod: TfModule): string[] {
  const findings: string[] = [];
  for (const g of grants(mod)) {
    if (g.member.includes('allAuthenticatedUsers'))
      findings.push(`${g.resource}: grants ${g.role} to allAuthenticatedUsers`);
    if (!g.member.includes('allUsers')) continue;
    const onFunction =
      /^google_cloud_run(_v2)?_service_iam_member$/.test(g.type) &&
      g.role === 'roles/run.invoker' &&
      resourcesIn(g.body.name ?? g.body.service).some((r) => r.startsWith('google_cloudfunctions2_function.'));
    if (!onFunction) findings.push(`${g.resource}: grants ${g.role} to allUsers`);
  }
  for (const [key, { body: b }] of mod.resources) {
    if (/^google_storage_(bucket|object|default_object)_(acl|access_control)\./.test(key)) {
      findings.push(`${key}: ACLs are not allowed (uniform bucket-level access only)`);
    }
    if (!key.startsWith('google_storage_bucket.')) continue;
    if (b.uniform_bucket_level_access !== true) findings.push(`${key}: uniform_bucket_level_access is not true`);
    if (b.public_access_prevention !== 'enforced') findings.push(`${key}: public_access_prevention is not "enforced"`);
  }
  const allUsers = grants(mod).filter((g) => g.member.includes('allUsers'));
  if (allUsers.length > 1)
    findings.push(`${allUsers.length} allUsers grants: ${allUsers.map((g) => g.resource).join(', ')}`);
  return findings;
}

/** Project-wide roles that a service account must never hold here (broad, or covering other resources). */
export function isForbiddenProjectRole(role: string): boolean {
  return (
    role === 'roles/owner' ||
    role === 'roles/editor' ||
    /admin$/i.test(role) ||
    role.startsWith('roles/iam.') ||
    role.startsWith('roles/resourcemanager.')
  );
}

/** Project-level grants to a given service account (by resource name) that break least privilege. */
export function projectRoleFindings(mod: TfModule, account?: string): string[] {
  const findings: string[] = [];
  for (const g of grants(mod)) {
    if (!g.type.startsWith('google_project_iam_')) continue;
    const sa = serviceAccountOf(g.member);
    if (account !== undefined && sa !== account) continue;
    if (isForbiddenProjectRole(g.role)) findings.push(`${g.resource}: ${g.role} project-wide for ${g.member}`);
    if (account !== undefined && g.role.startsWith('roles/storage.')) {
      findings.push(`${g.resource}: ${g.role} project-wide for ${g.member} (grant it on the bucket)`);
    }
  }
  return findings;
}

// --- markdown -----------------------------------------------------------------------------------------------------

/** The first-column names (in backticks) of the first table under a heading that starts with `heading`. */
export function tableNames(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '').startsWith(heading));
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const names: string[] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (/^#+ /.test(line)) break;
    if (line.startsWith('|')) {
      inTable = true;
      const m = /^\|\s*`([^`]+)`/.exec(line);
      if (m?.[1]) names.push(m[1]);
    } else if (inTable) break;
  }
  return names;
}
