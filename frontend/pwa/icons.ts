// The app's icons, drawn at build time: the favicon's white arch on the
// accent colour, as PNG files for the web app manifest. Nothing is fetched
// and no image is committed; node:zlib is the only encoder needed.
import { crc32, deflateSync } from "node:zlib";

/** The accent colour of styles.css, also the manifest's theme colour. */
export const ACCENT = "#2f44c4";

export interface IconSpec {
  size: number;
  /** "any": a disc on a transparent square; "maskable": a full-bleed square
   * with the arch inside the central safe zone (a circle of 40% radius). */
  purpose: "any" | "maskable";
}

const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];

/** Coverage (0..1) of the shapes at a point of the unit square. */
function shapes(purpose: IconSpec["purpose"], x: number, y: number): { bg: boolean; fg: boolean } {
  const dx = x - 0.5;
  const dy = y - 0.5;
  const bg = purpose === "maskable" || dx * dx + dy * dy <= 0.5 * 0.5;
  // The arch: the upper half of a ring with round ends, scaled so that it
  // stays inside the safe zone of a maskable icon.
  const k = purpose === "maskable" ? 0.7 : 0.85;
  const ax = dx / k;
  const ay = (dy - 0.08 * k) / k;
  const r = 0.2;
  const w = 0.065;
  const d = Math.hypot(ax, ay);
  const ring = ay <= 0 && Math.abs(d - r) <= w;
  const cap = Math.hypot(Math.abs(ax) - r, ay) <= w;
  return { bg, fg: bg && (ring || cap) };
}

/** Draws one icon as RGBA pixels, 4×4 supersampled for smooth edges. */
export function drawIcon({ size, purpose }: IconSpec): Uint8Array {
  const [br, bgc, bb] = rgb(ACCENT);
  const px = new Uint8Array(size * size * 4);
  const n = 4;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let cover = 0;
      let white = 0;
      for (let sj = 0; sj < n; sj++) {
        for (let si = 0; si < n; si++) {
          const s = shapes(purpose, (i + (si + 0.5) / n) / size, (j + (sj + 0.5) / n) / size);
          if (s.bg) cover++;
          if (s.fg) white++;
        }
      }
      const o = (j * size + i) * 4;
      const a = cover / (n * n);
      const f = cover ? white / cover : 0;
      px[o] = Math.round(br + (255 - br) * f);
      px[o + 1] = Math.round(bgc + (255 - bgc) * f);
      px[o + 2] = Math.round(bb + (255 - bb) * f);
      px[o + 3] = Math.round(255 * a);
    }
  }
  return px;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes RGBA pixels as a PNG file (8-bit truecolour with alpha). */
export function encodePNG(size: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // no filter
    raw.set(rgba.subarray(y * size * 4, (y + 1) * size * 4), y * (size * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", new Uint8Array()),
  ]);
}

/** The icons the manifest names, by file name under dist/. */
export const ICONS: Record<string, IconSpec> = {
  "icons/icon-192.png": { size: 192, purpose: "any" },
  "icons/icon-512.png": { size: 512, purpose: "any" },
  "icons/maskable-192.png": { size: 192, purpose: "maskable" },
  "icons/maskable-512.png": { size: 512, purpose: "maskable" },
  // iOS rounds the corners itself and ignores the manifest's icons.
  "icons/apple-touch-icon.png": { size: 180, purpose: "maskable" },
};
