// a pairing, its sessions, notes, recordings and disputes (pages/pairings.js), in French. JSON inside `export default` (tests read it).
export default {};
