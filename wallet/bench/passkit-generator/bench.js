// Builds and signs the same .pkpass as Lintel's Go wallet package, with
// passkit-generator, N times on one thread, and prints passes per second.
// Kept out of CI (go test never runs it). See docs/wallet.md, or just:
//
//   ./run.sh            # exports the fixtures, runs both sides, prints the ratio
//   node bench.js [fixturesDir] [N]
//
// The fixtures (certificates, key, pass.json, images) come from
// `go test ./wallet -run TestExportBenchFixtures` with
// LINTEL_WALLET_BENCH_FIXTURES=<dir>.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { PKPass } = require("passkit-generator");

const dir = path.resolve(process.argv[2] || path.join(__dirname, "fixtures"));
const n = Number.parseInt(process.argv[3] || "200", 10);
const warmup = Math.min(20, n);

const certificates = {
	wwdr: fs.readFileSync(path.join(dir, "wwdr.pem")),
	signerCert: fs.readFileSync(path.join(dir, "signerCert.pem")),
	signerKey: fs.readFileSync(path.join(dir, "signerKey.pem")),
};
const modelDir = path.join(dir, "model");
const model = {};
for (const name of fs.readdirSync(modelDir)) {
	model[name] = fs.readFileSync(path.join(modelDir, name));
}
const serialNumber = JSON.parse(model["pass.json"]).serialNumber;
const version = JSON.parse(
	fs.readFileSync(path.join(__dirname, "node_modules", "passkit-generator", "package.json")),
).version;

// One pass per iteration, as a server would make one per request: a new
// PKPass from the model buffers (its documented per-pass path), the
// per-pass key set, then the signed zip.
function build() {
	const pass = new PKPass(model, certificates, { serialNumber });
	return pass.getAsBuffer();
}

let out;
for (let i = 0; i < warmup; i++) {
	out = build();
}
fs.writeFileSync(path.join(dir, "passkit-generator.pkpass"), out);

const start = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
	out = build();
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const rate = n / seconds;
console.log(
	`passkit-generator ${version} on node ${process.version}: ` +
		`${n} passes in ${seconds.toFixed(2)} s = ${rate.toFixed(1)} passes/s (${((seconds / n) * 1000).toFixed(2)} ms/pass, ${out.length} bytes)`,
);
console.log(`passkit_generator_passes_per_second ${rate.toFixed(2)}`);
