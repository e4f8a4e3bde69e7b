// Display names from the gateway (`GET /me/people`): only people the caller may know (admins and
// safeguarding: anyone; members: the people they are paired with). Other ids stay unnamed.
import { get } from './api.js';

const known = new Map();

/** Look up names for `ids` (names found are cached until sign-out; a partner the gateway has not
 * learnt about yet is asked for again next time); never fails: unnamed ids are simply absent. */
export async function loadNames(ids) {
  const wanted = [...new Set(ids.filter((id) => id && !known.has(id)))];
  for (let i = 0; i < wanted.length; i += 100) {
    const chunk = wanted.slice(i, i + 100);
    const query = chunk.map((id) => `id=${encodeURIComponent(id)}`).join('&');
    try {
      const out = await get(`/me/people?${query}`);
      for (const p of out.people) known.set(p.id, p.display_name);
    } catch { /* names are a courtesy: pages still work with roles and short ids */ }
  }
  return (id) => known.get(id) || null;
}

export function forgetNames() {
  known.clear();
}
