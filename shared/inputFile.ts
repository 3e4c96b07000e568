import { readFileSync } from 'node:fs';

/**
 * A file the user names on the command line (a policy, a timeline, a webhook log), read as
 * text; one that cannot be read becomes the caller's own error, saying why in its terms.
 */
export const readInputFile = (path: string, failed: (problems: string[]) => Error): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw failed([`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
};
