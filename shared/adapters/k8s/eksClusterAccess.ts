import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { KubeConfig } from '@kubernetes/client-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { PermanentScalingError, RetryableScalingError } from '../../errors.ts';
import type { Clock } from '../../ports.ts';
import { type ClusterAccess, type KubeClients, kubeClients } from './clusterAccess.ts';
import { eksBearerToken } from './eksToken.ts';
import { classifyAwsError } from '../aws/awsErrors.ts';

/** Where a cluster's API server listens and the CA that signed its certificate. */
export interface ClusterEndpoint {
  server: string;
  /** Base64 PEM, as in a kubeconfig's certificate-authority-data. */
  caData: string;
}

/** A token is replaced this long before EKS stops accepting it: `aws eks get-token` also stops at 14 of 15 minutes. */
const REFRESH_BEFORE_EXPIRY_MS = 60_000;

/** The Kubernetes user name the kubeconfig shows; EKS itself names the user from the access entry. */
const KUBECONFIG_USER = 'gpu-autoscaler';


/** EKS DescribeCluster: the API server's endpoint and CA. */
export const describeClusterEndpoint =
  (eks: EKSClient) =>
  async (cluster: string): Promise<ClusterEndpoint> => {
    let found;
    try {
      ({ cluster: found } = await eks.send(new DescribeClusterCommand({ name: cluster })));
    } catch (error) {
      throw classifyAwsError(error, `describe of EKS cluster ${cluster}`);
    }
    const server = found?.endpoint;
    const caData = found?.certificateAuthority?.data;
    // A cluster still being created has neither yet; it will.
    if (!server || !caData) throw new RetryableScalingError(`EKS cluster ${cluster} has no API endpoint yet (status ${found?.status ?? 'unknown'})`);
    return { server, caData };
  };

export interface EksAccessOptions {
  /** DescribeCluster, called once per cluster per cold start. */
  endpoint: (cluster: string) => Promise<ClusterEndpoint>;
  /** The region of the clusters and of the STS endpoint the token names. */
  region: () => Promise<string>;
  /** The Lambda role's credentials (the default provider chain reads them from the environment). */
  credentials: AwsCredentialIdentityProvider;
  clock: Clock;
}

interface Session {
  clients: KubeClients;
  refreshAt: number;
}

const kubeConfigFor = (cluster: string, endpoint: ClusterEndpoint, token: string): KubeConfig => {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: cluster, server: endpoint.server, caData: endpoint.caData, skipTLSVerify: false }],
    users: [{ name: KUBECONFIG_USER, token }],
    contexts: [{ name: cluster, cluster, user: KUBECONFIG_USER }],
    currentContext: cluster,
  });
  return config;
};

/**
 * The worker's way into EKS from Lambda: the endpoint and CA from DescribeCluster, kept for
 * the life of the execution environment, and a bearer token signed with the function's IAM
 * role, renewed before EKS stops accepting it. The role must map to a Kubernetes user
 * through an EKS access entry; RBAC (infra/k8s/rbac.yaml) decides what that user may do.
 */
export class EksClusterAccess implements ClusterAccess {
  readonly #endpoints = new Map<string, Promise<ClusterEndpoint>>();
  readonly #sessions = new Map<string, Session>();

  public constructor(private readonly options: EksAccessOptions) {}

  public async clients(cluster: string): Promise<KubeClients> {
    const now = this.options.clock.now();
    const session = this.#sessions.get(cluster);
    if (session && now.getTime() < session.refreshAt) return session.clients;
    const [endpoint, credentials, region] = await Promise.all([this.endpoint(cluster), this.credentials(), this.options.region()]);
    const { token, expiresAt } = await eksBearerToken({ cluster, region, credentials, now });
    const fresh: Session = {
      clients: kubeClients(kubeConfigFor(cluster, endpoint, token)),
      refreshAt: expiresAt.getTime() - REFRESH_BEFORE_EXPIRY_MS,
    };
    this.#sessions.set(cluster, fresh);
    return fresh.clients;
  }

  private endpoint(cluster: string): Promise<ClusterEndpoint> {
    const known = this.#endpoints.get(cluster);
    if (known) return known;
    const pending = this.options.endpoint(cluster);
    // A failed describe is forgotten, so the next intent asks again.
    pending.catch(() => this.#endpoints.delete(cluster));
    this.#endpoints.set(cluster, pending);
    return pending;
  }

  private async credentials(): Promise<AwsCredentialIdentity> {
    try {
      return await this.options.credentials();
    } catch (error) {
      throw new PermanentScalingError(`no AWS credentials to sign an EKS token with: ${(error as Error).message}`, { cause: error });
    }
  }
}
