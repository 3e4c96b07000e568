import { ApiException } from '@kubernetes/client-node';
import * as z from '../../domain/zod.ts';
import { isTransientNetworkError, PermanentScalingError, RetryableScalingError } from '../../errors.ts';

/** One call to the API server, as RBAC sees it, for the messages of its failures. */
export interface KubeCall {
  /** The policy target the call is for. */
  target: string;
  verb: 'get' | 'list' | 'patch';
  /** The RBAC resource: `deployments/scale`, `horizontalpodautoscalers`. */
  resource: string;
  kind: 'Deployment' | 'HorizontalPodAutoscaler' | 'PodDisruptionBudget' | 'Node';
  /** Absent for a cluster-scoped resource (nodes). */
  namespace?: string;
  /** Absent for a list. */
  name?: string;
}

/**
 * The longest one API call may take. The client sets no timeout of its own, and a call that
 * hangs until the Lambda times out would fail the whole batch instead of one intent.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

/** The `Status` object the API server sends with an error. */
const statusSchema = z.object({ message: z.string() });

const serverMessage = (body: unknown): string => {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 300);
    }
  }
  const status = statusSchema.safeParse(parsed);
  return status.success ? status.data.message : '';
};

/** RBAC's denial names the user: `User "gpu-autoscaler" cannot patch resource ...`. */
const deniedUser = (message: string): string => /User "([^"]+)"/.exec(message)?.[1] ?? 'the scaler';

const objectOf = (call: KubeCall): string => {
  if (call.namespace === undefined) return `${call.kind}s`;
  return call.name === undefined ? `${call.kind}s in namespace ${call.namespace}` : `${call.kind} ${call.namespace}/${call.name}`;
};

const httpFailure = (error: ApiException<unknown>, call: KubeCall): Error => {
  const prefix = `target "${call.target}": ${call.verb} ${call.resource} of ${objectOf(call)}`;
  const detail = serverMessage(error.body);
  const options = { cause: error };
  if (error.code === 404) {
    return new PermanentScalingError(`target "${call.target}": ${objectOf(call)} not found (404); create it or correct the target's namespace and name`, options);
  }
  if (error.code === 403 && call.namespace === undefined) {
    return new PermanentScalingError(
      `target "${call.target}": forbidden (403): Kubernetes user "${deniedUser(detail)}" may not ${call.verb} ${call.resource}; render infra/k8s/rbac.yaml ` +
        `from this policy (npm run render) and apply it: its ClusterRole lets the scaler list ${call.resource}`,
      options,
    );
  }
  if (error.code === 403) {
    return new PermanentScalingError(
      `target "${call.target}": forbidden (403): Kubernetes user "${deniedUser(detail)}" may not ${call.verb} ${call.resource}` +
        `${call.name === undefined ? '' : ` "${call.name}"`} in namespace "${call.namespace}"; render infra/k8s/rbac.yaml from this policy ` +
        `(npm run render) and apply it: its Role in namespace "${call.namespace}" names each Deployment and HPA the policy scales there`,
      options,
    );
  }
  if (error.code === 401) {
    return new PermanentScalingError(
      `${prefix}: the API server did not accept the scaler's credentials (401); on EKS the worker's IAM role needs an access entry mapping it to Kubernetes user gpu-autoscaler`,
      options,
    );
  }
  if (error.code === 409) return new RetryableScalingError(`${prefix}: conflicted with another change (409)`, options);
  if (error.code === 429) return new RetryableScalingError(`${prefix}: throttled by the API server (429)`, options);
  const because = detail ? `: ${detail}` : '';
  if (error.code >= 500) return new RetryableScalingError(`${prefix}: API server error ${error.code}${because}`, options);
  return new PermanentScalingError(`${prefix}: rejected (${error.code})${because}`, options);
};

/** Maps a failed API call to the error the worker acts on: retry later, or fail the intent. */
export const scalingErrorOf = (error: unknown, call: KubeCall): Error => {
  if (error instanceof RetryableScalingError || error instanceof PermanentScalingError) return error;
  if (error instanceof ApiException) return httpFailure(error, call);
  const prefix = `target "${call.target}": ${call.verb} ${call.resource} of ${objectOf(call)}`;
  const { code, name, message } = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  if (isTransientNetworkError(error)) {
    return new RetryableScalingError(`${prefix}: API server unreachable (${String(code)}): ${String(message)}`, { cause: error });
  }
  if (name === 'TimeoutError') return new RetryableScalingError(`${prefix}: ${String(message)}`, { cause: error });
  return new PermanentScalingError(`${prefix}: ${String(message ?? error)}`, { cause: error });
};

const deadline = (ms: number): { expired: Promise<never>; clear: () => void } => {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the API server within ${ms} ms`), { name: 'TimeoutError' })), ms);
  });
  return { expired, clear: () => clearTimeout(timer) };
};

/** Runs one API call within {@link REQUEST_TIMEOUT_MS}, its failure mapped by {@link scalingErrorOf}. */
export const callKubernetes = async <T>(call: KubeCall, send: () => Promise<T>): Promise<T> => {
  const { expired, clear } = deadline(REQUEST_TIMEOUT_MS);
  try {
    return await Promise.race([send(), expired]);
  } catch (error) {
    throw scalingErrorOf(error, call);
  } finally {
    clear();
  }
};
