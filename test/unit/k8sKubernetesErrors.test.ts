import { ApiException } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { callKubernetes, type KubeCall, REQUEST_TIMEOUT_MS, scalingErrorOf } from '../../shared/adapters/k8s/kubernetesErrors.ts';
import { PermanentScalingError, RetryableScalingError } from '../../shared/errors.ts';

const PATCH_SCALE: KubeCall = { target: 'worker-llm', verb: 'patch', resource: 'deployments/scale', kind: 'Deployment', namespace: 'ml', name: 'worker-llm' };

/** A failed call as client-node reports it: the status, and the API server's Status as text. */
const http = (code: number, message?: string): ApiException<unknown> =>
  new ApiException(code, 'Unknown API Status Code!', message === undefined ? undefined : JSON.stringify({ kind: 'Status', message, code }), {});

const system = (code: string): Error => Object.assign(new Error(`request to https://127.0.0.1:6443 failed, reason: ${code}`), { name: 'FetchError', code });

describe('Function: scalingErrorOf', () => {
  it.each([
    {
      case: 'a missing Deployment (404)',
      error: http(404, 'deployments.apps "worker-llm" not found'),
      kind: PermanentScalingError,
      message: 'target "worker-llm": Deployment ml/worker-llm not found (404)',
    },
    {
      case: 'RBAC denial (403)',
      error: http(403, 'deployments.apps "worker-llm" is forbidden: User "gpu-autoscaler" cannot patch resource "deployments/scale" in API group "apps" in the namespace "ml"'),
      kind: PermanentScalingError,
      message: 'forbidden (403): Kubernetes user "gpu-autoscaler" may not patch deployments/scale "worker-llm" in namespace "ml"',
    },
    {
      case: 'credentials EKS does not map (401)',
      error: http(401),
      kind: PermanentScalingError,
      message: 'access entry mapping it to Kubernetes user gpu-autoscaler',
    },
    {
      case: 'an invalid body (422)',
      error: http(422, 'spec.replicas: Invalid value: -1'),
      kind: PermanentScalingError,
      message: 'rejected (422): spec.replicas: Invalid value: -1',
    },
    { case: 'a conflict (409)', error: http(409, 'the object has been modified'), kind: RetryableScalingError, message: 'conflicted with another change (409)' },
    { case: 'throttling (429)', error: http(429, 'too many requests'), kind: RetryableScalingError, message: 'throttled by the API server (429)' },
    { case: 'a server fault (500)', error: http(500, 'etcdserver: leader changed'), kind: RetryableScalingError, message: 'API server error 500: etcdserver: leader changed' },
    { case: 'an unavailable server (503)', error: http(503, 'the server is shutting down'), kind: RetryableScalingError, message: 'API server error 503' },
    { case: 'connection refused', error: system('ECONNREFUSED'), kind: RetryableScalingError, message: 'API server unreachable (ECONNREFUSED)' },
    { case: 'a connect timeout', error: system('ETIMEDOUT'), kind: RetryableScalingError, message: 'API server unreachable (ETIMEDOUT)' },
    { case: 'a dropped connection', error: system('ECONNRESET'), kind: RetryableScalingError, message: 'API server unreachable (ECONNRESET)' },
    {
      case: 'a certificate the CA did not sign',
      error: system('UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
      kind: PermanentScalingError,
      message: 'reason: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    },
  ])('maps $case', ({ error, kind, message }) => {
    // Prepare: PATCH_SCALE

    // Act
    const mapped = scalingErrorOf(error, PATCH_SCALE);

    // Assess
    expect(mapped).toBeInstanceOf(kind);
    expect(mapped.message).toContain(message);
    expect(mapped.cause).toBe(error);
  });

  it('names the namespace of a denied list', () => {
    // Prepare
    const list: KubeCall = { target: 'app', verb: 'list', resource: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', namespace: 'other' };
    const denial = http(403, 'horizontalpodautoscalers.autoscaling is forbidden: User "gpu-autoscaler" cannot list resource "horizontalpodautoscalers" in API group "autoscaling" in the namespace "other"');

    // Act
    const mapped = scalingErrorOf(denial, list);

    // Assess
    expect(mapped.message).toBe(
      'target "app": forbidden (403): Kubernetes user "gpu-autoscaler" may not list horizontalpodautoscalers in namespace "other"; ' +
        'render infra/k8s/rbac.yaml from this policy (npm run render) and apply it: its Role in namespace "other" names each Deployment and HPA the policy scales there',
    );
  });

  it('passes a scaling error through unchanged', () => {
    // Prepare
    const error = new PermanentScalingError('already explained');

    // Act
    const mapped = scalingErrorOf(error, PATCH_SCALE);

    // Assess
    expect(mapped).toBe(error);
  });
});

describe('Function: callKubernetes', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives up on a call that does not answer in time, as retryable', async () => {
    // Prepare
    vi.useFakeTimers();
    const hanging = callKubernetes(PATCH_SCALE, () => new Promise<never>(() => undefined));
    const outcome = expect(hanging).rejects.toThrow(RetryableScalingError);

    // Act
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS);

    // Assess
    await outcome;
    await expect(hanging).rejects.toThrow(`no answer from the API server within ${REQUEST_TIMEOUT_MS} ms`);
  });

  it('returns what the call returns', async () => {
    // Prepare
    const send = async () => ({ spec: { replicas: 3 } });

    // Act
    const scale = await callKubernetes(PATCH_SCALE, send);

    // Assess
    expect(scale.spec.replicas).toBe(3);
  });
});
