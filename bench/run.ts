import { join } from 'node:path';
import { bundlePolicy, ROOT } from '../infra/build.ts';
import { benchColdStart } from './coldStart.bench.ts';
import { benchDecide } from './decide.bench.ts';
import { type BenchRow, printRows } from './measure.ts';
import { benchScale } from './scale.bench.ts';
import { benchSimulate } from './simulate.bench.ts';
import { benchTimeToAction } from './timeToAction.bench.ts';
import { benchWebhook } from './webhook.bench.ts';

const BENCHES: Record<string, { title: string; run: () => Promise<BenchRow[]> }> = {
  decide: { title: 'decide(): the pure decision engine', run: benchDecide },
  webhook: { title: 'alertmanager-webhook against the AWS emulator', run: benchWebhook },
  'time-to-action': {
    title: 'time to action: webhook or tick -> SQS FIFO -> worker -> scaling call (AWS emulator, real kube-apiserver)',
    run: async () => {
      const { rows, skipped } = await benchTimeToAction();
      return skipped ? [...rows, { name: skipped, value: '' }] : rows;
    },
  },
  'cold-start': { title: 'cold start: importing each function bundle in a fresh Node process', run: benchColdStart },
  scale: { title: '1,000 targets on 20 clusters and 40 GPU pools: AWS calls against their default quotas (AWS emulator)', run: benchScale },
  simulate: { title: 'simulate: a year at minute resolution, on the real tick and worker', run: benchSimulate },
};

/**
 * `npm run bench`: every figure is a ratio against a floor measured in the same run, so
 * that it means the same on a laptop and in CI. `npm run bench -- time-to-action` runs the
 * benches named.
 */
const names = process.argv.slice(2);
const unknown = names.filter((name) => !(name in BENCHES));
if (unknown.length > 0) throw new Error(`no bench named ${unknown.join(', ')}; the benches are ${Object.keys(BENCHES).join(', ')}`);
// The handler modules read the policy the build validated (shared/bundledPolicy.ts).
await bundlePolicy(join(ROOT, 'policy.yaml'));
for (const [name, bench] of Object.entries(BENCHES)) {
  if (names.length === 0 || names.includes(name)) printRows(bench.title, await bench.run());
}
