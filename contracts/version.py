"""The version of the contract, also the version of the `framepipe-contracts` distribution. A literal, so the
distribution's build reads it without importing anything; the changelog (`ops.schemas.changelog.CHANGELOG`) must
end with it (a test checks)."""

CONTRACT_VERSION = "1.7.0"
