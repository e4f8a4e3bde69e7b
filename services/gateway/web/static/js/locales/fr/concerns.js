// raising and following a concern (pages/concerns.js), in French. JSON inside `export default` (tests read it).
export default {};
