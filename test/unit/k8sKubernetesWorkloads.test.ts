import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesWorkloads } from '../../shared/adapters/k8s/kubernetesWorkloads.ts';
import type { WorkloadTarget } from '../../shared/domain/policy.ts';
import { targetById } from '../../shared/domain/policyLookups.ts';
import { RetryableScalingError } from '../../shared/errors.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
// Points every AWS client at a closed loopback port, so the EKS path cannot reach AWS.
import '../support/awsClients.ts';

const policy = loadPolicyFile('policy.yaml');
const app = targetById(policy, 'app') as WorkloadTarget;

// Port 9 (discard) on loopback refuses connections.
const KUBECONFIG_TEXT = `apiVersion: v1
kind: Config
clusters: [{ name: local, cluster: { server: "https://127.0.0.1:9" } }]
users: [{ name: local, user: { token: local-token } }]
contexts: [{ name: local, context: { cluster: local, user: local } }]
current-context: local
`;

/** A second file KUBECONFIG may list; its current-context must not override the first file's. */
const SECOND_KUBECONFIG_TEXT = `apiVersion: v1
kind: Config
clusters: [{ name: second, cluster: { server: "https://127.0.0.1:7" } }]
users: [{ name: second, user: { token: second-token } }]
contexts: [{ name: second, context: { cluster: second, user: second } }]
current-context: second
`;

describe('Function: kubernetesWorkloads', () => {
  let dir: string;
  let kubeconfig: string;
  let second: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-workloads-'));
    kubeconfig = join(dir, 'config');
    await writeFile(kubeconfig, KUBECONFIG_TEXT);
    second = join(dir, 'second');
    await writeFile(second, SECOND_KUBECONFIG_TEXT);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { way: 'the kubeconfig KUBECONFIG names', env: () => ({ KUBECONFIG: kubeconfig }), message: 'get deployments/scale of Deployment ml/app: API server unreachable (ECONNREFUSED)' },
    { way: "the first kubeconfig's context, as kubectl merges them", env: () => ({ KUBECONFIG: [kubeconfig, second].join(delimiter) }), message: 'ECONNREFUSED 127.0.0.1:9' },
    { way: 'EKS (DescribeCluster, then a signed token) without KUBECONFIG', env: () => ({}), message: 'describe of EKS cluster tensafe-prod' },
  ])('reaches the cluster through $way', async ({ env, message }) => {
    // Prepare
    const workloads = kubernetesWorkloads(policy, env());

    // Act
    const size = workloads.current(app);

    // Assess: both ends are closed loopback ports; the error shows which way was taken
    await expect(size).rejects.toThrow(RetryableScalingError);
    await expect(size).rejects.toThrow(message);
  });
});
