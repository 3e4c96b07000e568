import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/**
 * Debian's headless Chromium, installed with apt-get when missing (root only, as CI runs);
 * throws with what to do otherwise.
 */
export const ensureChromium = (): string => {
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error('Chromium is missing: apt-get install chromium (as root) to run this test');
  execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const installed = CANDIDATES.find((path) => existsSync(path));
  if (!installed) throw new Error('apt-get installed chromium but no binary is at /usr/bin/chromium');
  return installed;
};
