import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildFunctions, bundlePath, ROOT, sdkUsageOf } from '../infra/build.ts';
import { buildSdkFloor } from '../test/support/sdkFloor.ts';
import { type BenchRow, median } from './measure.ts';

const RUNS = 11;

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
const FLOOR_DIR = join(ROOT, '.cache', 'bench', 'cold-start');

/**
 * What a handler module reads when it loads (readConfig, loadPolicyFile), as Lambda would have
 * it, with source maps on as serverless.yml sets them. Nothing is called at load, and an
 * endpoint on the discard port would refuse anything that were.
 */
const LAMBDA_ENV = {
  STATE_PREFIX: '/gpu-autoscaler/bench',
  QUEUE_URL: 'http://127.0.0.1:9/123456789012/gpu-autoscaler-bench-intents.fifo',
  TOKEN_PARAMETER: '/gpu-autoscaler/bench/webhook-token',
  STATUS_TOKEN_PARAMETER: '/gpu-autoscaler/bench/status-token',
  POLICY_PATH: 'dist/policy.json',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  NODE_OPTIONS: '--enable-source-maps',
};

// Times the import alone, inside the fresh process: Node's own start is the same for both.
const IMPORT_TIMER = 'const t = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t));';

/** Milliseconds to import a module in a fresh Node process. */
const importTime = (file: string): Promise<number> =>
  new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', IMPORT_TIMER, pathToFileURL(file).href], { cwd: ROOT, env: { PATH: process.env.PATH, ...LAMBDA_ENV } }, (error, stdout, stderr) =>
      error ? reject(new Error(`importing ${file} failed: ${stderr}`, { cause: error })) : resolve(Number(stdout)),
    );
  });

/**
 * The cold-start share of each bundle: importing dist/<fn>/index.js in a fresh Node process
 * (parse, reading the validated policy, clients), median of several runs, as a ratio to
 * importing a bundle of only the AWS SDK clients (and commands) that function uses, built and
 * split alike: what our code, Powertools and zod add to the SDK the function cannot do without.
 * The detail line compares the same two files' bytes.
 */
export const benchColdStart = async (): Promise<BenchRow[]> => {
  const bundles = await buildFunctions(join(ROOT, 'policy.yaml'));
  const rows: BenchRow[] = [];
  for (const { name, bytes, lazyBytes } of bundles) {
    const usage = await sdkUsageOf(name);
    const { path: floor, bytes: floorBytes } = await buildSdkFloor(FLOOR_DIR, name, usage);
    const times = { handler: [] as number[], sdk: [] as number[] };
    // Alternate the two, so that a busy moment weighs on both alike.
    for (let i = 0; i < RUNS; i++) {
      times.handler.push(await importTime(bundlePath(name)));
      times.sdk.push(await importTime(floor));
    }
    const handler = median(times.handler);
    const sdk = median(times.sdk);
    rows.push({
      name: `${name} (${(bytes / 1024).toFixed(0)} KiB)`,
      value: `${handler.toFixed(0)} ms`,
      ratio: handler / sdk,
      floor: `${usage.map((u) => u.client.replace('client-', '')).join('+')} clients alone, ${sdk.toFixed(0)} ms`,
      detail: `size ${(bytes / floorBytes).toFixed(2)}x: ${kib(bytes)} loaded at cold start vs ${kib(floorBytes)} of its SDK clients alone (+ ${kib(lazyBytes)} in chunks loaded on first use)`,
    });
  }
  return rows;
};
