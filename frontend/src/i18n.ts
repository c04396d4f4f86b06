// Strings go through i18next's t() with the English text as the key: a
// language is added by a catalog (src/locales/<lang>.json) that maps the
// English to its translation; English needs none (en.json holds only
// wordings that differ from their key). React escapes what t() returns:
// no translation is ever inserted as HTML.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./locales/en.json";

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en } },
  lng: "en",
  fallbackLng: "en",
  keySeparator: false,
  nsSeparator: false,
  interpolation: { escapeValue: false },
  returnEmptyString: false,
});

export default i18n;
