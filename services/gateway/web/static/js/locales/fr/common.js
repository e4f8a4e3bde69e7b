// shared pieces: ui.js, api.js, dom.js, people.js, in French. JSON inside `export default` (tests read it).
export default {};
