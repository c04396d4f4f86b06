// Share-text lengths as each network counts them; the same rules as the
// server's content/sharetext.go, which has the last word when saving.
//   X:        280 weighted characters; any URL counts 23; code points outside
//             the Latin/General-Punctuation ranges and emoji count 2; the
//             link is appended after a blank line and costs 25 (2 and 23;
//             23 alone after an empty text), as content.AppendLink sends it.
//   Mastodon: 500 characters; any URL counts 23; the link costs 25.
//   Bluesky:  300 graphemes (the link travels as a card).
//   LinkedIn: 3000 characters. Facebook: 63206 characters.

export type Network = "x" | "mastodon" | "bluesky" | "linkedin" | "facebook";

export interface NetworkLimit {
  network: Network;
  label: string;
  max: number;
  /** What the appended link costs after a text, separator included. */
  link: number;
  unit: string;
  count: (text: string) => number;
}

export const URL_WEIGHT = 23;
// Go's RE2 \s is [\t\n\f\r ]; JavaScript's is wider, so spell it out.
const URL_PATTERN = /https?:\/\/[^\t\n\f\r ]+/g;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

export function graphemes(s: string): string[] {
  return Array.from(segmenter.segment(s), (g) => g.segment);
}

export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line @typescript-eslint/no-unused-vars
  return n;
}

function withURLsWeighed(s: string): string {
  return s.replace(URL_PATTERN, "x".repeat(URL_WEIGHT));
}

function xWeight(cp: number): number {
  if (cp <= 4351 || (cp >= 8192 && cp <= 8205) || (cp >= 8208 && cp <= 8223) || (cp >= 8242 && cp <= 8247)) return 1;
  return 2;
}

function isEmoji(cluster: string): boolean {
  const cp = cluster.codePointAt(0) ?? 0;
  return cp >= 0x1f000 || (cp >= 0x2600 && cp <= 0x27bf) || cluster.includes("\ufe0f");
}

/** twitter-text's weighted length (configuration v3), URLs as 23. */
export function xLength(s: string): number {
  let n = 0;
  for (const cluster of graphemes(withURLsWeighed(s))) {
    if (isEmoji(cluster)) {
      n += 2;
      continue;
    }
    for (const ch of cluster) n += xWeight(ch.codePointAt(0) ?? 0);
  }
  return n;
}

export function mastodonLength(s: string): number {
  return codePoints(withURLsWeighed(s));
}

export function blueskyLength(s: string): number {
  return graphemes(s).length;
}

export const NETWORKS: readonly NetworkLimit[] = [
  { network: "x", label: "X", max: 280, link: 2 + URL_WEIGHT, unit: "weighted characters", count: xLength },
  { network: "mastodon", label: "Mastodon", max: 500, link: 2 + URL_WEIGHT, unit: "characters", count: mastodonLength },
  { network: "bluesky", label: "Bluesky", max: 300, link: 0, unit: "graphemes", count: blueskyLength },
  { network: "linkedin", label: "LinkedIn", max: 3000, link: 0, unit: "characters", count: codePoints },
  { network: "facebook", label: "Facebook", max: 63206, link: 0, unit: "characters", count: codePoints },
];

export interface Usage {
  used: number;
  max: number;
  remaining: number;
  over: boolean;
}

/** What a share text uses of a network's limit, the link included. */
export function usage(limit: NetworkLimit, text: string): Usage {
  const trimmed = text.trim();
  // After an empty text the link goes alone, without the blank line.
  const link = limit.link > 0 && trimmed === "" ? URL_WEIGHT : limit.link;
  const used = limit.count(trimmed) + link;
  return { used, max: limit.max, remaining: limit.max - used, over: used > limit.max };
}
