import { spawnSync } from 'node:child_process';
import * as dns from 'node:dns';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const GUARD = 'ERR_STUDIO_NETWORK_GUARD';

describe('network guard (test-setup/no-network.ts)', () => {
  let server: net.Server;
  let port = 0;

  beforeAll(async () => {
    server = net.createServer((s) => s.end('hi'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses a private address synchronously, naming the host (port, host) and (options) forms', () => {
    expect(() => net.connect(80, '10.255.255.1')).toThrow(/10\.255\.255\.1/);
    expect(() => net.connect({ host: '10.255.255.1', port: 80 })).toThrow(expect.objectContaining({ code: GUARD }));
    expect(() => new net.Socket().connect(80, '10.255.255.1')).toThrow(/10\.255\.255\.1:80/);
    // The cloud metadata address, built at run time so the literal never sits in the source.
    const metadata = [169, 254, 169, 254].join('.');
    expect(() => new net.Socket().connect({ host: metadata, port: 80 })).toThrow(metadata);
  });

  it('refuses a public host name before any DNS lookup', () => {
    expect(() => net.connect(443, 'example.org')).toThrow(/example\.org/);
    expect(() => http.get('http://example.org/')).toThrow(/example\.org/);
  });

  it('refuses dns lookups of outside names', async () => {
    await expect(dns.promises.lookup('example.org')).rejects.toMatchObject({ code: GUARD });
    const err = await new Promise((resolve) => dns.lookup('example.org', (e) => resolve(e)));
    expect(err).toMatchObject({ code: GUARD });
    await expect(dns.promises.lookup('localhost')).resolves.toBeTruthy();
  });

  it('refuses fetch (undici) to an outside address', async () => {
    const started = Date.now();
    const err = await fetch('http://10.255.255.1/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as TypeError).cause).toMatchObject({ code: GUARD });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('allows loopback: 127.0.0.1, localhost, port-only and fetch', async () => {
    for (const connect of [
      () => net.connect(port, '127.0.0.1'),
      () => net.connect({ port, host: 'localhost' }),
      () => net.connect(port),
    ]) {
      const sock = connect();
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      await once(sock, 'end');
      expect(Buffer.concat(chunks).toString()).toBe('hi');
    }
    const web = http.createServer((_req, res) => res.end('ok'));
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    const res = await fetch(`http://127.0.0.1:${(web.address() as net.AddressInfo).port}/`);
    expect(await res.text()).toBe('ok');
    await new Promise<void>((resolve) => web.close(() => resolve()));
  });

  it('allows unix sockets', async () => {
    const path = `/tmp/studio-lite-guard-${process.pid}-${Date.now()}.sock`;
    const unix = net.createServer((s) => s.end('unix'));
    unix.listen(path);
    await once(unix, 'listening');
    const sock = net.connect(path);
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    await once(sock, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('unix');
    await new Promise<void>((resolve) => unix.close(() => resolve()));
  });

  it('reaches child processes: a spawned node fails like a refused connection', () => {
    const script =
      "fetch('http://10.255.255.1/').then(()=>console.log('reached'),e=>console.log(e.cause&&e.cause.code))";
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout.trim()).toBe(GUARD);
  });
});
