"""Evidence bundles: a folder of collected files, a SHA-256 manifest, a chain-of-custody record,
packed to ``.tar.gz``, kept locally and/or stored in S3, and verifiable later."""
