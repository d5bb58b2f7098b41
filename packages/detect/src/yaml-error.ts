import { yaml } from './yaml-lazy.ts';

/**
 * A YAML parse error as a user reads it. The yaml library's own text is for programmers in one
 * case: a file with a second document ('---' between rule lists, two files concatenated) ends
 * with "please use YAML.parseAllDocuments()", which the operator cannot do. That case says where
 * the second document starts and what to do; the others keep the library's message (what, where
 * and the source excerpt).
 */
export function yamlErrorMessage(err: unknown): string {
  if (err instanceof yaml().YAMLParseError && err.code === 'MULTIPLE_DOCS') {
    const line = err.linePos?.[0]?.line;
    return (
      `more than one YAML document (a second one starts${line !== undefined ? ` at line ${line}` : ''}, ` +
      `after a "---" or "..." line): the file must be one document; put everything in it`
    );
  }
  return (err as Error).message;
}
