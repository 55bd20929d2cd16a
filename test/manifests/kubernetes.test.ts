// biome-ignore-all lint/suspicious/noExplicitAny: the manifests are untyped YAML, read field by field after schema validation
/**
 * Goal: every Kubernetes manifest in the repo (kubetester/kubeyamls, deploy/kubernetes) is valid
 * against the Kubernetes 1.27 API schemas and internally consistent, without a cluster.
 * Method: parse each YAML document with `yaml`, validate it with `kubernetes-models` (the OpenAPI
 * JSON schemas of the API types, strict about unknown fields), then check cross-references the
 * schemas cannot see: Service and PDB selectors select a workload's pod labels, Service target
 * ports and probe ports are container ports, the names the gateway dials are Services with the
 * right type and port, and tsetcd's --initial-cluster names the StatefulSet's stable pod DNS names.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { FLAGS } from '../../src/cli/flags.js';
import { repoRoot } from '../helpers/util.js';

/** One parsed document: where it came from and its plain object. */
interface Doc {
  file: string;
  obj: { apiVersion: string; kind: string; metadata: { name: string }; spec: any };
}

/** The API types our manifests may use, each with its schema-validating model. */
const MODELS: Record<string, new (obj: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function loadDir(dir: string): Doc[] {
  const docs: Doc[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.yaml')) continue;
    const file = join(dir, name);
    for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      docs.push({ file, obj: d.toJS() });
    }
  }
  assert.ok(docs.length > 0, `no manifests in ${dir}`);
  return docs;
}

/** Throws with the schema's complaint when `doc` is not a valid object of its kind. */
function validateSchema(doc: Doc): void {
  const Model = MODELS[`${doc.obj.apiVersion}/${doc.obj.kind}`];
  assert.ok(Model, `${doc.file}: no schema model for ${doc.obj.apiVersion} ${doc.obj.kind}`);
  new Model(doc.obj).validate();
}

function find(docs: Doc[], kind: string, name: string): Doc['obj'] {
  const d = docs.find((x) => x.obj.kind === kind && x.obj.metadata.name === name);
  assert.ok(d, `no ${kind} ${name}`);
  return d.obj;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const WORKLOADS = ['Deployment', 'StatefulSet'];

/**
 * Checks every cross-reference the schemas cannot: workload selector vs template labels, each
 * Service's and PDB's selector selects exactly one workload, target ports and probe ports are
 * container ports (by number or name). Returns the workload each Service selects.
 */
function checkReferences(docs: Doc[]): Map<string, Doc['obj']> {
  const workloads = docs.filter((d) => WORKLOADS.includes(d.obj.kind)).map((d) => d.obj);
  for (const w of workloads) {
    const labels = w.spec.template.metadata.labels;
    assert.ok(
      selects(w.spec.selector.matchLabels, labels),
      `${w.metadata.name}: selector misses its own pods`,
    );
    for (const c of w.spec.template.spec.containers) {
      const ports = c.ports ?? [];
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        if (!probe?.httpGet) continue;
        const p = probe.httpGet.port;
        assert.ok(
          ports.some((cp: any) => cp.containerPort === p || cp.name === p),
          `${w.metadata.name}: probe port ${p} is not a container port`,
        );
      }
    }
  }
  const selected = new Map<string, Doc['obj']>();
  for (const d of docs.filter((x) => x.obj.kind === 'Service' || x.obj.kind === 'PodDisruptionBudget')) {
    const sel = d.obj.kind === 'Service' ? d.obj.spec.selector : d.obj.spec.selector.matchLabels;
    const hits = workloads.filter((w) => selects(sel, w.spec.template.metadata.labels));
    assert.equal(hits.length, 1, `${d.obj.kind} ${d.obj.metadata.name} selects ${hits.length} workloads`);
    const w = hits[0]!;
    if (d.obj.kind === 'Service') {
      selected.set(d.obj.metadata.name, w);
      const cports = w.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []);
      for (const sp of d.obj.spec.ports) {
        const t = sp.targetPort ?? sp.port;
        assert.ok(
          cports.some((cp: any) => cp.containerPort === t || cp.name === t),
          `Service ${d.obj.metadata.name}: targetPort ${t} is not a port of ${w.metadata.name}`,
        );
      }
    }
  }
  return selected;
}

function envOf(w: Doc['obj'], name: string): string | undefined {
  return w.spec.template.spec.containers[0].env?.find((e: any) => e.name === name)?.value;
}

describe('kubetester/kubeyamls (seed 001)', () => {
  const docs = loadDir(join(repoRoot(), 'kubetester', 'kubeyamls'));

  test('every document is valid against the Kubernetes API schema', () => {
    for (const d of docs) validateSchema(d);
  });

  test('three Deployments of 3 replicas on the seed ports, Services as the seed has them', () => {
    const ports: Record<string, number> = { hellogrpc: 8000, hellohttp: 8100, helloserve: 8200 };
    for (const [name, port] of Object.entries(ports)) {
      const dep = find(docs, 'Deployment', name);
      assert.equal(dep.spec.replicas, 3, name);
      assert.equal(dep.spec.template.spec.containers[0].ports[0].containerPort, port, name);
    }
    const grpc = find(docs, 'Service', 'grpc-svc');
    assert.equal(grpc.spec.clusterIP, 'None', 'grpc-svc is headless');
    assert.deepEqual(
      grpc.spec.ports.map((p: any) => [p.port, p.targetPort]),
      [[8000, 8000]],
    );
    const http = find(docs, 'Service', 'http-svc');
    assert.equal(http.spec.type, 'ClusterIP');
    assert.deepEqual(
      http.spec.ports.map((p: any) => [p.port, p.targetPort]),
      [[80, 8100]],
    );
    const serve = find(docs, 'Service', 'serve-svc');
    assert.equal(serve.spec.type, 'LoadBalancer');
    assert.deepEqual(
      serve.spec.ports.map((p: any) => [p.port, p.targetPort]),
      [[80, 8200]],
    );
  });

  test('selectors, ports and the names the gateway dials all line up', () => {
    const selected = checkReferences(docs);
    assert.equal(selected.get('grpc-svc')?.metadata.name, 'hellogrpc');
    assert.equal(selected.get('http-svc')?.metadata.name, 'hellohttp');
    assert.equal(selected.get('serve-svc')?.metadata.name, 'helloserve');
    const gw = find(docs, 'Deployment', 'helloserve');
    // dns:///grpc-svc:8000 -> a headless Service of that name with that port.
    const target = /^dns:\/\/\/([a-z0-9-]+):(\d+)$/.exec(envOf(gw, 'GRPC_TARGET') ?? '');
    assert.ok(target, 'GRPC_TARGET is dns:///name:port');
    const gsvc = find(docs, 'Service', target[1]!);
    assert.equal(gsvc.spec.clusterIP, 'None', 'round_robin needs every pod IP: a headless Service');
    assert.ok(gsvc.spec.ports.some((p: any) => p.port === Number(target[2])));
    assert.equal(envOf(gw, 'GRPC_POLICY'), 'round_robin');
    // http://http-svc/hellohttp -> a Service of that name on port 80.
    const url = new URL(envOf(gw, 'HTTP_URL') ?? '');
    const hsvc = find(docs, 'Service', url.hostname);
    assert.ok(hsvc.spec.ports.some((p: any) => p.port === Number(url.port || 80)));
    assert.equal(url.pathname, '/hellohttp');
  });
});

describe('deploy/kubernetes (tsetcd StatefulSet)', () => {
  const docs = loadDir(join(repoRoot(), 'deploy', 'kubernetes'));

  test('every document is valid against the Kubernetes API schema', () => {
    for (const d of docs) validateSchema(d);
  });

  test('selectors and ports line up; the PDB keeps quorum', () => {
    checkReferences(docs);
    const sts = find(docs, 'StatefulSet', 'tsetcd');
    const pdb = find(docs, 'PodDisruptionBudget', 'tsetcd');
    const quorum = Math.floor(sts.spec.replicas / 2) + 1;
    assert.ok(pdb.spec.maxUnavailable <= sts.spec.replicas - quorum, 'a drain must not break quorum');
  });

  test('--initial-cluster names the StatefulSet pods by their headless-Service DNS names', () => {
    const sts = find(docs, 'StatefulSet', 'tsetcd');
    const headless = find(docs, 'Service', sts.spec.serviceName);
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true, 'peers must resolve before they are ready');
    assert.equal(sts.spec.podManagementPolicy, 'Parallel', 'a member is not ready until a quorum runs');
    const c = sts.spec.template.spec.containers[0];
    const args = new Map<string, string>(
      c.args.map((a: string) => {
        const m = /^--([a-z0-9-]+)=(.*)$/.exec(a);
        assert.ok(m, `arg ${a} is --flag=value`);
        return [m[1]!, m[2]!];
      }),
    );
    const portOf = (name: string) => c.ports.find((p: any) => p.name === name).containerPort;
    const peerHost = (pod: string) => `${pod}.${headless.metadata.name}.$(POD_NAMESPACE).svc`;
    const expected = Array.from({ length: sts.spec.replicas }, (_, i) => {
      const pod = `${sts.metadata.name}-${i}`;
      return `${pod}=https://${peerHost(pod)}:${portOf('peer')}`;
    });
    assert.equal(args.get('initial-cluster'), expected.join(','));
    assert.equal(args.get('name'), '$(POD_NAME)');
    assert.equal(
      args.get('initial-advertise-peer-urls'),
      `https://${peerHost('$(POD_NAME)')}:${portOf('peer')}`,
    );
    assert.equal(args.get('advertise-client-urls'), `https://${peerHost('$(POD_NAME)')}:${portOf('client')}`);
    assert.equal(new URL(args.get('listen-client-urls')!).port, String(portOf('client')));
    assert.equal(new URL(args.get('listen-peer-urls')!).port, String(portOf('peer')));
    const env = new Map(c.env.map((e: any) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.get('POD_NAME'), 'metadata.name');
    assert.equal(env.get('POD_NAMESPACE'), 'metadata.namespace');
    // Probes: /readyz and /livez on the plain-HTTP metrics listener.
    assert.equal(new URL(args.get('listen-metrics-urls')!).port, String(portOf('metrics')));
    assert.equal(new URL(args.get('listen-metrics-urls')!).protocol, 'http:');
    assert.deepEqual([c.readinessProbe.httpGet.path, c.readinessProbe.httpGet.port], ['/readyz', 'metrics']);
    assert.deepEqual([c.livenessProbe.httpGet.path, c.livenessProbe.httpGet.port], ['/livez', 'metrics']);
    // Every flag is one of etcd's (tsetcd's flag table), with a value of its kind.
    for (const [name, value] of args) {
      const spec = FLAGS.find((f) => f.name === name);
      assert.ok(spec, `--${name} is not an etcd flag`);
      if (spec.kind === 'bool') assert.match(value, /^(true|false)$/, `--${name}`);
    }
    // TLS files live in mounted Secret volumes; data lives on the claim.
    const mounts = new Map<string, string>(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    const volumes = new Map<string, any>(sts.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    for (const flag of [
      'trusted-ca-file',
      'cert-file',
      'key-file',
      'peer-trusted-ca-file',
      'peer-cert-file',
      'peer-key-file',
    ]) {
      const file = args.get(flag);
      assert.ok(file, `--${flag} set`);
      const dir = file.slice(0, file.lastIndexOf('/'));
      const vol = volumes.get(mounts.get(dir) ?? '');
      assert.ok(vol?.secret?.secretName, `--${flag} ${file} is not in a mounted Secret`);
    }
    const claims = sts.spec.volumeClaimTemplates.map((v: any) => v.metadata.name);
    const dataMount = [...mounts].find(([path]) => args.get('data-dir')!.startsWith(`${path}/`));
    assert.ok(dataMount && claims.includes(dataMount[1]), '--data-dir is on a PersistentVolumeClaim');
  });
});
