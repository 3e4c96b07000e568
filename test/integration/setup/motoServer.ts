import type { TestProject } from 'vitest/node';
import { useFakeAwsEnv } from '../../support/awsClients.ts';
import { startMotoServer } from '../../support/motoServer.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

/** Starts one moto server for the integration project; tests get it via inject('motoEndpoint'). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { endpoint, stop } = await startMotoServer();
  // Workers inherit this, so clients built without an explicit endpoint land on moto too.
  useFakeAwsEnv(endpoint);
  project.provide('motoEndpoint', endpoint);
  return stop;
}
