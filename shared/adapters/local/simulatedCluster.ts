import type { NodeGroupTarget, Policy, Target, WorkloadTarget } from '../../domain/policy.ts';
import { isWorkload, poolMembers } from '../../domain/policyLookups.ts';
import type { WorkloadHealth } from '../../domain/decide/context.ts';
import type { ClusterHealth, Clock, NodeGroupScaler, WorkloadScaler } from '../../ports.ts';

export interface SimulatedSize {
  /** What was asked for (node group desiredSize, Deployment spec.replicas or HPA floor). */
  desired: number;
  /** Nodes joined, or pods running and warmed up. */
  ready: number;
  /** GPU pods waiting for a node. */
  pending: number;
}

interface Resource {
  desired: number;
  ready: number;
  transitions: { at: number; ready: number }[];
}

export interface SimulationOptions {
  /** A new GPU node takes this long to join (EKS managed node groups: minutes). */
  nodeProvisioningSeconds: number;
  /** A pod without a policy warm-up takes this long to be ready. */
  podStartSeconds: number;
  /** Pods and nodes leave after this drain time. */
  drainSeconds: number;
}

export const DEFAULT_SIMULATION: SimulationOptions = { nodeProvisioningSeconds: 180, podStartSeconds: 20, drainSeconds: 60 };

/**
 * A cluster that behaves like the real one where it matters to the scaler: node groups
 * provision with a delay, pods warm up (and are Ready after it), GPU pods stay Pending until
 * their pool has room. It has no PodDisruptionBudgets.
 */
export class SimulatedCluster implements NodeGroupScaler, WorkloadScaler, ClusterHealth {
  readonly #resources = new Map<string, Resource>();
  public scaleCalls = 0;

  public constructor(
    private readonly policy: Policy,
    private readonly clock: Clock,
    private readonly options: SimulationOptions = DEFAULT_SIMULATION,
    initial: Record<string, number> = {},
  ) {
    for (const target of policy.targets) {
      const size = initial[target.id] ?? target.min;
      this.#resources.set(target.id, { desired: size, ready: size, transitions: [] });
    }
  }

  public async current(target: Target): Promise<number> {
    return this.resource(target.id).desired;
  }

  /** An HPA's floor stands for its replicas here, pinned or not: no load moves them. */
  public async scaleTo(target: NodeGroupTarget | WorkloadTarget, desired: number): Promise<void> {
    this.scaleCalls += 1;
    const resource = this.resource(target.id);
    const now = this.clock.now().getTime();
    const delay = desired > resource.desired ? this.upDelay(target) : this.options.drainSeconds;
    resource.desired = desired;
    resource.transitions.push({ at: now + delay * 1000, ready: desired });
  }

  /** Sizes as of now, with GPU pods placed on the pool's ready nodes. */
  public snapshot(): Record<string, SimulatedSize> {
    const now = this.clock.now().getTime();
    const sizes: Record<string, SimulatedSize> = {};
    for (const target of this.policy.targets) {
      const resource = this.resource(target.id);
      while (resource.transitions[0] && resource.transitions[0].at <= now) {
        resource.ready = resource.transitions.shift()?.ready ?? resource.ready;
      }
      sizes[target.id] = { desired: resource.desired, ready: resource.ready, pending: 0 };
    }
    for (const pool of this.policy.targets) {
      if (pool.kind !== 'eks-nodegroup' || pool.gpusPerNode === 0) continue;
      let free = (sizes[pool.id]?.ready ?? 0) * pool.gpusPerNode;
      for (const member of poolMembers(this.policy, pool.id)) {
        const size = sizes[member.id];
        if (!size) continue;
        const placed = Math.min(size.ready, Math.floor(free / member.gpusPerReplica));
        free -= placed * member.gpusPerReplica;
        size.pending = size.ready - placed;
        size.ready = placed;
      }
    }
    return sizes;
  }

  public async workload(target: WorkloadTarget): Promise<WorkloadHealth> {
    return this.healthOf(target.id);
  }

  /** Pods count as Ready, updated and available once warmed up and placed on a joined node. */
  public healthOf(id: string): WorkloadHealth {
    const size = this.snapshot()[id];
    const ready = size?.ready ?? 0;
    return { ready, updated: size?.desired ?? 0, available: ready };
  }

  /** Nodes that finished provisioning have joined, with their GPUs. */
  public async gpuNodes(pool: NodeGroupTarget): Promise<number> {
    return this.snapshot()[pool.id]?.ready ?? 0;
  }

  /** Someone else changed the size (kubectl scale, the console): the scaler must notice. */
  public setOutOfBand(targetId: string, size: number): void {
    const resource = this.resource(targetId);
    resource.desired = size;
    resource.ready = size;
    resource.transitions = [];
  }

  private upDelay(target: Target): number {
    if (!isWorkload(target)) return this.options.nodeProvisioningSeconds;
    return Math.max(this.options.podStartSeconds, target.warmup);
  }

  private resource(id: string): Resource {
    const resource = this.#resources.get(id);
    if (!resource) throw new Error(`the simulated cluster has no target "${id}"`);
    return resource;
  }
}
