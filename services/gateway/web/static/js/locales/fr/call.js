// the call page (pages/call.js), in French. JSON inside `export default` (tests read it).
export default {};
