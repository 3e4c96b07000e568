/**
 * The deployable bundles and the parts of the CloudFormation stack that follow from the
 * policy. serverless.yml reaches this module through infra/build.plugin.mjs; on its own,
 * `npm run build` (tsx infra/build.ts) bundles every function.
 *
 * Layout, per function: dist/<name>/index.js (+ .map) and dist/<name>/package.json
 * {"type":"module"} (a .js file that Lambda and `serverless invoke local` both load as ESM;
 * invoke local cannot load .mjs), plus one validated dist/policy.json shared by every zip and
 * dist/meta/<name>.json, esbuild's record of what went into each bundle (never shipped).
 */
import { readdirSync, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { fifoGroupOf } from '../shared/app/gpuView.ts';
import type { NodeGroupTarget, Policy } from '../shared/domain/policy.ts';
import { BUNDLED_POLICY_FORMAT, type BundledPolicy, policyDigest } from '../shared/bundledPolicy.ts';
import { loadPolicyFile } from '../shared/policyFile.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
/** Where the functions read the policy (serverless.yml's POLICY_PATH): relative to the working directory, /var/task in Lambda. */
const POLICY_PATH = 'dist/policy.json';

/** Every folder of functions/ with a handler.ts is a function to deploy. */
export const functionNames = (): string[] =>
  readdirSync(join(ROOT, 'functions'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, 'functions', entry.name, 'handler.ts')))
    .map((entry) => entry.name)
    .sort();

export const bundlePath = (name: string): string => join(DIST, name, 'index.js');
const metafilePath = (name: string): string => join(DIST, 'meta', `${name}.json`);

export interface Bundle {
  name: string;
  /**
   * The code a cold start loads: index.js and the chunks it imports statically (code it shares
   * with a lazy chunk lands in a chunk of its own, loaded all the same). Source maps are read
   * only for stack traces.
   */
  bytes: number;
  /** Size of the chunks loaded only when first needed (the worker's Kubernetes client, prom-client). */
  lazyBytes: number;
}

/**
 * Bytes of the output `entry` and every chunk it reaches through static imports: what loading
 * it loads. Dynamic import()s are where that stops.
 */
export const coldStartBytes = (outputs: Metafile['outputs'], entry: string): number => {
  const loaded = new Set<string>();
  const next = [entry];
  for (let path = next.pop(); path !== undefined; path = next.pop()) {
    if (loaded.has(path)) continue;
    loaded.add(path);
    for (const imported of outputs[path]?.imports ?? []) if (imported.kind === 'import-statement' && imported.path in outputs) next.push(imported.path);
  }
  return [...loaded].reduce((sum, path) => sum + (outputs[path]?.bytes ?? 0), 0);
};

/**
 * How every function is bundled, the AWS SDK v3 included: the versions pinned in
 * package-lock.json are the ones the tests ran, where the runtime's copy changes under us with
 * every runtime update; tree-shaken, the clients we use load faster than the runtime's
 * complete SDK; and Powertools is bundled anyway, with the SDK pieces it needs.
 */
export const BUNDLE_OPTIONS = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  // Packages without an `exports` map (the AWS SDK clients) offer ESM under `module`, which
  // tree-shakes; esbuild's default for Node would take their CommonJS `main`.
  mainFields: ['module', 'main'],
  minify: true,
  treeShaking: true,
  // Stack traces point into the sources with NODE_OPTIONS=--enable-source-maps (serverless.yml).
  sourcemap: true,
  sourcesContent: false,
  legalComments: 'none',
  metafile: true,
  // The CommonJS packages inside the bundle (parts of the SDK) call require() for Node's
  // built-in modules, which an ES module lacks.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
} satisfies BuildOptions;

/** One function: dist/<name>/index.js with its source map, package.json and metafile. */
export const bundleFunction = async (name: string): Promise<Bundle> => {
  const outdir = dirname(bundlePath(name));
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    ...BUNDLE_OPTIONS,
    entryPoints: { index: join(ROOT, 'functions', name, 'handler.ts') },
    outdir,
    // A dynamic import() becomes a chunk of its own, loaded when first called: the worker's
    // Kubernetes client (shared/adapters/k8s/workloadsOnDemand.ts) stays out of its cold start.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  });
  await writeFile(join(outdir, 'package.json'), '{"type":"module"}\n');
  await mkdir(dirname(metafilePath(name)), { recursive: true });
  await writeFile(metafilePath(name), JSON.stringify(result.metafile));
  return bundleSizes(name);
};

const readMetafile = async (name: string): Promise<Metafile> => JSON.parse(await readFile(metafilePath(name), 'utf8')) as Metafile;

/** The code files of a built function (index.js and its chunks), from its metafile, by path. */
const codeOutputs = async (name: string): Promise<[string, Metafile['outputs'][string]][]> =>
  Object.entries((await readMetafile(name)).outputs).filter(([path]) => path.endsWith('.js'));

/** A built function's sizes, from its metafile. */
export const bundleSizes = async (name: string): Promise<Bundle> => {
  const code = Object.fromEntries(await codeOutputs(name));
  const bytes = coldStartBytes(code, relative(ROOT, bundlePath(name)));
  const total = Object.values(code).reduce((sum, output) => sum + output.bytes, 0);
  return { name, bytes, lazyBytes: total - bytes };
};

/** Whether a bundle exists and none of the files that went into it changed since. */
const isFresh = async (name: string): Promise<boolean> => {
  try {
    const built = (await stat(bundlePath(name))).mtimeMs;
    const { inputs } = await readMetafile(name);
    const files = Object.keys(inputs);
    const changed = await Promise.all(files.map(async (file) => (await stat(join(ROOT, file))).mtimeMs > built));
    return !changed.includes(true);
  } catch {
    return false;
  }
};

/**
 * Validates the policy (a bad one stops the build with every problem and its path) and
 * writes what the validation returned, defaults filled and durations in seconds, as JSON
 * marked validated, to where the functions read it (shared/bundledPolicy.ts): they trust it
 * as it is, and parse it with JSON.parse alone, without a YAML parser or the policy schema.
 */
export const bundlePolicy = async (policyFile: string): Promise<void> => {
  const policy = loadPolicyFile(policyFile);
  const bundled: BundledPolicy = { format: BUNDLED_POLICY_FORMAT, source: relative(ROOT, policyFile), sha256: policyDigest(policy), policy };
  await mkdir(DIST, { recursive: true });
  // Through a temporary file: a concurrent `invoke local` never reads half a policy.
  const staged = join(DIST, `.policy-${process.pid}.json`);
  await writeFile(staged, `${JSON.stringify(bundled)}\n`);
  await rename(staged, join(ROOT, POLICY_PATH));
};

/**
 * Bundles the functions named, after the policy. With `onlyStale`, a bundle none of whose
 * sources changed is kept as it is: what `invoke local` wants, run after run.
 */
export const buildFunctions = async (
  policyFile: string,
  names: readonly string[] = functionNames(),
  { onlyStale = false }: { onlyStale?: boolean } = {},
): Promise<Bundle[]> => {
  await bundlePolicy(policyFile);
  return Promise.all(
    names.map(async (name) => (onlyStale && (await isFresh(name)) ? bundleSizes(name) : bundleFunction(name))),
  );
};

export const formatBundles = (bundles: readonly Bundle[]): string =>
  bundles
    .map((b) => `  ${relative(ROOT, bundlePath(b.name)).padEnd(42)} ${(b.bytes / 1024).toFixed(0).padStart(6)} KiB${b.lazyBytes > 0 ? ` (+ ${(b.lazyBytes / 1024).toFixed(0)} KiB loaded on first use)` : ''}`)
    .join('\n');

/** An AWS SDK v3 client package and the commands of it that one bundle contains. */
export interface SdkUsage {
  /** e.g. `client-ssm` */
  client: string;
  /** Operation names, e.g. `GetParameter` for GetParameterCommand. */
  operations: string[];
}

const SDK_COMMAND = /node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\/dist-es\/commands\/(\w+)Command\.js$/;

/**
 * The SDK commands a built bundle contains (index.js and its chunks), from esbuild's metafile:
 * a command module that tree-shaking dropped contributes no bytes and is not counted.
 */
export const sdkUsageOf = async (name: string): Promise<SdkUsage[]> => {
  const byClient = new Map<string, string[]>();
  for (const [input, { bytesInOutput }] of (await codeOutputs(name)).flatMap(([, output]) => Object.entries(output.inputs))) {
    const match = SDK_COMMAND.exec(input);
    if (!match?.[1] || !match[2] || bytesInOutput === 0) continue;
    byClient.set(match[1], [...new Set([...(byClient.get(match[1]) ?? []), match[2]])]);
  }
  return [...byClient].map(([client, operations]) => ({ client, operations: operations.sort() })).sort((a, b) => a.client.localeCompare(b.client));
};

// --- The stack's policy-dependent parts -------------------------------------------------

/** The Kubernetes user the worker's IAM role maps to; infra/k8s/rbac.yaml binds it. */
const KUBERNETES_USERNAME = 'gpu-autoscaler';
// The scaler shrinks an idle pool on the first tick after `idleAfter`; nodes take minutes to go.
const IDLE_SLACK_SECONDS = 600;
const DEFAULT_IDLE_AFTER_SECONDS = 3600;
const IDLE_ALARM_PERIOD_SECONDS = 300;

type Intrinsic = Record<string, unknown>;
const sub = (text: string): Intrinsic => ({ 'Fn::Sub': text });

const nodeGroups = (policy: Policy): NodeGroupTarget[] => policy.targets.filter((t): t is NodeGroupTarget => t.kind === 'eks-nodegroup');

/** Every EKS cluster the worker touches: its node groups', and any a workload names itself. */
const clustersOf = (policy: Policy): string[] => [...new Set(policy.targets.flatMap((t) => (t.cluster ? [t.cluster] : [])))].sort();

const logicalIdPart = (name: string): string =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');

/**
 * The worker's EKS permissions: its node groups (DescribeNodegroup, UpdateNodegroupConfig) and
 * its clusters (DescribeCluster, for the Kubernetes API endpoint and certificate), and one EKS
 * access entry per cluster mapping its role to the Kubernetes user `gpu-autoscaler` with no
 * groups (what that user may do is infra/k8s/rbac.yaml). None of it exists for a policy that
 * names no cluster.
 */
const eksResources = (policy: Policy): Record<string, Intrinsic> => {
  const clusters = clustersOf(policy);
  if (clusters.length === 0) return {};
  const ids = new Map(clusters.map((cluster) => [`EksAccessEntry${logicalIdPart(cluster)}`, cluster]));
  if (ids.size !== clusters.length) throw new Error(`cluster names that differ only in punctuation: ${clusters.join(', ')}`);
  const statements = [
    {
      Effect: 'Allow',
      Action: ['eks:DescribeNodegroup', 'eks:UpdateNodegroupConfig'],
      Resource: nodeGroups(policy).map((t) => sub(`arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:nodegroup/${t.cluster}/${t.nodegroup}/*`)),
    },
    {
      Effect: 'Allow',
      Action: ['eks:DescribeCluster'],
      Resource: clusters.map((cluster) => sub(`arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${cluster}`)),
    },
  ].filter((s) => s.Resource.length > 0);
  return {
    ScalingWorkerEksPolicy: {
      Type: 'AWS::IAM::RolePolicy',
      Properties: {
        RoleName: { Ref: 'ScalingWorkerRole' },
        PolicyName: 'eks',
        PolicyDocument: { Version: '2012-10-17', Statement: statements },
      },
    },
    ...Object.fromEntries(
      [...ids].map(([id, cluster]) => [
        id,
        {
          Type: 'AWS::EKS::AccessEntry',
          Condition: 'ManageEksAccess',
          Properties: {
            ClusterName: cluster,
            PrincipalArn: { 'Fn::GetAtt': ['ScalingWorkerRole', 'Arn'] },
            Username: KUBERNETES_USERNAME,
            Type: 'STANDARD',
          },
        },
      ]),
    ),
  };
};

/** The least maximumConcurrency an SQS event source mapping takes. */
const MIN_SQS_MAXIMUM_CONCURRENCY = 2;

/** What serverless.yml takes from the policy, as `${policy:<key>}`. */
export interface PolicyStack {
  /** The IANA zone of the policy's schedules. */
  timezone: string;
  /** Five-minute periods the `scaling_gpu_pool_idle` alarm waits: the longest `idleAfter` plus slack. */
  gpuPoolIdlePeriods: number;
  /**
   * The worker's concurrency: one instance per FIFO message group (a GPU pool with its workloads,
   * or a target of its own), as many as the queue can keep busy at once, at most
   * MAX_WORKER_CONCURRENCY, and at least 2, the least an SQS trigger's maximumConcurrency takes.
   */
  workerConcurrency: number;
  /** A `resources` fragment: the worker's EKS policy and access entries, with their switch. */
  eks: { Parameters?: Record<string, Intrinsic>; Conditions?: Record<string, Intrinsic>; Resources: Record<string, Intrinsic> };
}

/**
 * The access entries hang on a stack parameter (its default from serverless.yml's
 * `manageEksAccess`): CloudFormation can create one only for a cluster that exists and whose
 * authentication mode includes the EKS API, and an entry for the same role made elsewhere
 * (eksctl, Terraform, the aws-auth ConfigMap) would conflict with it.
 */
const accessEntrySwitch = (manageEksAccess: boolean) => ({
  Parameters: {
    ManageEksAccess: {
      Type: 'String',
      AllowedValues: ['true', 'false'],
      Default: String(manageEksAccess),
      Description: 'Create the EKS access entries mapping the worker role to the Kubernetes user gpu-autoscaler',
    },
  },
  Conditions: { ManageEksAccess: { 'Fn::Equals': [{ Ref: 'ManageEksAccess' }, 'true'] } },
});

/**
 * The most worker instances any policy reserves. Past it more instances would only meet SSM's
 * throttling sooner: at default quotas two instances already use Parameter Store's 40 reads a
 * second during an alert storm (README, "Limits at scale"), and 1,000 targets at one instance
 * each would ask for more than the 900 concurrent executions a default account can reserve.
 */
export const MAX_WORKER_CONCURRENCY = 20;

/** The worker's concurrency for a policy: see `PolicyStack.workerConcurrency`. */
export const workerConcurrencyOf = (policy: Policy): number => {
  const groups = new Set(policy.targets.map((t) => fifoGroupOf(policy)(t.id))).size;
  return Math.max(MIN_SQS_MAXIMUM_CONCURRENCY, Math.min(groups, MAX_WORKER_CONCURRENCY));
};

export const policyStack = (policyFile: string, { manageEksAccess }: { manageEksAccess: boolean }): PolicyStack => {
  const policy = loadPolicyFile(policyFile);
  const pools = nodeGroups(policy).filter((t) => t.gpusPerNode > 0);
  const idleAfter = pools.length > 0 ? Math.max(...pools.map((t) => t.idleAfter ?? DEFAULT_IDLE_AFTER_SECONDS)) : DEFAULT_IDLE_AFTER_SECONDS;
  const Resources = eksResources(policy);
  const hasAccessEntries = Object.values(Resources).some((r) => r.Type === 'AWS::EKS::AccessEntry');
  return {
    timezone: policy.timezone,
    gpuPoolIdlePeriods: Math.ceil((idleAfter + IDLE_SLACK_SECONDS) / IDLE_ALARM_PERIOD_SECONDS),
    workerConcurrency: workerConcurrencyOf(policy),
    eks: { ...(hasAccessEntries ? accessEntrySwitch(manageEksAccess) : {}), Resources },
  };
};

// `npm run build`: bundle every function, or the ones named, and print their sizes.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2);
  const bundles = await buildFunctions(join(ROOT, 'policy.yaml'), names.length > 0 ? names : functionNames());
  process.stdout.write(`${formatBundles(bundles)}\n`);
}
