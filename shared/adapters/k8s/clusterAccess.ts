import { AppsV1Api, AutoscalingV2Api, CoreV1Api, type KubeConfig, PatchStrategy, PolicyV1Api, setHeaderOptions } from '@kubernetes/client-node';

/** The API groups the scaler talks to: the scale and status subresources, HPAs, disruption budgets, nodes. */
export interface KubeClients {
  apps: AppsV1Api;
  autoscaling: AutoscalingV2Api;
  policy: PolicyV1Api;
  core: CoreV1Api;
}

/** How the worker reaches the API server of an EKS cluster named in the policy. */
export interface ClusterAccess {
  /** Clients whose credentials are valid for the call about to be made. */
  clients(cluster: string): Promise<KubeClients>;
}

export const kubeClients = (config: KubeConfig): KubeClients => ({
  apps: config.makeApiClient(AppsV1Api),
  autoscaling: config.makeApiClient(AutoscalingV2Api),
  policy: config.makeApiClient(PolicyV1Api),
  core: config.makeApiClient(CoreV1Api),
});

/**
 * client-node sends a patch as JSON Patch (the first type the endpoint accepts) unless told
 * otherwise; the scaler's bodies are merge patches that name only the fields it sets.
 */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
