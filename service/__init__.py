"""`pprl serve`: the TTP as a linkage service that custodians and analysts use over HTTP."""
