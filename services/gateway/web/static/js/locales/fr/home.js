// the home page and notices (pages/home.js), in French. JSON inside `export default` (tests read it).
export default {};
