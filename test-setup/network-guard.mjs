// Refuses every outgoing connection that would leave the machine. Plain JS so that child processes spawned by
// tests can load it with `node --import` (see network-guard-preload.mjs); test workers load it via no-network.ts.
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

export const NETWORK_GUARD_CODE = 'ERR_STUDIO_NETWORK_GUARD';

const STATE = Symbol.for('studio-lite.network-guard');
const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for loopback addresses and `localhost`; an absent host means localhost to Node. */
export function isLoopbackHost(host) {
  if (host === undefined || host === null || host === '') return true;
  let h = String(host).toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  if (family === 4) return loopback.check(h, 'ipv4');
  if (family === 6) return loopback.check(h, 'ipv6');
  return false;
}

/** The host a `Socket#connect` call targets, or null for a unix socket / named pipe. */
export function connectTarget(args) {
  // net.connect() hands the socket an already normalised [options, callback] array.
  const a = Array.isArray(args[0]) ? args[0] : args;
  const first = a[0];
  if (first !== null && typeof first === 'object') {
    if (first.path !== undefined && first.path !== null) return null;
    return { host: first.host, port: first.port };
  }
  if (typeof first === 'string' && !/^\s*\d+\s*$/.test(first)) return null;
  return { host: typeof a[1] === 'string' ? a[1] : undefined, port: first };
}

function refusal(host, port) {
  const where = port === undefined ? String(host) : `${host}:${port}`;
  const err = new Error(
    `network guard: connection to ${where} refused; tests may only reach loopback (127.0.0.0/8, ::1, localhost) or unix sockets`,
  );
  err.code = NETWORK_GUARD_CODE;
  err.host = host;
  return err;
}

function guardDns(state) {
  const allowName = (name) => isLoopbackHost(name) || net.isIP(String(name)) !== 0;
  const wrapCallback = (orig) =>
    function guardedDns(name, ...rest) {
      if (!allowName(name)) {
        const err = refusal(name);
        const cb = rest.at(-1);
        if (typeof cb !== 'function') throw err;
        process.nextTick(cb, err);
        return undefined;
      }
      return orig.call(this, name, ...rest);
    };
  const wrapPromise = (orig) =>
    function guardedDnsPromise(name, ...rest) {
      if (!allowName(name)) return Promise.reject(refusal(name));
      return orig.call(this, name, ...rest);
    };
  const names = (obj) => Object.keys(obj).filter((k) => k === 'lookup' || /^resolve[A-Za-z0-9]*$/.test(k));
  for (const k of names(dns)) if (typeof dns[k] === 'function') dns[k] = wrapCallback(dns[k]);
  for (const k of names(dns.promises))
    if (typeof dns.promises[k] === 'function') dns.promises[k] = wrapPromise(dns.promises[k]);
  syncBuiltinESMExports();
  state.dns = true;
}

/**
 * Installs the guard once per process. mode 'throw': connect() throws synchronously (test workers, so the failing
 * line is in the stack); mode 'error': the socket fails asynchronously like ECONNREFUSED (child processes).
 */
export function installNetworkGuard({ mode = 'throw' } = {}) {
  const existing = globalThis[STATE];
  if (existing) {
    existing.mode = mode;
    return;
  }
  const state = { mode, dns: false };
  globalThis[STATE] = state;
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function guardedConnect(...args) {
    const target = connectTarget(args);
    if (target !== null && !isLoopbackHost(target.host)) {
      const err = refusal(target.host, target.port);
      if (state.mode === 'throw') throw err;
      process.nextTick(() => this.destroy(err));
      return this;
    }
    return original.apply(this, args);
  };
  guardDns(state);
}
