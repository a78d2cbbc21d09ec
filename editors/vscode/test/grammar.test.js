// Tokenizes policy text with the TextMate grammar (vscode-textmate and vscode-oniguruma, the
// libraries VS Code uses) and checks the scopes of its tokens; every keyword of the lexer must
// be highlighted as a keyword.
"use strict";
const fs = require("fs");
const path = require("path");
const assert = require("assert");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.join(__dirname, "..");
const wasm = fs.readFileSync(path.join(root, "node_modules/vscode-oniguruma/release/onig.wasm"));

async function grammar() {
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => {
      const file = path.join(root, "syntaxes/rampart.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  return registry.loadGrammar("source.rampart");
}

/// Each token of `text` as [text, innermost scope], line by line.
function tokens(g, text) {
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of text.split("\n")) {
    const r = g.tokenizeLine(line, state);
    for (const t of r.tokens) {
      const s = line.slice(t.startIndex, t.endIndex);
      if (s.trim() !== "") out.push([s.trim(), t.scopes[t.scopes.length - 1]]);
    }
    state = r.ruleStack;
  }
  return out;
}

function scopeOf(toks, text) {
  const found = toks.find(([s]) => s === text);
  assert.ok(found, `no token \`${text}\` in ${JSON.stringify(toks)}`);
  return found[1];
}

async function main() {
  const g = await grammar();
  const sample = [
    "// The baseline checks.",
    "module pss.baseline",
    "import lib.pod as p",
    "fn over(v: quantity?, max: quantity) -> bool = (v ?? quantity(\"0\")) > max",
    "rule privileged {",
    "  title    \"Containers must not be # privileged\"",
    "  severity high",
    "  match Pod",
    "  deny for c in all_containers(object) # trailing",
    "    when p.privileged(c) and not any r in [1, 2.5]: r == null",
    "    message \"container `{c.name}` is \\\"privileged\\\"\"",
    "  warn when matches(c.image ?? \"\", r\"^[a-z]{2,8}$\") message \"m\"",
    "}",
  ].join("\n");
  const t = tokens(g, sample);
  assert.strictEqual(scopeOf(t, "// The baseline checks."), "comment.line.double-slash.rampart");
  assert.strictEqual(scopeOf(t, "# trailing"), "comment.line.number-sign.rampart");
  assert.strictEqual(scopeOf(t, "module"), "keyword.other.import.rampart");
  assert.strictEqual(scopeOf(t, "pss.baseline"), "entity.name.namespace.rampart");
  assert.strictEqual(scopeOf(t, "privileged"), "entity.name.type.rule.rampart");
  assert.strictEqual(scopeOf(t, "over"), "entity.name.function.rampart");
  assert.strictEqual(scopeOf(t, "title"), "entity.other.attribute-name.rampart");
  assert.strictEqual(scopeOf(t, "high"), "constant.language.severity.rampart");
  assert.strictEqual(scopeOf(t, "deny"), "keyword.control.outcome.rampart");
  assert.strictEqual(scopeOf(t, "all_containers"), "support.function.builtin.rampart");
  assert.strictEqual(scopeOf(t, "object"), "variable.language.object.rampart");
  assert.strictEqual(scopeOf(t, "and"), "keyword.operator.word.rampart");
  assert.strictEqual(scopeOf(t, "2.5"), "constant.numeric.rampart");
  assert.strictEqual(scopeOf(t, "null"), "constant.language.rampart");
  assert.strictEqual(scopeOf(t, "??"), "keyword.operator.rampart");
  assert.strictEqual(scopeOf(t, "r\"^[a-z]{2,8}$\""), "string.quoted.raw.rampart");
  // Text inside a string is not a comment; an interpolation is an expression.
  assert.strictEqual(scopeOf(t, "Containers must not be # privileged"), "string.quoted.double.rampart");
  assert.ok(t.some(([s, sc]) => s === "{" && sc === "punctuation.section.interpolation.begin.rampart"));
  assert.ok(t.some(([s, sc]) => s === "c" && sc === "variable.other.rampart"));
  assert.strictEqual(scopeOf(t, "\\\""), "constant.character.escape.rampart");
  const afterString = t.findIndex(([s]) => s === "message");
  assert.ok(afterString > 0);

  // Every keyword of the lexer is highlighted as one.
  const lexer = fs.readFileSync(path.join(root, "../../compiler/src/syntax/lexer.rs"), "utf8");
  const words = [...lexer.matchAll(/#\[token\("([a-z]+)"\)\]/g)].map((m) => m[1]);
  assert.ok(words.length >= 25, `only ${words.length} keywords found in the lexer`);
  for (const w of words) {
    const scope = scopeOf(tokens(g, `  x ${w} y`), w);
    assert.ok(
      /^(keyword|storage|constant\.language)\./.test(scope),
      `keyword \`${w}\` is highlighted as ${scope}`
    );
  }
  console.log(`grammar: ${t.length} tokens and ${words.length} keywords checked`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
