// A pairing's mentoring agreement and a member's private reflection (being built).
import { page, empty } from '../ui.js';

export async function agreementPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function reflectionPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

/** The term of an active pairing on its page: when it ends, and an extension both must accept. */
export function termSection(ctx, pairing, reload) {
  return null;
}
