"""Who may be assigned a case: a projection of the gateway's users (group "reports" on tandem.user)."""
