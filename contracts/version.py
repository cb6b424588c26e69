"""The version of the contract, also the version of the `framepipe-contracts` distribution. A literal, so the
distribution's build reads it without importing anything; `contracts.schema.CHANGELOG` must end with it (a test
checks)."""

CONTRACT_VERSION = "1.6.0"
