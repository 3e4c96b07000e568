import {
  DescribeNodegroupCommand,
  type EKSClient,
  type NodegroupScalingConfig,
  UpdateNodegroupConfigCommand,
} from '@aws-sdk/client-eks';
import { createHash } from 'node:crypto';
import type { NodeGroupTarget } from '../../domain/policy.ts';
import type { NodeGroupScaler } from '../../ports.ts';
import { classifyAwsError } from './awsErrors.ts';

/**
 * The clientRequestToken of one scaling call, 64 hex characters (the most EKS takes): a digest
 * of the whole intent id, which may be longer, so that no two intents whose ids share a prefix
 * share a token; and of the size, which a redelivered intent may re-decide differently.
 */
export const clientRequestToken = (intentId: string, desired: number): string =>
  createHash('sha256').update(JSON.stringify([intentId, desired])).digest('hex');

/**
 * EKS managed node groups through DescribeNodegroup and UpdateNodegroupConfig. The node
 * group's own min/max are widened to include the desired size: the policy's hard bounds,
 * already applied, are the limits that count.
 */
export class EksNodeGroupScaler implements NodeGroupScaler {
  /** The scaling config read by `current()`, reused by the `scaleTo()` that follows. */
  readonly #seen = new Map<string, NodegroupScalingConfig>();

  public constructor(private readonly eks: EKSClient) {}

  public async current(target: NodeGroupTarget): Promise<number> {
    const config = await this.describe(target);
    return config.desiredSize ?? 0;
  }

  public async scaleTo(target: NodeGroupTarget, desired: number, token: string): Promise<void> {
    const seen = this.#seen.get(target.id) ?? (await this.describe(target));
    const scalingConfig: NodegroupScalingConfig = {
      desiredSize: desired,
      minSize: Math.min(seen.minSize ?? desired, desired),
      maxSize: Math.max(seen.maxSize ?? desired, desired, 1),
    };
    try {
      await this.eks.send(
        new UpdateNodegroupConfigCommand({
          clusterName: target.cluster,
          nodegroupName: target.nodegroup,
          scalingConfig,
          // EKS treats a repeated token as the same request: a retried call does not update twice.
          clientRequestToken: clientRequestToken(token, desired),
        }),
      );
    } catch (error) {
      throw classifyAwsError(error, `update of node group ${target.cluster}/${target.nodegroup} to ${desired}`);
    } finally {
      this.#seen.delete(target.id);
    }
  }

  private async describe(target: NodeGroupTarget): Promise<NodegroupScalingConfig> {
    try {
      const { nodegroup } = await this.eks.send(new DescribeNodegroupCommand({ clusterName: target.cluster, nodegroupName: target.nodegroup }));
      const config = nodegroup?.scalingConfig ?? {};
      this.#seen.set(target.id, config);
      return config;
    } catch (error) {
      throw classifyAwsError(error, `describe of node group ${target.cluster}/${target.nodegroup}`);
    }
  }
}
