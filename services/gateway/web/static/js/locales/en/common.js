// shared pieces: ui.js, api.js, dom.js, people.js, in English. JSON inside `export default` (tests read it).
export default {
  "common.cancel": "Cancel",
  "common.totp.label": "Code from your authenticator app",
  "common.totp.invalid": "Enter the 6-digit code from your authenticator app.",
  "common.reason.mentor_not_vetted": "The mentor has not passed every vetting check yet.",
  "common.reason.agreements_not_accepted": "Both people must accept the current programme agreements first.",
  "common.reason.member_suspended": "One of the two accounts is suspended.",
  "common.reason.mentor_unknown": "This person is not (yet) known as a mentor. If you just invited them, wait until they have signed in once.",
  "common.reason.mentee_unknown": "This person is not (yet) known as a mentee. If you just invited them, wait until they have signed in once.",
  "common.problem.unknown": "Something went wrong. Please try again.",
  "common.problem.network": "We could not reach Tandem. Check your connection and try again.",
  "common.problem.sign_in_again": "Please sign in again.",
  "common.problem.csrf": "Your page was open too long. Please reload it and try again.",
  "common.problem.too_many": "Too many attempts in a short time. Please wait a minute and try again.",
  "common.problem.server": "Something went wrong on our side. Your data is safe; please try again in a moment.",
  "common.problem.forbidden": "You do not have access to this.",
  "common.problem.not_found": "We could not find that. It may have been removed.",
  "common.problem.conflict": "This changed in the meantime. Please reload and try again.",
  "common.problem.invalid": "That did not work. Please check what you entered and try again."
};
