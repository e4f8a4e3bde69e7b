// shared pieces: ui.js, api.js, dom.js, people.js, in English. JSON inside `export default` (tests read it).
export default {};
