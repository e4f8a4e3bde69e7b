// shared pieces: ui.js, api.js, dom.js, people.js, in French. JSON inside `export default` (tests read it).
export default {
  "common.cancel": "Annuler",
  "common.totp.label": "Code de votre application d’authentification",
  "common.totp.invalid": "Saisissez le code à 6 chiffres de votre application d’authentification.",
  "common.reason.mentor_not_vetted": "Le ou la mentor n’a pas encore passé toutes les vérifications.",
  "common.reason.agreements_not_accepted": "Les deux personnes doivent d’abord accepter les ententes en vigueur du programme.",
  "common.reason.member_suspended": "L’un des deux comptes est suspendu.",
  "common.reason.mentor_unknown": "Cette personne n’est pas (encore) connue comme mentor. Si vous venez de l’inviter, attendez qu’elle se soit connectée une première fois.",
  "common.reason.mentee_unknown": "Cette personne n’est pas (encore) connue comme mentoré·e. Si vous venez de l’inviter, attendez qu’elle se soit connectée une première fois.",
  "common.problem.unknown": "Un problème est survenu. Veuillez réessayer.",
  "common.problem.network": "Impossible de joindre Tandem. Vérifiez votre connexion et réessayez.",
  "common.problem.sign_in_again": "Veuillez vous reconnecter.",
  "common.problem.csrf": "Votre page est restée ouverte trop longtemps. Veuillez la recharger et réessayer.",
  "common.problem.too_many": "Trop de tentatives en peu de temps. Veuillez patienter une minute et réessayer.",
  "common.problem.server": "Un problème est survenu de notre côté. Vos données sont en sécurité ; veuillez réessayer dans un instant.",
  "common.problem.forbidden": "Vous n’avez pas accès à ceci.",
  "common.problem.not_found": "Élément introuvable. Il a peut-être été supprimé.",
  "common.problem.conflict": "Ceci a changé entre-temps. Veuillez recharger la page et réessayer.",
  "common.problem.invalid": "Cela n’a pas fonctionné. Vérifiez ce que vous avez saisi et réessayez."
};
