import { describe, expect, it } from 'vitest';
import { blockedReason, checkTargetUrl, guardedConnection } from './notifications.webhooks.target.ts';

describe('webhook target addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd12:3456:789a::1', 'unique local'],
    ['fc00::1', 'unique local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:db8::1', 'documentation'],
  ])('refuses %s (%s)', (ip, kind) => {
    expect(blockedReason(ip)).toContain(kind);
  });

  it.each([
    '93.184.215.14',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
  ])('accepts the public address %s', (ip) => {
    expect(blockedReason(ip)).toBeNull();
  });

  const strict = { allowPrivate: false, requireHttps: false };

  it('refuses URLs whose literal or resolved address is not public', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://10.0.0.7/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]:3000/',
      'http://[::ffff:127.0.0.1]/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://localhost:3000/hook',
    ]) {
      await expect(checkTargetUrl(url, strict), url).rejects.toThrow(/public addresses only/);
    }
  });

  it('refuses other schemes, credentials, plain http where https is required', async () => {
    await expect(checkTargetUrl('ftp://8.8.8.8/', strict)).rejects.toThrow('http or https');
    await expect(checkTargetUrl('file:///etc/passwd', strict)).rejects.toThrow('http or https');
    await expect(checkTargetUrl('https://user:pw@8.8.8.8/', strict)).rejects.toThrow('credentials');
    await expect(checkTargetUrl('http://8.8.8.8/', { ...strict, requireHttps: true })).rejects.toThrow(
      'https',
    );
    await expect(checkTargetUrl('not a url', strict)).rejects.toThrow('absolute');
    await expect(checkTargetUrl('https://no-such-host.invalid/', strict)).rejects.toThrow(
      'could not be resolved',
    );
  });

  it('accepts public literals, and loopback when private targets are allowed', async () => {
    expect((await checkTargetUrl('https://8.8.8.8/hook', strict)).href).toBe('https://8.8.8.8/hook');
    const open = { allowPrivate: true, requireHttps: false };
    expect((await checkTargetUrl('http://127.0.0.1:9/x', open)).host).toBe('127.0.0.1:9');
    expect((await checkTargetUrl('http://localhost:9/x', open)).hostname).toBe('localhost');
  });
});

describe('the delivery-time check', () => {
  const strict = { allowPrivate: false, requireHttps: true };
  it('refuses private literals, plain http where https is required, and other schemes', () => {
    expect(() => guardedConnection(new URL('https://10.0.0.1/x'), strict)).toThrow('a private address');
    expect(() => guardedConnection(new URL('https://[::ffff:169.254.169.254]/'), strict)).toThrow(
      'link-local',
    );
    expect(() => guardedConnection(new URL('http://8.8.8.8/x'), strict)).toThrow('https');
    expect(() => guardedConnection(new URL('ftp://8.8.8.8/x'), strict)).toThrow('http(s)');
    expect(guardedConnection(new URL('https://8.8.8.8/x'), strict)).toEqual({});
  });

  it('resolves host names itself and refuses private answers', async () => {
    const { lookup } = guardedConnection(new URL('https://localhost/x'), strict);
    const answer = await new Promise<{ err: Error | null }>((resolve) =>
      lookup!('localhost', { all: true }, (err) => resolve({ err })),
    );
    expect(answer.err?.message).toMatch(/localhost resolves to .*loopback/);
  });
});
