// Every part of the English catalogue (one file per area of the web app: a key lives in one).
import core from './en/core.js';
import home from './en/home.js';
import auth from './en/auth.js';
import concerns from './en/concerns.js';
import pairings from './en/pairings.js';
import call from './en/call.js';
import common from './en/common.js';

export default { ...core, ...home, ...auth, ...concerns, ...pairings, ...call, ...common };
