import { loadPolicyFile } from '../../shared/policyFile.ts';
import { replay } from '../../shared/replay/replay.ts';
import { loadTimeline, timelineHistory } from '../../shared/replay/timeline.ts';
import { EXIT, parseFlags, parsePrice, parseRange, printRun, progressBar, runCommand, runJson, writePicture } from './replayOutput.ts';

export const SIMULATE_USAGE = `Usage:
  gpu-autoscaler simulate --from DATE --to DATE [--policy policy.yaml] [--events FILE]
                          [--price-per-node-hour N] [--out simulation] [--json]
      Runs the policy's schedules, and the alerts and metric values of --events, through the real
      decide() and use cases on a simulated cluster (no AWS call), minute by minute wherever anything
      can change. Prints every transition with its reason and what limited it, the GPU pools'
      node-hours (and cost at --price-per-node-hour) against a static pool sized for the peak, and
      writes <out>/simulate.svg and <out>/simulate.html: one lane per target.
      DATE: 2027-03-10 (midnight in the policy's time zone), 2027-03-10T08:00 (local) or an instant
      with its offset. Every target starts at its hard min with no state.
      --events FILE: YAML or JSON list of
        - { at: 2027-03-10T10:00:00-05:00, alert: LLMQueueBuildup, labels: { service: worker-llm }, for: 40m }
        - { at: 2027-03-10T10:00:00-05:00, metric: { namespace: AWS/SQS, name: ApproximateNumberOfMessagesVisible,
            dimensions: { QueueName: tensafe-training-jobs } }, value: 6 }
      Alerts are sent as the rendered Alertmanager route would (repeated every repeat_interval, then
      resolved); a metric value holds until the next. Exit codes: 0 done, 1 an input is invalid, 2 usage.
`;

export const simulate = (args: string[]): Promise<never> =>
  runCommand(SIMULATE_USAGE, async () => {
    const { values } = parseFlags({
      args,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        policy: { type: 'string', default: 'policy.yaml' },
        events: { type: 'string' },
        'price-per-node-hour': { type: 'string' },
        out: { type: 'string', default: 'simulation' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(SIMULATE_USAGE);
      return EXIT.ok;
    }
    const policy = loadPolicyFile(values.policy);
    const { from, to } = parseRange(values, policy.timezone);
    const price = parsePrice(values['price-per-node-hour']);
    const history = timelineHistory(policy, values.events ? loadTimeline(values.events) : [], to);
    const bar = progressBar('simulating');
    const result = await replay(policy, { from, to, history, progress: bar.update }).finally(bar.end);
    const files = await writePicture(values.out, 'simulate', [{ label: values.policy, result }], `gpu-autoscaler simulate: ${values.policy}`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ command: 'simulate', policy: values.policy, ...runJson(result, price), files }, null, 2)}\n`);
    } else {
      printRun(result, `simulate ${values.policy}${values.events ? ` with ${values.events}` : ''}`, price);
      process.stdout.write(`wrote ${files.join(', ')}\n`);
    }
    return EXIT.ok;
  });
