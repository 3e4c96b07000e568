import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  AppsV1Api,
  AuthenticationV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  loadAllYaml,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { KubernetesObject, V1Deployment, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer } from './setup/kubeApiServer.ts';
import type { KubeApiServer } from './setup/kubeApiServer.ts';

// The policy's first cluster holds `ml` and `tensafe`; hsof has a cluster of its own.
const RBAC_YAML = join(dirname(fileURLToPath(import.meta.url)), '../../../infra/k8s/rbac.tensafe-prod.yaml');
const HSOF_RBAC_YAML = join(dirname(fileURLToPath(import.meta.url)), '../../../infra/k8s/rbac.hsof-cluster.yaml');
const BOUND_NS = 'ml';
// The namespaces of the shipped policy's workloads, each with its own Role and RoleBinding.
const POLICY_NS = [BOUND_NS, 'tensafe', 'medical-kg', 'hsof'];
const UNBOUND_NS = 'other';
// A Deployment the policy names in `ml` only, and an HPA of the same name, created in every namespace.
const NAME = 'worker-llm';
// The HPA the policy names in `hsof`.
const POLICY_HPA = { name: 'hsof-main', namespace: 'hsof' };

// client-node 1.x picks the first content type a patch endpoint accepts, which is JSON Patch;
// the scaler sends merge patches, so every patch call carries this.
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const deployment = (namespace: string): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: NAME, namespace, labels: { app: NAME } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: NAME } },
    template: {
      metadata: { labels: { app: NAME } },
      spec: { containers: [{ name: 'worker', image: 'registry.invalid/worker-llm:1' }] },
    },
  },
});

const hpa = (namespace: string, name = NAME): V2HorizontalPodAutoscaler => ({
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: { name, namespace },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: NAME },
    minReplicas: 1,
    maxReplicas: 8,
    metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
  },
});

/** The HTTP status a call ends with, so denials read as plain numbers in assertions. */
const statusOf = async (call: Promise<unknown>): Promise<number> => {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
};

describe('kube-apiserver with the scaler RBAC', () => {
  let kube: KubeApiServer | undefined;
  let admin: { core: CoreV1Api; apps: AppsV1Api; hpa: AutoscalingV2Api };
  let scaler: { apps: AppsV1Api; hpa: AutoscalingV2Api; authn: AuthenticationV1Api };

  beforeAll(async () => {
    const started = Date.now();
    kube = await startKubeApiServer();
    process.stderr.write(`[apiserver.smoke] server up in ${Date.now() - started} ms (includes any build)\n`);

    const adminKc = kube.kubeConfig(kube.adminToken);
    admin = {
      core: adminKc.makeApiClient(CoreV1Api),
      apps: adminKc.makeApiClient(AppsV1Api),
      hpa: adminKc.makeApiClient(AutoscalingV2Api),
    };
    const scalerKc = kube.kubeConfig(kube.scalerToken);
    scaler = {
      apps: scalerKc.makeApiClient(AppsV1Api),
      hpa: scalerKc.makeApiClient(AutoscalingV2Api),
      authn: scalerKc.makeApiClient(AuthenticationV1Api),
    };

    for (const namespace of [...POLICY_NS, UNBOUND_NS]) {
      await admin.core.createNamespace({ body: { metadata: { name: namespace } } });
    }
    const objects = KubernetesObjectApi.makeApiClient(adminKc);
    const docs: KubernetesObject[] = [...loadAllYaml(await readFile(RBAC_YAML, 'utf8')), ...loadAllYaml(await readFile(HSOF_RBAC_YAML, 'utf8'))];
    // A Role and its binding per namespace, and for the cluster with GPU pools a ClusterRole to list nodes.
    expect(docs.filter((doc) => doc.metadata?.namespace !== undefined).map((doc) => `${doc.kind}/${doc.metadata?.namespace}`)).toEqual(
      POLICY_NS.flatMap((namespace) => [`Role/${namespace}`, `RoleBinding/${namespace}`]),
    );
    expect(docs.filter((doc) => doc.metadata?.namespace === undefined).map((doc) => doc.kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    for (const doc of docs) await objects.create(doc);

    // Both namespaces hold the same objects, so a denial in `other` can only come from RBAC.
    for (const namespace of [...POLICY_NS, UNBOUND_NS]) {
      await admin.apps.createNamespacedDeployment({ namespace, body: deployment(namespace) });
      await admin.hpa.createNamespacedHorizontalPodAutoscaler({ namespace, body: hpa(namespace) });
    }
    await admin.hpa.createNamespacedHorizontalPodAutoscaler({ namespace: POLICY_HPA.namespace, body: hpa(POLICY_HPA.namespace, POLICY_HPA.name) });
  });

  afterAll(async () => {
    await kube?.stop();
  });

  it('authenticates the scaler token as gpu-autoscaler with no groups of its own', async () => {
    const review = await scaler.authn.createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('gpu-autoscaler');
    expect(review.status?.userInfo?.groups).toEqual(['system:authenticated']);
  });

  it('lets the scaler read and merge-patch the deployment scale subresource in its namespace', async () => {
    const before = await scaler.apps.readNamespacedDeploymentScale({ name: NAME, namespace: BOUND_NS });
    expect(before.spec?.replicas).toBe(2);

    const after = await scaler.apps.patchNamespacedDeploymentScale(
      { name: NAME, namespace: BOUND_NS, body: { spec: { replicas: 5 } } },
      mergePatch,
    );
    expect(after.spec?.replicas).toBe(5);

    const stored = await admin.apps.readNamespacedDeployment({ name: NAME, namespace: BOUND_NS });
    expect(stored.spec?.replicas).toBe(5);
  });

  it('rejects an object body sent with the default patch content type', async () => {
    // Pins the reason `mergePatch` exists: without it the body goes out as JSON Patch, which must be an array.
    const status = await statusOf(
      scaler.apps.patchNamespacedDeploymentScale({ name: NAME, namespace: BOUND_NS, body: { spec: { replicas: 7 } } }),
    );
    expect(status).toBe(400);
  });

  it('keeps the scaler away from the deployment object itself: it neither reads nor changes it', async () => {
    expect(await statusOf(scaler.apps.readNamespacedDeployment({ name: NAME, namespace: BOUND_NS }))).toBe(403);
    const newImage = { spec: { template: { spec: { containers: [{ name: 'worker', image: 'evil' }] } } } };
    const status = await statusOf(
      scaler.apps.patchNamespacedDeployment({ name: NAME, namespace: BOUND_NS, body: newImage }, mergePatch),
    );
    expect(status).toBe(403);
  });

  it('lets the scaler merge-patch the minReplicas of the HPA the policy names', async () => {
    const patched = await scaler.hpa.patchNamespacedHorizontalPodAutoscaler(
      { ...POLICY_HPA, body: { spec: { minReplicas: 3 } } },
      mergePatch,
    );
    expect(patched.spec?.minReplicas).toBe(3);
    expect(patched.spec?.maxReplicas).toBe(8);

    const stored = await admin.hpa.readNamespacedHorizontalPodAutoscaler(POLICY_HPA);
    expect(stored.spec?.minReplicas).toBe(3);
  });

  it('forbids the objects the policy does not name, in the namespaces it covers, but lets it list HPAs beside its Deployments', async () => {
    // tensafe's Role names tensafe-server and tensafe-training-worker; ml's names no HPA; hsof's names hsof-main only.
    const scaleOf = { name: NAME, namespace: 'tensafe' };
    expect(await statusOf(scaler.apps.readNamespacedDeploymentScale(scaleOf))).toBe(403);
    expect(await statusOf(scaler.apps.patchNamespacedDeploymentScale({ ...scaleOf, body: { spec: { replicas: 5 } } }, mergePatch))).toBe(403);
    expect(await statusOf(scaler.hpa.patchNamespacedHorizontalPodAutoscaler({ name: NAME, namespace: BOUND_NS, body: { spec: { minReplicas: 3 } } }, mergePatch))).toBe(403);
    expect(await statusOf(scaler.hpa.readNamespacedHorizontalPodAutoscaler({ name: NAME, namespace: 'hsof' }))).toBe(403);
    expect(await statusOf(scaler.hpa.listNamespacedHorizontalPodAutoscaler({ namespace: BOUND_NS }))).toBe(200);

    expect((await admin.apps.readNamespacedDeploymentScale(scaleOf)).spec?.replicas).toBe(2);
    expect((await admin.hpa.readNamespacedHorizontalPodAutoscaler({ name: NAME, namespace: BOUND_NS })).spec?.minReplicas).toBe(1);
  });

  it('forbids the same calls in a namespace without a RoleBinding', async () => {
    const where = { name: NAME, namespace: UNBOUND_NS };
    expect(await statusOf(scaler.apps.readNamespacedDeploymentScale(where))).toBe(403);
    expect(
      await statusOf(
        scaler.apps.patchNamespacedDeploymentScale({ ...where, body: { spec: { replicas: 5 } } }, mergePatch),
      ),
    ).toBe(403);
    expect(
      await statusOf(
        scaler.hpa.patchNamespacedHorizontalPodAutoscaler({ ...where, body: { spec: { minReplicas: 3 } } }, mergePatch),
      ),
    ).toBe(403);

    const untouched = await admin.apps.readNamespacedDeploymentScale(where);
    expect(untouched.spec?.replicas).toBe(2);
    const untouchedHpa = await admin.hpa.readNamespacedHorizontalPodAutoscaler(where);
    expect(untouchedHpa.spec?.minReplicas).toBe(1);
  });
});
