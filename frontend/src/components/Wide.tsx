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
