// the home page and notices (pages/home.js), in English. JSON inside `export default` (tests read it).
export default {};
