import type { ReactNode } from "react";

/**
 * A wide table's frame: on a narrow screen it scrolls sideways, and as a
 * named, focusable region keyboard users can scroll it too.
 */
export function Wide({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="wide" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * A table of rows with column headers, captioned for screen readers with
 * the same label as its scrolling frame; children are the body's rows.
 */
export function DataTable({ label, columns, children }: { label: string; columns: string[]; children: ReactNode }) {
  return (
    <Wide label={label}>
      <table>
        <caption className="sr-only">{label}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </Wide>
  );
}
