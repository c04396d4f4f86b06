import type { FieldError as RHFFieldError } from "react-hook-form";

/**
 * A form field's validation message, announced when it appears. Give the
 * field aria-describedby={id} and aria-invalid so it is read with it.
 */
export function FieldError({ id, error }: { id: string; error?: RHFFieldError }) {
  if (!error?.message) return null;
  return (
    <p id={id} className="field-error" role="alert">
      {error.message}
    </p>
  );
}

/** The aria attributes tying a field to its FieldError. */
export function invalidProps(id: string, error?: RHFFieldError) {
  return error ? { "aria-invalid": true as const, "aria-describedby": id } : {};
}
