// Starts `rampart lsp` for .rp files. The executable is the `rampart.path` setting
// (default: `rampart` on the PATH).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("rampart").get("path") || "rampart";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "rampart",
    "Rampart",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "rampart" }] }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
