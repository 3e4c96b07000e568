import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // CI also keeps a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.cache/vitest-report.json' }]] : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup: ['test/setup/bundledPolicy.ts'],
          // Unit tests reach no emulator: a client that slips through meets a closed loopback port,
          // not the moto server the integration project started in this same run.
          env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/setup/bundledPolicy.ts', 'test/integration/setup/motoServer.ts'],
          testTimeout: 30_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/setup/bundledPolicy.ts'],
          env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
          testTimeout: 120_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
