"""The analyst's pre/post evaluation on pseudonymised content; also the study file and the
released-content format, which custodians read when they release."""
