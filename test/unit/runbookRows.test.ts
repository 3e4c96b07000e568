import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { durationSchema } from '../../shared/domain/duration.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';

const rowSchema = z.strictObject({
  seed: z.string(),
  row: z.string(),
  target: z.string(),
  metric: z.string(),
  comparison: z.enum(['>', '<']),
  threshold: z.number(),
  for: z.string(),
  direction: z.enum(['up', 'down']),
  cooldown: durationSchema,
  priority: z.enum(['P0', 'P1', 'P2', 'P3']),
});

const { rows } = z.strictObject({ rows: z.array(rowSchema) }).parse(parse(readFileSync('test/fixtures/runbook-rows.yaml', 'utf8')));
const policy = resolvePolicy(loadPolicyFile('policy.yaml'));

/** The comparison an alerting expression ends in: `... > 0.70` -> ['>', 0.7]. */
const finalComparison = (expr: string): [string, number] | undefined => {
  const match = /([<>])\s*(\d+(?:\.\d+)?)\s*$/.exec(expr);
  return match ? [match[1] ?? '', Number(match[2])] : undefined;
};

describe('The runbooks\' threshold tables, row by row, in policy.yaml', () => {
  it.each(rows)('$seed: $row', (row) => {
    // Act: the rules of the target that read the metric and end in the row's comparison
    const rules = [...(policy.target(row.target)?.rules.values() ?? [])].filter((rule) => {
      const expr = rule.prometheus?.expr ?? '';
      const [comparison, threshold] = finalComparison(expr) ?? [];
      return expr.includes(row.metric) && comparison === row.comparison && threshold === row.threshold;
    });

    // Assess
    expect(
      rules.map((rule) => ({ for: rule.prometheus?.for, direction: rule.raises ? 'up' : 'down', cooldown: rule.cooldown, priority: rule.priority })),
      `no rule of ${row.target} reads ${row.metric} ${row.comparison} ${row.threshold}`,
    ).toContainEqual({ for: row.for, direction: row.direction, cooldown: row.cooldown, priority: row.priority });
  });

  it('lists the four GPU services of the guide as targets, 2-10 each', () => {
    // Act
    const services = ['embedding-service', 'reranking-service', 'docling-vlm-service', 'gpu-management-service'].map((id) => policy.target(id));

    // Assess
    expect(services.map((t) => t && { id: t.id, min: t.min, max: t.max })).toEqual(
      ['embedding-service', 'reranking-service', 'docling-vlm-service', 'gpu-management-service'].map((id) => ({ id, min: 2, max: 10 })),
    );
  });
});
