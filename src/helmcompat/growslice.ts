/**
 * Go's `append` capacity growth: runtime.growslice's nextslicecap and roundupsize
 * (runtime/slice.go, runtime/msize.go, the size classes of runtime/sizeclasses.go, with the
 * malloc header that Go 1.22+ adds to objects with pointers; Go 1.23 / 1.25 as in Helm 3.17.3 /
 * 4.1.4). encoding/json decodes a list into the slice already there, stale elements in its
 * spare capacity included, and Helm decodes requirements.yaml (or a repeated Chart.yaml) into
 * the Metadata an earlier file filled: the config blob can depend on that capacity.
 */

// Go runtime size classes (bytes), for append growth.
const SIZE_CLASSES = [
  0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896,
  1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288,
  13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
];

/** runtime.growslice capacity for one more element (pointerful element types). */
export function grownCap(oldCap: number, elemSize: number): number {
  const newLen = oldCap + 1;
  let newCap: number;
  if (newLen > 2 * oldCap) newCap = newLen;
  else if (oldCap < 256) newCap = 2 * oldCap;
  else {
    newCap = oldCap;
    while (newCap < newLen) newCap += (newCap + 3 * 256) >> 2;
  }
  const size = newCap * elemSize;
  let mem: number;
  if (size <= 32768 - 8) {
    const req = size > 512 ? size + 8 : size; // malloc header for objects with pointers
    mem = SIZE_CLASSES.find((c) => c >= req)! - (req - size);
  } else {
    mem = Math.ceil(size / 8192) * 8192;
  }
  return Math.floor(mem / elemSize);
}
