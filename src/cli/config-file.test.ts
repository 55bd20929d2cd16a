/**
 * Goal: `--config-file` reads etcd's YAML configuration as etcd 3.4 does.
 * Method: table tests of the YAML-to-flags mapping (plain keys, the two transport-security blocks,
 * lists, nanosecond durations, nulls, wrong types with Go's error text); the end-to-end check that
 * tsetcd and real etcd start from the same file is test/e2e/config-file.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConfig } from './config.js';
import { configFileArgs } from './config-file.js';
import { parseFlags } from './flags.js';

describe('configFileArgs', () => {
  it('maps keys to flags, TLS blocks to their flags, lists and durations', () => {
    const { args, warnings } = configFileArgs(`
name: infra1
data-dir: /var/lib/etcd
heartbeat-interval: 250
election-timeout: 2000
strict-reconfig-check: false
initial-cluster-token:
cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
grpc-keepalive-min-time: 5000000000
max-concurrent-streams: 100
client-transport-security:
  cert-file: /c.pem
  client-cert-auth: true
  auto-tls: false
peer-transport-security:
  key-file: /k.pem
  trusted-ca-file: /ca.pem
  crl-file: /r.crl
unknown-thing: 1
`);
    assert.deepEqual(args, [
      '--name=infra1',
      '--data-dir=/var/lib/etcd',
      '--heartbeat-interval=250',
      '--election-timeout=2000',
      '--strict-reconfig-check=false',
      '--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      '--grpc-keepalive-min-time=5000000000ns',
      '--max-concurrent-streams=100',
      '--cert-file=/c.pem',
      '--client-cert-auth=true',
      '--auto-tls=false',
      '--peer-key-file=/k.pem',
      '--peer-trusted-ca-file=/ca.pem',
    ]);
    assert.deepEqual(warnings, [
      'configuration key "peer-transport-security.crl-file" is not known to etcd 3.4; ignored',
      'configuration key "unknown-thing" is not known to tsetcd; ignored',
    ]);
  });

  it('gives Go’s errors for wrong types and bad YAML', () => {
    const cases: [string, RegExp][] = [
      [
        'heartbeat-interval: "100"',
        /error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.heartbeat-interval of type uint$/,
      ],
      ['name: 3', /cannot unmarshal number into Go struct field configYAML.name of type string/],
      ['enable-v2: "yes"', /cannot unmarshal string into Go struct field configYAML.enable-v2 of type bool/],
      ['grpc-keepalive-min-time: 5s', /of type time.Duration/],
      ['cipher-suites: TLS_X', /of type \[\]string/],
      ['name: [x', /error converting YAML to JSON: /],
      ['- a', /cannot unmarshal non-object/],
    ];
    for (const [text, re] of cases) assert.throws(() => configFileArgs(text), re, text);
    assert.deepEqual(configFileArgs('').args, []);
  });

  it('gives the same member configuration as the same flags', () => {
    const yaml = `
name: m1
listen-client-urls: http://127.0.0.1:1379
advertise-client-urls: http://127.0.0.1:1379
listen-peer-urls: http://127.0.0.1:1380
initial-advertise-peer-urls: http://127.0.0.1:1380
initial-cluster: m1=http://127.0.0.1:1380
snapshot-count: 5000
auto-compaction-retention: "1h"
`;
    const fromFile = buildConfig(parseFlags(configFileArgs(yaml).args, {}));
    const fromFlags = buildConfig(
      parseFlags(
        [
          '--name=m1',
          '--listen-client-urls=http://127.0.0.1:1379',
          '--advertise-client-urls=http://127.0.0.1:1379',
          '--listen-peer-urls=http://127.0.0.1:1380',
          '--initial-advertise-peer-urls=http://127.0.0.1:1380',
          '--initial-cluster=m1=http://127.0.0.1:1380',
          '--snapshot-count=5000',
          '--auto-compaction-retention=1h',
        ],
        {},
      ),
    );
    assert.deepEqual(fromFile, fromFlags);
    assert.equal(fromFile.member.snapshotCount, 5000);
  });
});
