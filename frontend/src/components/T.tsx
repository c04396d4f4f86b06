import type { ReactElement } from "react";
import { Trans } from "react-i18next";

/**
 * A sentence with markup, translated: the English text is the key and the
 * default, <0>…</0> wrap the given components, {{name}} are values.
 */
export function T({ k, values, components }: { k: string; values?: Record<string, unknown>; components: ReactElement[] }) {
  return <Trans i18nKey={k} defaults={k} values={values} components={components} />;
}
