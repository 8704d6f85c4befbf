// MD5 of a File, read in 2 MiB slices: the page never holds a whole file, nor waits for one.
/* global SparkMD5 */
importScripts("/static/vendor/spark-md5/spark-md5.min.js");

const SLICE = 2 * 1024 * 1024;

self.onmessage = async (event) => {
  const { id, file } = event.data;
  try {
    const md5 = new SparkMD5.ArrayBuffer();
    for (let offset = 0; offset < file.size; offset += SLICE) {
      md5.append(await file.slice(offset, offset + SLICE).arrayBuffer());
      self.postMessage({ id, done: Math.min(offset + SLICE, file.size) });
    }
    self.postMessage({ id, hash: md5.end() });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
