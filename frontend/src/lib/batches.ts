import { ApiError } from "../api/client";

/** Splits addresses typed one per line or separated by commas or semicolons. */
export function parseEmails(s: string): string[] {
  return [...new Set(s.split(/[\s,;]+/).map((e) => e.trim()).filter(Boolean))];
}

export function chunks<T>(xs: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** The indexes a validation problem names as emails[i]. */
export function rejectedIndexes(e: unknown): number[] {
  if (!(e instanceof ApiError)) return [];
  return (e.problem?.errors ?? [])
    .map((f) => /^emails\[(\d+)\]$/.exec(f.field)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number);
}

export interface BatchResult {
  invited: string[];
  refused: { email: string; reason: string }[];
}

/**
 * Invites in batches, reporting progress after each. A batch the server
 * refuses for some addresses (all or nothing) is sent again without them.
 */
export async function inviteInBatches(
  emails: string[],
  send: (batch: string[]) => Promise<unknown>,
  progress: (done: number, total: number) => void,
  size = 25,
): Promise<BatchResult> {
  const res: BatchResult = { invited: [], refused: [] };
  let done = 0;
  progress(0, emails.length);
  for (const batch of chunks(emails, size)) {
    let rest = batch;
    while (rest.length > 0) {
      try {
        await send(rest);
        res.invited.push(...rest);
        break;
      } catch (e) {
        const bad = rejectedIndexes(e);
        if (bad.length === 0) {
          const reason = e instanceof Error ? e.message : "not invited";
          res.refused.push(...rest.map((email) => ({ email, reason })));
          break;
        }
        const fields = e instanceof ApiError ? (e.problem?.errors ?? []) : [];
        for (const i of bad) {
          const reason = fields.find((f) => f.field === `emails[${i}]`)?.message ?? "cannot be invited";
          if (rest[i] !== undefined) res.refused.push({ email: rest[i]!, reason });
        }
        rest = rest.filter((_, i) => !bad.includes(i));
      }
    }
    done += batch.length;
    progress(done, emails.length);
  }
  return res;
}
