// Runs ONNX models in ONNX Runtime (its WebAssembly build) for test/onnx.test.ts. A child process
// of its own: onnxruntime-web loads its WebAssembly glue with a dynamic import(), which jest's
// module sandbox refuses. Reads a JSON list of { model, input, dims } (file paths; the input
// raw float32, little-endian), writes each output next to its input as `<input>.out` and prints
// the output shapes as JSON.
import { readFileSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';

ort.env.wasm.numThreads = 1;
const jobs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const shapes = [];
for (const job of jobs) {
  const session = await ort.InferenceSession.create(readFileSync(job.model));
  const bytes = readFileSync(job.input);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const result = await session.run({ input: new ort.Tensor('float32', data, job.dims) });
  const out = result.output;
  writeFileSync(`${job.input}.out`, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
  shapes.push(out.dims);
  await session.release();
}
process.stdout.write(JSON.stringify(shapes));
