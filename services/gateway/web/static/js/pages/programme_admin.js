// Admins' programme pages: check-ins, the evaluation survey, the agreement template (being built).
import { page, empty } from '../ui.js';

export async function checkinsAdminPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function surveyAdminPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function agreementTemplatePage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}
