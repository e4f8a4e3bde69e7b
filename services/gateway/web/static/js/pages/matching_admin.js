// Admins' matching pages: questionnaire, weights, suggestions and rounds (being built).
import { page, empty } from '../ui.js';

export async function matchingPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function roundPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function questionnaireAdminPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}
