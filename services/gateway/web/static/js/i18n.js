// The web app's words in the person's language (issue 17): `t('key', { name })` reads the catalogue of
// the current language (locales/en.js, locales/fr.js); `tn` picks the plural form by the language's rules.
// The language is the person's choice (PUT /me/language, on the account page), else the browser's.
// tests/gateway/test_web_catalogue.py fails on a key missing from either catalogue, a key nothing uses, or
// a translation whose {placeholders} differ from the English.
import en from './locales/en.js';
import fr from './locales/fr.js';
import { setLocale } from './dom.js';

export const LANGUAGES = { en: 'English', fr: 'Français' };
const CATALOGUES = { en, fr };
let current = 'en';

/** The first of the browser's preferred languages Tandem speaks, else English. */
export function browserLanguage() {
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const base = String(tag || '').slice(0, 2).toLowerCase();
    if (base in CATALOGUES) return base;
  }
  return 'en';
}

export function setLanguage(lang) {
  current = lang in CATALOGUES ? lang : 'en';
  document.documentElement.lang = current;
  setLocale(current);
}

export function language() {
  return current;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function t(key, params = {}) {
  const text = CATALOGUES[current][key] ?? CATALOGUES.en[key];
  return text === undefined ? key : fill(text, params);
}

/** `key.one` / `key.other` (and the language's other plural categories) for `n`; `{n}` is filled in. */
export function tn(key, n, params = {}) {
  const form = new Intl.PluralRules(current).select(n);
  const forms = CATALOGUES[current];
  const text = forms[`${key}.${form}`] ?? forms[`${key}.other`] ?? CATALOGUES.en[`${key}.other`];
  return text === undefined ? key : fill(text, { n, ...params });
}
