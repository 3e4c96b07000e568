import { describe, expect, it } from 'vitest';
import { parseEmergencyRequest } from '../../shared/app/emergency.ts';
import { BadRequestError, invalidInput, MAX_DETAIL_LENGTH, MAX_DETAILS, MAX_MESSAGE_LENGTH } from '../../shared/errors.ts';
import { errorResult } from '../../shared/http.ts';

const problems = (count: number) => Array.from({ length: count }, (_, i) => `alerts.${i}.status: Invalid option`);

/** What a parse threw, for the assertions on its fields. */
const thrown = (parse: () => unknown): BadRequestError => {
  try {
    parse();
  } catch (error) {
    if (error instanceof BadRequestError) return error;
    throw error;
  }
  throw new Error('expected a BadRequestError');
};

describe('Class: BadRequestError', () => {
  it.each([
    { case: 'no details', given: 0, listed: 0, moreIssues: 0 },
    { case: 'as many as it lists', given: MAX_DETAILS, listed: MAX_DETAILS, moreIssues: 0 },
    { case: 'one more than it lists', given: MAX_DETAILS + 1, listed: MAX_DETAILS, moreIssues: 1 },
    { case: '600,000', given: 600_000, listed: MAX_DETAILS, moreIssues: 600_000 - MAX_DETAILS },
  ])('lists the first details and counts the rest: $case', ({ given, listed, moreIssues }) => {
    // Act
    const error = new BadRequestError('not an Alertmanager v4 payload', 400, problems(given));

    // Assess
    expect(error.details).toEqual(problems(given).slice(0, listed));
    expect(error.moreIssues).toBe(moreIssues);
  });

  it('adds what the caller counted but never listed', () => {
    // Act
    const error = new BadRequestError('invalid', 400, problems(MAX_DETAILS + 5), 1_000);

    // Assess
    expect(error.moreIssues).toBe(1_005);
  });

  it('cuts a message or a detail that quotes the request at length', () => {
    // Act
    const error = new BadRequestError(`unknown target "${'x'.repeat(50_000)}"`, 404, [`labels.${'k'.repeat(50_000)}: Invalid input`]);

    // Assess
    expect(error.message).toHaveLength(MAX_MESSAGE_LENGTH);
    expect(error.details[0]).toHaveLength(MAX_DETAIL_LENGTH);
    expect(error.details[0]?.endsWith('…')).toBe(true);
  });
});

describe('Function: invalidInput', () => {
  it('names the first issue with its path, lists the first 20 and counts every one the caller saw', () => {
    // Prepare: the caller kept 20 of 600,000 issues
    const issues = Array.from({ length: MAX_DETAILS }, (_, i) => ({ path: ['alerts', i, 'status'], message: 'Invalid option' }));

    // Act
    const error = invalidInput('not an Alertmanager v4 payload', issues, 600_000);

    // Assess
    expect(error).toMatchObject({ statusCode: 400, message: 'not an Alertmanager v4 payload: alerts.0.status: Invalid option', moreIssues: 600_000 - MAX_DETAILS });
    expect(error.details).toHaveLength(MAX_DETAILS);
  });

  it('says (root) for an issue about the whole value', () => {
    // Act
    const error = invalidInput('invalid emergency request', [{ path: [], message: 'Invalid input: expected object, received null' }]);

    // Assess
    expect(error.message).toBe('invalid emergency request: (root): Invalid input: expected object, received null');
  });
});

describe('Function: errorResult', () => {
  it.each([
    { case: 'a few problems', given: 3, body: { error: 'invalid', details: problems(3) } },
    { case: 'more problems than it lists', given: 150_000, body: { error: 'invalid', details: problems(MAX_DETAILS), moreIssues: 150_000 - MAX_DETAILS } },
    { case: 'no problem listed', given: 0, body: { error: 'invalid' } },
  ])('answers 400 with $case', ({ given, body }) => {
    // Act
    const result = errorResult(new BadRequestError('invalid', 400, problems(given)));

    // Assess
    expect(result).toEqual({ statusCode: 400, body });
    expect(Buffer.byteLength(JSON.stringify(result.body))).toBeLessThan(4 * 1024);
  });
});

describe('Function: parseEmergencyRequest', () => {
  it('answers a request with 100,000 unknown fields in a few hundred characters', () => {
    // Prepare
    const request = { action: 'double', target: 'api', reason: 'INC-42', actor: 'oncall', ...Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`field${i}`, i])) };

    // Act
    const error = thrown(() => parseEmergencyRequest(request));

    // Assess
    expect(error.statusCode).toBe(400);
    expect(error.message.startsWith('invalid emergency request: (root): Unrecognized keys: "field0", "field1"')).toBe(true);
    expect(error.message.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(Buffer.byteLength(JSON.stringify(errorResult(error).body))).toBeLessThan(4 * 1024);
  });
});
