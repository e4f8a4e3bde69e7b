// the call page (pages/call.js), in English. JSON inside `export default` (tests read it).
export default {};
