import { AppsV1Api, AutoscalingV2Api, type KubeConfig, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

/** The API groups the scaler talks to: the scale and status subresources, HPAs; and the generic client. */
export interface KubeClients {
  apps: AppsV1Api;
  autoscaling: AutoscalingV2Api;
  /**
   * The generic client, for listing disruption budgets and nodes: the generated CoreV1Api alone
   * would add some 650 KiB to the worker's bundle for one call. It learns each resource's path
   * once per client (a discovery GET).
   */
  objects: KubernetesObjectApi;
}

/** How the worker reaches the API server of an EKS cluster named in the policy. */
export interface ClusterAccess {
  /** Clients whose credentials are valid for the call about to be made. */
  clients(cluster: string): Promise<KubeClients>;
}

export const kubeClients = (config: KubeConfig): KubeClients => ({
  apps: config.makeApiClient(AppsV1Api),
  autoscaling: config.makeApiClient(AutoscalingV2Api),
  objects: KubernetesObjectApi.makeApiClient(config),
});

/**
 * client-node sends a patch as JSON Patch (the first type the endpoint accepts) unless told
 * otherwise; the scaler's bodies are merge patches that name only the fields it sets.
 */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
