// A small pool of MD5 workers: hash(file, onProgress) -> hex MD5, computed off the main thread.
// Two workers: one file hashes while the other's last slice is read (I/O and CPU overlap).
const POOL = 2;
let workers = [];
let next = 0;
let counter = 0;
const waiting = new Map();

function pool() {
  if (!workers.length) {
    workers = Array.from({ length: POOL }, () => {
      const worker = new Worker("/static/md5-worker.js");
      worker.onmessage = ({ data }) => {
        const job = waiting.get(data.id);
        if (!job) return;
        if (data.hash) {
          waiting.delete(data.id);
          job.resolve(data.hash);
        } else if (data.error) {
          waiting.delete(data.id);
          job.reject(new Error(`The file cannot be read: ${data.error}`));
        } else if (job.onProgress) {
          job.onProgress(data.done);
        }
      };
      return worker;
    });
  }
  return workers;
}

/** The hex MD5 of a File or Blob, computed in a Web Worker. */
export function md5(file, onProgress) {
  const id = ++counter;
  const all = pool();
  const worker = all[next++ % all.length];
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject, onProgress });
    worker.postMessage({ id, file });
  });
}
