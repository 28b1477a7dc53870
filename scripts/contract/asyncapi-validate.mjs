// Parses an AsyncAPI document with the official parser (@asyncapi/parser) and fails on
// any diagnostic of severity error. Warnings and hints are printed, not fatal: they are
// style advice (Spectral rules), not a document other tools would refuse.
//
//   node scripts/contract/asyncapi-validate.mjs docs/asyncapi.json
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
if (!path) {
  console.error('usage: asyncapi-validate.mjs <document>');
  process.exit(2);
}
const parser = new Parser();
const { document, diagnostics } = await parser.parse(await readFile(path, 'utf8'));
const names = { 0: 'error', 1: 'warning', 2: 'info', 3: 'hint' };
for (const d of diagnostics) {
  console.log(`${names[d.severity] ?? d.severity}: ${d.message} at ${d.path.join('.')}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
if (errors.length > 0 || document === undefined) {
  console.error(`${path}: ${errors.length} error(s): the AsyncAPI parser refuses it`);
  process.exit(1);
}
const messages = document.components().messages().length;
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ${messages} messages`);
