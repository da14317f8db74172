import { describe, expect, it } from 'vitest';
import { nonPublicReason } from './address-policy.js';

describe('nonPublicReason', () => {
  it('passes public unicast addresses', () => {
    for (const ip of [
      '93.184.216.34',
      '1.1.1.1',
      '8.8.8.8',
      '2606:4700:4700::1111',
      '2a00:1450:4001:82a::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ]) {
      expect(nonPublicReason(ip), ip).toBeUndefined();
    }
  });

  it('names loopback, private, link-local, metadata and other non-public IPv4 ranges', () => {
    const cases: Array<[string, RegExp]> = [
      ['127.0.0.1', /loopback/],
      ['127.255.255.254', /loopback/],
      ['10.0.0.1', /private/],
      ['172.16.0.1', /private/],
      ['172.31.255.255', /private/],
      ['192.168.1.1', /private/],
      ['169.254.169.254', /metadata/],
      ['169.254.1.1', /link-local/],
      ['100.64.0.1', /carrier-grade NAT/],
      ['100.100.100.200', /carrier-grade NAT/],
      ['0.0.0.0', /unspecified/],
      ['224.0.0.1', /multicast/],
      ['255.255.255.255', /reserved or broadcast/],
      ['192.0.2.1', /documentation/],
      ['198.18.0.1', /benchmarking/],
    ];
    for (const [ip, reason] of cases) expect(nonPublicReason(ip), ip).toMatch(reason);
    expect(nonPublicReason('172.32.0.1')).toBeUndefined();
    expect(nonPublicReason('100.128.0.1')).toBeUndefined();
  });

  it('names non-public IPv6 ranges and IPv6 forms that embed a non-public IPv4 address', () => {
    const cases: Array<[string, RegExp]> = [
      ['::1', /loopback/],
      ['::', /unspecified/],
      ['fe80::1', /link-local/],
      ['fe80::1%eth0', /link-local/],
      ['fd00:ec2::254', /unique-local/],
      ['fc00::1', /unique-local/],
      ['ff02::1', /multicast/],
      ['::ffff:127.0.0.1', /IPv4-mapped address of a loopback/],
      ['::ffff:7f00:1', /IPv4-mapped address of a loopback/],
      ['::ffff:169.254.169.254', /metadata/],
      ['::127.0.0.1', /IPv4-compatible/],
      ['64:ff9b::7f00:1', /NAT64 address of a loopback/],
      ['2002:7f00:1::', /6to4 address of a loopback/],
      ['2002:808:808::', /6to4/],
      ['2001:db8::1', /documentation/],
      ['2001::1', /Teredo/],
    ];
    for (const [ip, reason] of cases) expect(nonPublicReason(ip), ip).toMatch(reason);
  });

  it('refuses what is not an IP address', () => {
    expect(nonPublicReason('localhost')).toMatch(/not an IP address/);
    expect(nonPublicReason('2130706433')).toMatch(/not an IP address/);
  });
});
