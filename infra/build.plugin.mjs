// The bridge from osls (plain JavaScript) to infra/build.ts (TypeScript, loaded through tsx).
// It answers serverless.yml's `${policy:...}` variables from the validated policy file, so a
// bad policy stops `serverless package` and `deploy` with every problem and its path, and it
// bundles the functions before they are packaged, deployed alone or invoked locally.
import { resolve } from 'node:path';
import { tsImport } from 'tsx/esm/api';

const buildModule = () => tsImport('./build.ts', import.meta.url);

export default class GpuAutoscalerBuild {
  constructor(serverless, options, { log }) {
    const policyFile = () => resolve(serverless.serviceDir, serverless.service.custom.policyFile);
    const bundle = async (names, settings) => {
      const build = await buildModule();
      const bundles = await build.buildFunctions(policyFile(), names, settings);
      log.notice(`Bundles (with the policy ${serverless.service.custom.policyFile}):\n${build.formatBundles(bundles)}`);
    };
    let stack;
    this.configurationVariablesSources = {
      policy: {
        resolve: async ({ address, resolveConfigurationProperty }) => {
          stack ??= (async () => {
            const build = await buildModule();
            const file = await resolveConfigurationProperty(['custom', 'policyFile']);
            const manageEksAccess = await resolveConfigurationProperty(['custom', 'manageEksAccess']);
            try {
              return build.policyStack(resolve(serverless.serviceDir, file), { manageEksAccess: String(manageEksAccess) === 'true' });
            } catch (error) {
              // The problems and their paths, without a stack trace that would bury them.
              throw new serverless.classes.Error(error.message, 'INVALID_POLICY');
            }
          })();
          const value = (await stack)[address];
          if (value === undefined) throw new Error(`\${policy:${address}} is not something the policy provides`);
          return { value };
        },
      },
    };
    this.hooks = {
      'before:package:createDeploymentArtifacts': () => bundle(undefined),
      'before:deploy:function:packageFunction': () => bundle([options.function]),
      'before:invoke:local:invoke': () => bundle([options.function], { onlyStale: true }),
    };
  }
}
