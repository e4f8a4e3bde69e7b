// Every part of the French catalogue (one file per area of the web app: a key lives in one).
import core from './fr/core.js';
import home from './fr/home.js';
import auth from './fr/auth.js';
import concerns from './fr/concerns.js';
import pairings from './fr/pairings.js';
import call from './fr/call.js';
import common from './fr/common.js';

export default { ...core, ...home, ...auth, ...concerns, ...pairings, ...call, ...common };
