// A member's programme pages: profile and questionnaire, mentors and preferences, check-in, survey (being built).
import { page, empty } from '../ui.js';

export async function profilePage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function mentorsPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function checkinPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}

export async function surveyPage(ctx, main) {
  page(main, 'Coming soon');
  main.append(empty('This page is being built.'));
}
