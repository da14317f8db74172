import { isIP } from 'node:net';

/**
 * Classifies a resolved IP address. Anything that is not a public unicast address (loopback,
 * private, link-local, cloud metadata, carrier-grade NAT, multicast, documentation, reserved, and
 * IPv6 forms that embed one of those IPv4 addresses) gets a reason; public addresses get undefined.
 */
export function nonPublicReason(address: string): string | undefined {
  const zone = address.indexOf('%');
  const ip = zone >= 0 ? address.slice(0, zone) : address;
  const family = isIP(ip);
  if (family === 4) return ipv4Reason(parseIPv4(ip));
  if (family === 6) return ipv6Reason(parseIPv6(ip));
  return `'${address}' is not an IP address`;
}

function parseIPv4(ip: string): number[] {
  return ip.split('.').map(Number);
}

interface Range4 {
  net: [number, number, number, number];
  bits: number;
  reason: string;
}

const V4: Range4[] = [
  { net: [0, 0, 0, 0], bits: 8, reason: 'an unspecified ("this network") address' },
  { net: [10, 0, 0, 0], bits: 8, reason: 'a private address' },
  { net: [100, 64, 0, 0], bits: 10, reason: 'a carrier-grade NAT address' },
  { net: [127, 0, 0, 0], bits: 8, reason: 'a loopback address' },
  { net: [169, 254, 169, 254], bits: 32, reason: 'a cloud metadata address' },
  { net: [169, 254, 0, 0], bits: 16, reason: 'a link-local address' },
  { net: [172, 16, 0, 0], bits: 12, reason: 'a private address' },
  { net: [192, 0, 0, 0], bits: 24, reason: 'an IETF protocol assignment address' },
  { net: [192, 0, 2, 0], bits: 24, reason: 'a documentation address' },
  { net: [192, 88, 99, 0], bits: 24, reason: 'a 6to4 relay address' },
  { net: [192, 168, 0, 0], bits: 16, reason: 'a private address' },
  { net: [198, 18, 0, 0], bits: 15, reason: 'a benchmarking address' },
  { net: [198, 51, 100, 0], bits: 24, reason: 'a documentation address' },
  { net: [203, 0, 113, 0], bits: 24, reason: 'a documentation address' },
  { net: [224, 0, 0, 0], bits: 4, reason: 'a multicast address' },
  { net: [240, 0, 0, 0], bits: 4, reason: 'a reserved or broadcast address' },
];

function inPrefix(addr: readonly number[], net: readonly number[], bits: number): boolean {
  for (let i = 0; i < net.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((addr[i] as number) & mask) !== ((net[i] as number) & mask)) return false;
  }
  return true;
}

function ipv4Reason(octets: readonly number[]): string | undefined {
  return V4.find((r) => inPrefix(octets, r.net, r.bits))?.reason;
}

function parseIPv6(ip: string): number[] {
  let head = ip;
  let tail: number[] = [];
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    // embedded dotted IPv4 in the last 32 bits
    const v4 = parseIPv4(ip.slice(lastColon + 1));
    tail = [((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number)];
    head = ip.slice(0, lastColon);
    if (head.endsWith(':')) head += ':';
  }
  const words: number[] = [];
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':').map((h) => Number.parseInt(h, 16)) : [];
  if (right === undefined) words.push(...l, ...tail);
  else {
    const r = right ? right.split(':').map((h) => Number.parseInt(h, 16)) : [];
    const zeros = 8 - l.length - r.length - tail.length;
    words.push(...l, ...new Array(zeros).fill(0), ...r, ...tail);
  }
  const bytes: number[] = [];
  for (const w of words) bytes.push((w >> 8) & 0xff, w & 0xff);
  return bytes;
}

interface Range6 {
  net: number[];
  bits: number;
  reason: string;
  /** offset of an embedded IPv4 address to classify as well */
  embedsV4At?: number;
  /** the range only translates: a public embedded IPv4 address makes the whole address public */
  publicIfEmbeddedIs?: boolean;
}

const V6: Range6[] = [
  { net: new Array(16).fill(0), bits: 128, reason: 'the unspecified address' },
  { net: [...new Array(15).fill(0), 1], bits: 128, reason: 'a loopback address' },
  {
    net: [...new Array(10).fill(0), 0xff, 0xff],
    bits: 96,
    reason: 'an IPv4-mapped address',
    embedsV4At: 12,
    publicIfEmbeddedIs: true,
  },
  { net: new Array(12).fill(0), bits: 96, reason: 'an IPv4-compatible address' },
  {
    net: [0, 0x64, 0xff, 0x9b, ...new Array(8).fill(0)],
    bits: 96,
    reason: 'a NAT64 address',
    embedsV4At: 12,
    publicIfEmbeddedIs: true,
  },
  { net: [0, 0x64, 0xff, 0x9b, 0, 1], bits: 48, reason: 'a local NAT64 address' },
  { net: [1, 0, 0, 0, 0, 0, 0, 0], bits: 64, reason: 'a discard-only address' },
  { net: [0x20, 0x01, 0x0d, 0xb8], bits: 32, reason: 'a documentation address' },
  { net: [0x20, 0x01, 0, 0], bits: 23, reason: 'an IETF special-purpose address (Teredo and others)' },
  { net: [0x20, 0x02], bits: 16, reason: 'a 6to4 address', embedsV4At: 2 },
  { net: [0x3f, 0xff], bits: 20, reason: 'a documentation address' },
  { net: [0xfc], bits: 7, reason: 'a unique-local (private) address' },
  { net: [0xfe, 0x80], bits: 10, reason: 'a link-local address' },
  { net: [0xfe, 0xc0], bits: 10, reason: 'a site-local address' },
  { net: [0xff], bits: 8, reason: 'a multicast address' },
];

function ipv6Reason(bytes: readonly number[]): string | undefined {
  for (const r of V6) {
    if (!inPrefix(bytes, r.net, r.bits)) continue;
    if (r.embedsV4At !== undefined) {
      const v4 = bytes.slice(r.embedsV4At, r.embedsV4At + 4);
      const inner = ipv4Reason(v4);
      if (inner) return `${r.reason} of ${inner}`;
      return r.publicIfEmbeddedIs ? undefined : r.reason;
    }
    return r.reason;
  }
  return undefined;
}
