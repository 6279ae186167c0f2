//! `GET /api/v1/openapi.json` (stub, being written).
