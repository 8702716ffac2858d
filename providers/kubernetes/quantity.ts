/**
 * Kubernetes resource quantities (`1Gi`, `500m`, `64Mi`, `2`) to and from
 * numbers, so that what envtorch asked for and what the API server stored
 * (which may rewrite `1024Mi` as `1Gi`) compare by value.
 *
 * @module
 */

const SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** The value of a quantity (`1Gi` is 1073741824, `500m` is 0.5); NaN when malformed. */
export function parseQuantity(value: string | number | undefined): number {
  if (typeof value === "number") return value;
  if (value === undefined) return NaN;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?\s*$/.exec(value);
  if (!m) return NaN;
  return Number(m[1]) * SUFFIX[m[2] ?? ""]!;
}

/** Bytes as the shortest exact binary quantity: 1073741824 is `1Gi`, 1000 is `1000`. */
export function bytesQuantity(bytes: number): string {
  for (
    const [suffix, scale] of [["Ti", 1024 ** 4], ["Gi", 1024 ** 3], ["Mi", 1024 ** 2], [
      "Ki",
      1024,
    ]] as const
  ) {
    if (bytes % scale === 0) return `${bytes / scale}${suffix}`;
  }
  return String(Math.round(bytes));
}

/** CPUs as a quantity: 1 is `1`, 0.5 is `500m`. */
export function cpuQuantity(cpus: number): string {
  const milli = Math.round(cpus * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** A Docker-style size (`64m`, `2g`, bytes) in bytes. */
export function dockerSizeBytes(size: string): number {
  const m = /^\s*(\d+)\s*([bkmg]?)\s*$/i.exec(size);
  if (!m) throw new TypeError(`Invalid size ${JSON.stringify(size)}: expected e.g. 64m or 2g`);
  const scale = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * scale;
}
