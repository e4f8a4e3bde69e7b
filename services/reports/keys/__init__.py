"""Key-encryption key rotation for the reports keyring: rewrap every data key, then retire."""
