import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimStateFolder } from '../../shared/adapters/local/stateFolder.ts';

const TARGETS = ['app', 'worker-llm', 'gpu-pool'];
const MARKER = '.gpu-autoscaler-state';
const LOCK = '.gpu-autoscaler.lock';
/** The pid of a process that has ended: a lock it left is stale. */
const endedPid = spawnSync(process.execPath, ['-e', '']).pid;

interface Row {
  case: string;
  /** Files in the folder before, name -> content; undefined: no folder. */
  before?: Record<string, string>;
  keep?: boolean;
  /** Part of the refusal; undefined: accepted. */
  refused?: string;
  /** Names in the folder after, while it is claimed. */
  after: string[];
}

const rows: Row[] = [
  { case: 'a new folder', after: [LOCK, MARKER] },
  { case: 'an empty folder', before: {}, after: [LOCK, MARKER] },
  { case: 'its own folder: state files cleared', before: { [MARKER]: '', 'app.json': '{}', 'gone-target.json': '{}', 'app.json.tmp': '{' }, after: [LOCK, MARKER] },
  { case: 'its own folder with --keep-state', before: { [MARKER]: '', 'app.json': '{}' }, keep: true, after: [LOCK, MARKER, 'app.json'] },
  { case: "an earlier version's folder: the policy's state files, no marker", before: { 'app.json': '{}', 'gpu-pool.json': '{}' }, after: [LOCK, MARKER] },
  { case: 'its own folder with a lock an ended npm start left', before: { [MARKER]: '', [LOCK]: `${endedPid}\n`, 'app.json': '{}' }, after: [LOCK, MARKER] },
  { case: 'a folder with other files', before: { 'notes.txt': 'mine', 'app.json': '{}' }, refused: 'holds files npm start did not write (notes.txt)', after: ['app.json', 'notes.txt'] },
  { case: 'an unmarked folder with JSON that is no target of the policy', before: { 'package.json': '{}' }, refused: '(package.json)', after: ['package.json'] },
  { case: 'its own folder with another file in it', before: { [MARKER]: '', 'app.json': '{}', 'backup.tar': '' }, refused: '(backup.tar)', after: [MARKER, 'app.json', 'backup.tar'] },
  {
    case: 'the folder of a running npm start',
    before: { [MARKER]: '', [LOCK]: `${process.ppid}\n`, 'app.json': '{}' },
    refused: `is the state of another npm start (pid ${process.ppid})`,
    after: [LOCK, MARKER, 'app.json'],
  },
];

describe('Function: claimStateFolder', () => {
  it.each(rows)('$case', ({ before, keep = false, refused, after }) => {
    // Prepare
    const dir = join(mkdtempSync(join(tmpdir(), 'state-folder-')), 'state');
    if (before) {
      mkdirSync(dir);
      for (const [name, text] of Object.entries(before)) writeFileSync(join(dir, name), text);
    }

    // Act
    const claim = () => claimStateFolder(dir, { keep, targets: TARGETS });

    // Assess
    if (refused === undefined) {
      const release = claim();
      expect(readdirSync(dir).sort()).toEqual([...after].sort());
      expect(readFileSync(join(dir, LOCK), 'utf8')).toBe(`${process.pid}\n`);
      release();
      expect(readdirSync(dir)).not.toContain(LOCK);
    } else {
      expect(claim).toThrow(refused);
      expect(readdirSync(dir).sort()).toEqual([...after].sort());
    }
  });
});
