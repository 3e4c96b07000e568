import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, coldStartBytes, ROOT, type SdkUsage } from '../../infra/build.ts';

/** The client class each SDK package exports. */
const CLIENT_CLASS: Record<string, string> = {
  'client-cloudwatch': 'CloudWatchClient',
  'client-eks': 'EKSClient',
  'client-eventbridge': 'EventBridgeClient',
  'client-sqs': 'SQSClient',
  'client-ssm': 'SSMClient',
};

/**
 * A bundle of only the AWS SDK clients (and commands) a function uses, built as the functions
 * are (minified, tree-shaken) and constructing each client as the handler does: the floor a
 * function's bundle size and cold start are measured against. Returns the bundle's path,
 * `<dir>/<name>/index.mjs` (beside its chunks), and the bytes a cold start loads, counted as a
 * function's are (infra/build.ts coldStartBytes).
 */
export const buildSdkFloor = async (dir: string, name: string, usage: readonly SdkUsage[]): Promise<{ path: string; bytes: number }> => {
  const lines = usage.flatMap(({ client, operations }) => {
    const clientClass = CLIENT_CLASS[client];
    if (!clientClass) throw new Error(`no client class known for @aws-sdk/${client}`);
    const commands = operations.map((o) => `${o}Command`);
    return [`import { ${[clientClass, ...commands].join(', ')} } from '@aws-sdk/${client}';`, `export const ${clientClass.toLowerCase()} = [new ${clientClass}({}), ${commands.join(', ')}];`];
  });
  const outdir = join(dir, name);
  await rm(outdir, { recursive: true, force: true });
  // The entry resolves the SDK from the project's node_modules, wherever the bundle goes. Split
  // as the functions are: the SDK's own import()s (credential providers other than the
  // environment's, STS, SSO) become chunks that neither a cold start nor this floor loads.
  const { metafile } = await build({
    ...BUNDLE_OPTIONS,
    stdin: { contents: `${lines.join('\n')}\n`, resolveDir: ROOT, sourcefile: `${name}.sdk-floor.mjs` },
    outdir,
    entryNames: 'index',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
  });
  const path = join(outdir, 'index.mjs');
  return { path, bytes: coldStartBytes(metafile.outputs, relative(ROOT, path)) };
};
