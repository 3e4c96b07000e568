export const TEST_REGION = 'us-east-1';

const FAKE_KEY = 'testing';
// Port 9 (discard) on loopback refuses connections: a client that reads its
// endpoint from the environment fails fast here instead of reaching AWS.
const BLACKHOLE_ENDPOINT = 'http://127.0.0.1:9';

export interface AwsClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  maxAttempts: number;
}

/** Config for any AWS SDK v3 client so that it talks to the emulator only. */
export function awsClientConfig(endpoint: string): AwsClientConfig {
  assertLoopback(endpoint);
  return {
    region: TEST_REGION,
    endpoint,
    credentials: { accessKeyId: FAKE_KEY, secretAccessKey: FAKE_KEY, sessionToken: FAKE_KEY },
    // Retries only hide emulator errors and slow failing tests down.
    maxAttempts: 2,
  };
}

/**
 * Overwrites the AWS settings in process.env so that code building its own
 * clients (handlers, adapters) gets fake credentials and a loopback endpoint,
 * never the developer's profile, IMDS or a real AWS endpoint.
 */
export function useFakeAwsEnv(endpoint: string = BLACKHOLE_ENDPOINT): void {
  assertLoopback(endpoint);
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('AWS_ENDPOINT_URL_') || name === 'AWS_PROFILE' || name === 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS') {
      delete process.env[name];
    }
  }
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: FAKE_KEY,
    AWS_SECRET_ACCESS_KEY: FAKE_KEY,
    AWS_SESSION_TOKEN: FAKE_KEY,
    AWS_REGION: TEST_REGION,
    AWS_DEFAULT_REGION: TEST_REGION,
    AWS_ENDPOINT_URL: endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  });
}

function isLoopback(endpoint: string | undefined): endpoint is string {
  return endpoint !== undefined && URL.parse(endpoint)?.hostname === '127.0.0.1';
}

function assertLoopback(endpoint: string): void {
  if (!isLoopback(endpoint)) throw new Error(`tests may only talk to 127.0.0.1, got ${endpoint}`);
}

// Importing this module is enough to keep stray clients away from real AWS;
// an endpoint the globalSetup already exported (to moto) is kept.
const inherited = process.env.AWS_ENDPOINT_URL;
useFakeAwsEnv(isLoopback(inherited) ? inherited : undefined);
