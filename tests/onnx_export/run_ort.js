// Runs exported models with onnxruntime-node (the CPU execution provider).
// usage: node run_ort.js JOBS.json
// JOBS.json: [{"model": path, "input": raw float32 file, "shape": [n,c,h,w],
//              "output": path for the raw float32 result}, ...]
// Each model must have one input "input" and one output; its name and dims
// are printed, one line per job. Any failure exits 1 with the reason.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function runJob(job) {
  const session = await ort.InferenceSession.create(job.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
  });
  if (session.inputNames.length !== 1 || session.inputNames[0] !== 'input')
    throw new Error(`${job.model}: inputs ${JSON.stringify(session.inputNames)}, expected ["input"]`);
  if (session.outputNames.length !== 1)
    throw new Error(`${job.model}: outputs ${JSON.stringify(session.outputNames)}, expected one`);
  const buf = fs.readFileSync(job.input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const want = job.shape.reduce((a, b) => a * b, 1);
  if (data.length !== want)
    throw new Error(`${job.input}: ${data.length} floats, shape ${job.shape} needs ${want}`);
  const feeds = { input: new ort.Tensor('float32', data, job.shape) };
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  fs.writeFileSync(job.output, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  console.log(`${job.model}: ${session.outputNames[0]} [${out.dims.join(',')}]`);
}

(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const job of jobs)
    await runJob(job);
})().catch((e) => {
  console.error(`run_ort.js: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
