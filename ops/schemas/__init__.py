"""The event contract described for integrators, generated from the models in contracts/ (which stays pure data,
for the `framepipe-contracts` wheel): JSON Schemas, the AsyncAPI document, the HTML page, the versioning rules and
changelog they state, the `framepipe schemas` command that writes and checks them, and the wheel's build."""
