import { reason, type Reason } from '../reasons.ts';
import type { Candidate, Context, Proposal } from './context.ts';

// Choosing by precedence: the highest-ranked side wins, and on a tie ups beat downs. A rule
// that holds its level (an up-rule at or above its wish) is still in force: it keeps every
// lower-ranked down from undoing it. Ups take the largest wish, downs the most conservative.

const holdsLevel = (c: Candidate, base: number): boolean => c.to === base && (c.source === 'alert' || c.source === 'metric');

const empty = (ctx: Context, notes: Reason[]): Proposal => ({ source: 'none', to: ctx.base, held: false, notes, fingerprints: [], followUps: [] });

const fromCandidate = (c: Candidate, notes: Reason[], fingerprints: string[]): Proposal => ({
  source: c.source,
  to: c.to,
  cause: c.cause,
  held: false,
  ...(c.rule !== undefined ? { rule: c.rule } : {}),
  ...(c.cooldown !== undefined ? { cooldown: c.cooldown } : {}),
  notes,
  fingerprints,
  followUps: [],
});

const topRank = (list: readonly Candidate[]): number => list.reduce((rank, c) => Math.max(rank, c.rank), Number.NEGATIVE_INFINITY);

export const choose = (ctx: Context, candidates: readonly Candidate[], notes: Reason[]): Proposal => {
  const { base } = ctx;
  const ups = candidates.filter((c) => c.to > base).sort((a, b) => b.to - a.to || b.rank - a.rank);
  const downs = candidates.filter((c) => c.to < base).sort((a, b) => b.to - a.to || b.rank - a.rank);
  const holding = candidates.filter((c) => holdsLevel(c, base));
  const upRank = topRank([...ups, ...holding]);
  const downRank = topRank(downs);
  const fingerprints = (list: readonly Candidate[]) => [...new Set(list.flatMap((c) => c.fingerprints))];

  const best = ups[0];
  if (best && upRank >= downRank) {
    const others = ups.length > 1 ? `; largest of ${ups.length} scale-ups` : '';
    const beaten = downs.length > 0 ? [reason('UpBeatsDown', `${downs.length} scale-down proposal(s) ignored while a scale-up is in force`)] : [];
    return fromCandidate({ ...best, cause: { ...best.cause, message: `${best.cause.message}${others}` } }, [...notes, ...beaten], fingerprints(ups));
  }
  const down = downs[0];
  if (down && downRank > upRank) {
    const beaten = ups.length > 0 ? [reason('UpBeatsDown', `${ups.length} scale-up proposal(s) outranked by ${down.source} (${down.rule ?? down.cause.code})`)] : [];
    return fromCandidate(down, [...notes, ...beaten], down.fingerprints);
  }
  const keeper = holding.sort((a, b) => b.rank - a.rank)[0];
  if (down && keeper) {
    // A lower-ranked down meets a rule still in force at this size: it waits.
    return {
      ...fromCandidate(down, notes, fingerprints([down, keeper])),
      to: base,
      held: true,
      limitedBy: reason('UpInForce', `${down.rule ?? down.source} would lower ${base} to ${down.to}, but ${keeper.rule ?? keeper.source} (${keeper.cause.message}) is still in force`),
    };
  }
  if (keeper) return { ...fromCandidate(keeper, notes, fingerprints(holding)), source: 'none' };
  return empty(ctx, notes);
};
