import { benchColdStart } from './coldStart.bench.ts';
import { benchDecide } from './decide.bench.ts';
import { printRows } from './measure.ts';
import { benchSimulate } from './simulate.bench.ts';
import { benchWebhook } from './webhook.bench.ts';

/**
 * `npm run bench`: every figure is a ratio against a floor measured in the same run, so
 * that it means the same on a laptop and in CI.
 */
printRows('decide(): the pure decision engine', await benchDecide());
printRows('alertmanager-webhook against the AWS emulator', await benchWebhook());
printRows('cold start: importing each function bundle in a fresh Node process', await benchColdStart());
printRows('simulate: a year at minute resolution, on the real tick and worker', await benchSimulate());
