import dns from 'node:dns';
import net from 'node:net';

/** Where webhooks may go: private networks only when configured, https only when required. */
export interface TargetPolicy {
  allowPrivate: boolean;
  requireHttps: boolean;
}

/** A webhook URL Lectern refuses to call; the message says why, for the admin. */
export class TargetRefused extends Error {
  readonly code = 'ETARGETREFUSED';
}

type Range = { base: bigint; bits: number; width: number; reason: string };

const v4ToBigInt = (ip: string) =>
  ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);

/** 128-bit value of an IPv6 address (zone id dropped, embedded dotted IPv4 allowed). */
function v6ToBigInt(ip: string): bigint {
  let text = ip.split('%')[0]!.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = v4ToBigInt(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const groups =
    rest === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

const range = (cidr: string, reason: string): Range => {
  const [address, bits] = cidr.split('/') as [string, string];
  const v6 = address.includes(':');
  return {
    base: v6 ? v6ToBigInt(address) : v4ToBigInt(address),
    bits: Number(bits),
    width: v6 ? 128 : 32,
    reason,
  };
};

const inRange = (value: bigint, r: Range) =>
  value >> BigInt(r.width - r.bits) === r.base >> BigInt(r.width - r.bits);

// IANA special-purpose registries: everything that is not a routable public unicast address.
const V4_RANGES = [
  range('0.0.0.0/8', 'a "this network" address'),
  range('10.0.0.0/8', 'a private address'),
  range('100.64.0.0/10', 'a carrier-grade NAT address'),
  range('127.0.0.0/8', 'a loopback address'),
  range('169.254.0.0/16', 'a link-local address'),
  range('172.16.0.0/12', 'a private address'),
  range('192.0.0.0/24', 'a reserved address'),
  range('192.0.2.0/24', 'a documentation address'),
  range('192.88.99.0/24', 'a reserved address'),
  range('192.168.0.0/16', 'a private address'),
  range('198.18.0.0/15', 'a benchmarking address'),
  range('198.51.100.0/24', 'a documentation address'),
  range('203.0.113.0/24', 'a documentation address'),
  range('224.0.0.0/4', 'a multicast address'),
  range('240.0.0.0/4', 'a reserved or broadcast address'),
];

const V6_UNSPECIFIED = range('::/128', 'the unspecified address');
const V6_LOOPBACK = range('::1/128', 'a loopback address');
// Forms that carry an IPv4 address: judged by that address (e.g. ::ffff:127.0.0.1 is loopback).
const V6_EMBEDDING_LOW_32 = [range('::ffff:0:0/96', ''), range('64:ff9b::/96', ''), range('::/96', '')];
const V6_6TO4 = range('2002::/16', '');
const V6_RANGES = [
  range('64:ff9b:1::/48', 'a private NAT64 address'),
  range('100::/64', 'a discard address'),
  range('2001:db8::/32', 'a documentation address'),
  range('fc00::/7', 'a unique local (private) address'),
  range('fe80::/10', 'a link-local address'),
  range('fec0::/10', 'a site-local address'),
  range('ff00::/8', 'a multicast address'),
];

const v4Reason = (value: bigint) => V4_RANGES.find((r) => inRange(value, r))?.reason ?? null;

/**
 * Why an IP address is not a public unicast address (private, loopback, link-local, CGNAT,
 * multicast, reserved, IPv4 embedded in IPv6 …), or null when it is public.
 */
export function blockedReason(ip: string): string | null {
  const family = net.isIP(ip.split('%')[0]!);
  if (family === 4) return v4Reason(v4ToBigInt(ip));
  if (family !== 6) return 'not an IP address';
  const value = v6ToBigInt(ip);
  if (inRange(value, V6_UNSPECIFIED)) return V6_UNSPECIFIED.reason;
  if (inRange(value, V6_LOOPBACK)) return V6_LOOPBACK.reason;
  if (V6_EMBEDDING_LOW_32.some((r) => inRange(value, r))) return v4Reason(value & 0xffffffffn);
  if (inRange(value, V6_6TO4)) return v4Reason((value >> 80n) & 0xffffffffn);
  return V6_RANGES.find((r) => inRange(value, r))?.reason ?? null;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

function refuseAddresses(host: string, addresses: string[]) {
  for (const address of addresses) {
    const reason = blockedReason(address);
    if (reason)
      throw new TargetRefused(
        address === host
          ? `${address} is ${reason}; webhooks go to public addresses only`
          : `${host} resolves to ${address}, ${reason}; webhooks go to public addresses only`,
      );
  }
}

/**
 * Checks a webhook URL when it is registered or changed: http(s) only (https when required), no
 * credentials, and (unless private targets are allowed) every address the host resolves to public.
 */
export async function checkTargetUrl(raw: string, policy: TargetPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused('Must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TargetRefused('Must be an http or https URL');
  if (policy.requireHttps && url.protocol !== 'https:') throw new TargetRefused('Must be an https URL');
  if (url.username || url.password) throw new TargetRefused('Must not contain credentials');
  const host = hostOf(url);
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      throw new TargetRefused(`${host} could not be resolved`);
    }
  }
  if (!policy.allowPrivate) refuseAddresses(host, addresses);
  return url;
}

/**
 * The check again at delivery time, where it matters: an IP literal is checked before connecting,
 * and for host names this replaces the socket's DNS lookup, so the address checked is the address
 * connected to (a host that re-resolves to an internal address between checks gains nothing).
 */
export function guardedConnection(url: URL, policy: TargetPolicy): { lookup?: net.LookupFunction } {
  const host = hostOf(url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefused('Not an http(s) URL');
  if (policy.requireHttps && url.protocol !== 'https:') throw new TargetRefused('Must be an https URL');
  if (policy.allowPrivate) return {};
  if (net.isIP(host)) {
    refuseAddresses(host, [host]);
    return {};
  }
  return {
    lookup: (hostname, options, callback) => {
      dns.lookup(hostname, { ...options, all: true }, (err, found) => {
        if (err) return callback(err, '', 0);
        try {
          refuseAddresses(
            hostname,
            found.map((a) => a.address),
          );
        } catch (refused) {
          return callback(refused as NodeJS.ErrnoException, '', 0);
        }
        if (options.all) return callback(null, found);
        const first = found[0];
        if (!first) return callback(new TargetRefused(`${hostname} could not be resolved`), '', 0);
        callback(null, first.address, first.family);
      });
    },
  };
}
