"""The custodian's release and the analyst's pre/post evaluation on the pseudonymised join."""
