/**
 * zod/mini, with zod's English messages: what every schema parsed at run time is built from.
 * The mini build tree-shakes to the checks a bundle uses (some 30 KiB, where classic zod
 * brings all of itself, 190 KiB); its schemas carry no message locale of their own, so the
 * English one is set here, once, for every module that imports `* as z` from this one.
 * Classic zod stays in shared/domain/policy.ts, which only the build and the CLI run.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
