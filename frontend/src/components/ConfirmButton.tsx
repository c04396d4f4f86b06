import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

interface Props {
  /** The button's text, e.g. "Delete". */
  children: ReactNode;
  /** The question asked before acting. */
  question: string;
  /** The confirming button's text, e.g. "Delete my account". */
  confirmLabel: string;
  onConfirm: () => void;
  disabled?: boolean;
  className?: string;
  /** An accessible name when children alone are ambiguous in a list. */
  "aria-label"?: string;
}

/**
 * A button for a destructive action: it opens a modal dialog that asks
 * first. Focus goes to "Cancel" (the safe choice); Escape cancels; focus
 * returns to the button afterwards, or to the page's heading when the
 * action removed the button.
 */
export function ConfirmButton({ children, question, confirmLabel, onConfirm, disabled, className, ...rest }: Props) {
  const [open, setOpen] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const { t } = useTranslation();

  useEffect(() => {
    const d = dialog.current;
    if (!open || !d) return;
    if (typeof d.showModal === "function") {
      if (!d.open) d.showModal();
    } else {
      d.setAttribute("open", "");
    }
    cancel.current?.focus();
  }, [open]);

  // When the action removes the button with its item (an approved
  // suggestion, an archived post), focus would fall to the page's body:
  // the page's heading takes it, so keyboard users keep their place.
  useEffect(() => {
    const button = opener.current;
    return () => {
      // By the time this runs the button may already be gone, and focus
      // with it (to the body).
      const active = document.activeElement;
      if (active !== button && active !== document.body && active !== null) return;
      setTimeout(() => {
        if (document.activeElement === document.body || document.activeElement === null) {
          document.querySelector<HTMLElement>("h1[tabindex]")?.focus();
        }
      }, 0);
    };
  }, []);

  const close = () => {
    const d = dialog.current;
    if (d?.open && typeof d.close === "function") d.close();
    setOpen(false);
    opener.current?.focus();
  };

  return (
    <>
      <button
        type="button"
        ref={opener}
        className={className ?? "danger"}
        disabled={disabled}
        aria-label={rest["aria-label"]}
        aria-haspopup="dialog"
        onClick={() => setOpen(true)}
      >
        {children}
      </button>
      {open && (
        <dialog
          ref={dialog}
          aria-labelledby={titleId}
          onCancel={(e) => {
            e.preventDefault();
            close();
          }}
        >
          <p id={titleId}>{question}</p>
          <div className="actions">
            <button type="button" ref={cancel} onClick={close}>
              {t("Cancel")}
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                close();
                onConfirm();
              }}
            >
              {confirmLabel}
            </button>
          </div>
        </dialog>
      )}
    </>
  );
}
