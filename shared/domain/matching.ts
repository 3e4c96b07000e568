import type { Matcher, Policy } from './policy.ts';
import { ACTIVE_WORK, isWorkload } from './policyLookups.ts';

const regexCache = new Map<string, RegExp>();
const anchored = (pattern: string): RegExp => {
  let regex = regexCache.get(pattern);
  if (!regex) {
    regex = new RegExp(`^(?:${pattern})$`);
    regexCache.set(pattern, regex);
  }
  return regex;
};

/** Alertmanager semantics: a missing label reads as the empty string. */
export const matches = (matcher: Matcher, labels: Readonly<Record<string, string>>): boolean => {
  const value = labels[matcher.label] ?? '';
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return anchored(matcher.value).test(value);
    case '!~':
      return !anchored(matcher.value).test(value);
  }
};

const selects = (item: { alert: string; matchers: readonly Matcher[] }, labels: Readonly<Record<string, string>>): boolean =>
  item.alert === labels.alertname && item.matchers.every((m) => matches(m, labels));

/**
 * The targets an alert concerns, each with the ids of the rules and vetoes it matched (and
 * {@link ACTIVE_WORK} for a workload whose active-work alert it is).
 * An alert that matches nothing returns an empty map.
 */
export const routeAlert = (policy: Policy, labels: Readonly<Record<string, string>>): Map<string, string[]> => {
  const routes = new Map<string, string[]>();
  const add = (target: string, id: string) => routes.set(target, [...(routes.get(target) ?? []), id]);
  for (const rule of policy.rules) if (selects(rule, labels)) add(rule.target, rule.id);
  for (const veto of policy.vetoes) if (selects(veto, labels)) for (const target of veto.targets) add(target, veto.id);
  for (const target of policy.targets) if (isWorkload(target) && target.activeWork && selects(target.activeWork, labels)) add(target.id, ACTIVE_WORK);
  return routes;
};
