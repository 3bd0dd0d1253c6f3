"""The encoding audit: the published attacks run on a package, as the TTP (or a custodian on
its own package) could run them, reported as rates and evidence, never as values."""
