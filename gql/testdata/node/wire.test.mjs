// The fixtures that claim to be "as aws-appsync sends it" really are: each equals what the
// editor's SDK puts on the wire for its document — Apollo's addTypenameToDocument (apollo-utilities,
// used by aws-appsync 4.1.10's InMemoryCache) followed by graphql's print().
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const { parse, print } = await import('graphql');
const { addTypenameToDocument } = await import('apollo-utilities');

const dir = new URL('../documents/', import.meta.url);
const read = (file) => readFileSync(new URL(file, dir), 'utf8');
const manifest = JSON.parse(read('manifest.json'));
const wire = (text) => print(addTypenameToDocument(parse(text)));

describe('wire-form fixtures', () => {
  const claimed = manifest.filter((d) => d.variantOf || d.file.startsWith('smtvm_'));
  it('there are wire-form fixtures of every fork version', () => {
    const versions = new Set(claimed.flatMap((d) => d.versions ?? []));
    assert.equal(versions.size, 19, 'the 19 versions of smt-vm gql-operations.js');
  });
  for (const d of claimed) {
    it(d.file, () => {
      const text = read(d.file);
      if (d.variantOf) {
        // Printed by another graphql version (line breaks in long argument lists differ); the
        // document itself must be the one Apollo sends for its base.
        assert.equal(print(parse(text)), wire(read(d.variantOf)), `the wire form of ${d.variantOf}`);
        return;
      }
      // The fork resolves graphql 14.7.0, as this project does: byte for byte what it sends.
      assert.equal(text, wire(text), 'exactly as Apollo prints it, __typename in every selection set');
    });
  }
});
