import { useLayoutEffect, useRef, type ReactNode, type RefObject } from "react";

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
 * Names each body cell after its column (data-label), so on a narrow
 * screen, where a stacked table shows each row as a card, every value
 * keeps its label. It follows the rows as they change.
 */
function useColumnLabels(table: RefObject<HTMLTableElement | null>, columns: string[]) {
  const key = columns.join("\u0000");
  useLayoutEffect(() => {
    const el = table.current;
    if (!el) return;
    const label = () => {
      for (const row of Array.from(el.tBodies[0]?.rows ?? [])) {
        Array.from(row.cells).forEach((cell, i) => {
          const want = columns[i] ?? "";
          if (cell.dataset.label !== want) cell.dataset.label = want;
        });
      }
    };
    label();
    const watch = new MutationObserver(label);
    watch.observe(el, { childList: true, subtree: true });
    return () => watch.disconnect();
    // The columns are compared by their text (key), not their array.
  }, [key]);
}

/**
 * A table of rows with column headers, captioned for screen readers with
 * the same label as its scrolling frame; children are the body's rows. On
 * a narrow screen its rows stack as cards (CSS: table.stack).
 */
export function DataTable({ label, columns, children }: { label: string; columns: string[]; children: ReactNode }) {
  const table = useRef<HTMLTableElement>(null);
  useColumnLabels(table, columns);
  return (
    <Wide label={label}>
      <table className="stack" ref={table}>
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
