"""Display names of the people a caller may know (`GET /me/people`).

Events carry no names (shared/events/types.py) and the other services hold only user ids; the gateway
owns the accounts. Who may know whom: admins and safeguarding officers any user; a mentee or mentor
only the people they are (or were) paired with, read from the pairing membership the inbox already
projects from `tandem.pairing` events (`pairing_members`)."""
