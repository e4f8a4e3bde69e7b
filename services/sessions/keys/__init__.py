"""Key-encryption key rotation for the sessions keyring (sealed agendas): rewrap, then retire."""
