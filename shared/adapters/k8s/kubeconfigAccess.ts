import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { type ClusterAccess, kubeClients } from './clusterAccess.ts';

/**
 * Local runs and tests: one kubeconfig's current context serves every cluster the policy
 * names. Its user's credentials (a token, a client certificate, an exec plugin such as
 * `aws eks get-token`) are applied by the client on every request.
 */
export const kubeconfigAccess = (config: KubeConfig): ClusterAccess => {
  const clients = kubeClients(config);
  return { clients: async () => clients };
};

/** The files a `KUBECONFIG` value lists, merged as kubectl merges them (the first one's context wins). */
export const loadKubeconfig = (paths: string): KubeConfig => {
  const [first, ...rest] = paths.split(delimiter).filter((path) => path.length > 0);
  const config = new KubeConfig();
  if (first === undefined) throw new Error('KUBECONFIG names no file');
  config.loadFromFile(first);
  for (const path of rest) {
    const more = new KubeConfig();
    more.loadFromFile(path);
    config.mergeConfig(more, true);
  }
  return config;
};
