// raising and following a concern (pages/concerns.js), in English. JSON inside `export default` (tests read it).
export default {};
