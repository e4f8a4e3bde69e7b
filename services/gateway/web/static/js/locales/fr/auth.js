// signing in, invitations, the programme agreements (pages/auth.js), in French. JSON inside `export default` (tests read it).
export default {};
