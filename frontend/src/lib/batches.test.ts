import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { inviteInBatches, parseEmails } from "./batches";

describe("parseEmails", () => {
  it("splits on lines, commas and semicolons, without duplicates", () => {
    expect(parseEmails(" a@x.example,\nb@x.example; a@x.example  c@x.example\n")).toEqual([
      "a@x.example",
      "b@x.example",
      "c@x.example",
    ]);
  });
});

describe("inviteInBatches", () => {
  it("sends batches, reports progress, and resends a refused batch without the named addresses", async () => {
    const emails = Array.from({ length: 7 }, (_, i) => `p${i}@acme.example`);
    emails[4] = "p4@gmail.com";
    const sent: string[][] = [];
    const progress: string[] = [];
    const r = await inviteInBatches(
      emails,
      async (batch) => {
        sent.push(batch);
        const bad = batch.findIndex((e) => e.endsWith("gmail.com"));
        if (bad >= 0)
          throw new ApiError(422, {
            code: "invalid_email_domain",
            detail: "some addresses cannot be invited",
            errors: [{ field: `emails[${bad}]`, message: "is not on a verified domain" }],
          });
      },
      (d, t) => progress.push(`${d}/${t}`),
      3,
    );
    expect(sent).toEqual([
      ["p0@acme.example", "p1@acme.example", "p2@acme.example"],
      ["p3@acme.example", "p4@gmail.com", "p5@acme.example"],
      ["p3@acme.example", "p5@acme.example"],
      ["p6@acme.example"],
    ]);
    expect(progress).toEqual(["0/7", "3/7", "6/7", "7/7"]);
    expect(r.invited).toHaveLength(6);
    expect(r.refused).toEqual([{ email: "p4@gmail.com", reason: "is not on a verified domain" }]);
  });
  it("gives up on a batch refused as a whole", async () => {
    const r = await inviteInBatches(
      ["a@acme.example"],
      async () => {
        throw new ApiError(403, { detail: "Verify the domain first." });
      },
      () => undefined,
    );
    expect(r.refused).toEqual([{ email: "a@acme.example", reason: "Verify the domain first." }]);
  });
});
